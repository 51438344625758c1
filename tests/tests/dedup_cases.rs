//! The 35 `btf__dedup` cases of `../shared/suites/dedup_cases.json` (libbpf's
//! own selftests): our output must be byte-identical to libbpf 1.1's, run on
//! the same input by the harness, and always equal to the full output the
//! case file recorded for libbpf 1.1.2 (every type, as the selftests' raw
//! dump, and the strings in order). Without the harness (no cc or
//! libbpf-dev) only the recorded output is compared; under `CI=true` the
//! harness is required.

mod dedup_support;

use std::sync::Arc;

use btfkit_tests::shared_dir;
use dedup_support::*;
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn u(v: &Value) -> u32 {
    v.as_i64().map(|x| x as u32).unwrap_or(0)
}

/// Encodes decoded types (the case file's `types`) as raw words.
fn encode(types: &[Value]) -> Vec<u32> {
    let mut w = Vec::new();
    for t in types {
        let kind = t["kind"].as_str().unwrap();
        w.push(u(&t["name_off"]));
        w.push(u(&t["info"]));
        let sot = if t.get("size").is_some() {
            u(&t["size"])
        } else if t.get("type").is_some() {
            u(&t["type"])
        } else {
            0
        };
        w.push(sot);
        match kind {
            "INT" => w.push(u(&t["int_data"])),
            "STRUCT" | "UNION" => {
                for m in t["members"].as_array().unwrap() {
                    w.extend([u(&m["name_off"]), u(&m["type"]), u(&m["offset_word"])]);
                }
            }
            "PTR" | "FWD" | "TYPEDEF" | "CONST" | "VOLATILE" | "RESTRICT" => {}
            k => panic!("base kind {k} not handled by the test encoder"),
        }
    }
    w
}

/// Our raw dump (bpftool's format) cut into one string per type, `[N] KIND
/// ...` with its tab-indented lines, in the selftests' format the case file
/// records. The two differ in two places only: bpftool suffixes ENUM64
/// values with `ULL`/`LL`, and names the variable of each DATASEC entry
/// (` (VAR 'x')`); both are removed.
fn records(dump: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in String::from_utf8_lossy(dump).lines() {
        match out.last_mut() {
            Some(last) if line.starts_with('\t') => {
                let kind = last.split(' ').nth(1).unwrap_or("");
                let line = match kind {
                    "ENUM64" => line
                        .strip_suffix("ULL")
                        .or_else(|| line.strip_suffix("LL"))
                        .unwrap_or(line),
                    "DATASEC" => line.split(" (").next().unwrap_or(line),
                    _ => line,
                };
                last.push('\n');
                last.push_str(line);
            }
            _ => out.push(line.to_string()),
        }
    }
    out
}

/// Every type of `out` (base types first, for split BTF) as raw-dump records.
fn dump_records(out: &[u8], base: Option<&Arc<btf::Btf>>) -> Result<Vec<String>, String> {
    let btf = match base {
        Some(b) => btf::Btf::parse_split(out, b.clone()),
        None => btf::Btf::parse(out),
    }
    .map_err(|e| format!("our output does not parse: {e}"))?;
    let mut text = Vec::new();
    if let Some(b) = base {
        btf_dump::raw::dump(b, &mut text).map_err(|e| e.to_string())?;
    }
    btf_dump::raw::dump(&btf, &mut text).map_err(|e| e.to_string())?;
    Ok(records(&text))
}

/// The full output libbpf 1.1.2 gave, as recorded: the raw dump of every
/// type (for split cases, the case's expectation, which libbpf 1.1.2 was
/// recorded to match), and the strings when recorded.
fn recorded(c: &Value) -> (Vec<String>, Option<Vec<String>>) {
    let rec = &c["libbpf_check"]["libbpf-1.1.2-debian"];
    let strs = |v: &Value| {
        v.as_array().map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
    };
    let dump = match rec.get("output_raw_dump") {
        Some(d) => d,
        None => {
            assert_eq!(rec["raw_dump_compare"], "pass", "no recorded output");
            &c["expect"]["raw_dump"]
        }
    };
    (
        strs(dump).expect("recorded raw dump"),
        strs(&rec["output_strings"]),
    )
}

#[test]
fn dedup_cases_match_libbpf() {
    let Some(shared) = shared_dir() else { return };
    let text = std::fs::read_to_string(shared.join("suites/dedup_cases.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 35);
    // `harness()` fails the test under CI=true when it cannot be built.
    let have_libbpf = harness().is_some();
    let mut failures = Vec::new();
    let mut recorded_compared = 0;
    for (i, c) in cases.iter().enumerate() {
        let name = c["name"].as_str().unwrap();
        let input = &c["input"];
        let force = c["options"]["force_collisions"].as_bool().unwrap_or(false);
        let words: Vec<u32> = input["raw_words"]
            .as_array()
            .unwrap()
            .iter()
            .map(u)
            .collect();
        let raw = blob(&words, &hex(input["str_sec_hex"].as_str().unwrap()));
        let base_raw = input.get("base").filter(|b| !b.is_null()).map(|b| {
            blob(
                &encode(b["types"].as_array().unwrap()),
                &hex(b["str_sec_hex"].as_str().unwrap()),
            )
        });
        let base = base_raw
            .as_ref()
            .map(|b| Arc::new(btf::Btf::parse(b).expect("base parses")));
        let opts = btf_dedup::Options {
            force_collisions: force,
        };
        let ours = btf_dedup::dedup_raw(&raw, base.as_deref(), &opts);
        // The full output libbpf 1.1.2 gave, as recorded in the case file:
        // compared whether or not the harness runs libbpf here.
        let (want_types, want_strings) = recorded(c);
        match &ours {
            Err(e) => failures.push(format!("#{i} {name}: our dedup failed: {e}")),
            Ok(out) => {
                match dump_records(out, base.as_ref()) {
                    Ok(got) if got == want_types => {}
                    Ok(got) => failures.push(format!(
                        "#{i} {name}: types differ from the recorded output\n ours:     {got:?}\n recorded: {want_types:?}"
                    )),
                    Err(e) => failures.push(format!("#{i} {name}: {e}")),
                }
                if let Some(want) = want_strings {
                    if strings_of(out) != want {
                        failures.push(format!(
                            "#{i} {name}: strings {:?} != recorded {want:?}",
                            strings_of(out)
                        ));
                    }
                }
                recorded_compared += 1;
            }
        }
        if !have_libbpf {
            continue;
        }
        let inp = scratch_file(&raw);
        let libbpf = match &base_raw {
            Some(b) => {
                let bp = scratch_file(b);
                let r = run_harness(&[&bp, &inp], "dedup-split", force);
                let _ = std::fs::remove_file(bp);
                r
            }
            None => run_harness(&[&inp], "dedup", force),
        };
        let _ = std::fs::remove_file(inp);
        match (&ours, &libbpf) {
            (Ok(a), Ok(b)) if a == b => {}
            (Ok(a), Ok(b)) => failures.push(format!(
                "#{i} {name}: output differs from libbpf ({} vs {} bytes)\n ours:   {a:02x?}\n libbpf: {b:02x?}",
                a.len(),
                b.len()
            )),
            (Err(e), Ok(_)) => failures.push(format!("#{i} {name}: we fail ({e}), libbpf succeeds")),
            (Ok(_), Err(e)) => failures.push(format!("#{i} {name}: libbpf fails ({e}), we succeed")),
            (Err(_), Err(_)) => {}
        }
    }
    eprintln!(
        "compared with libbpf: {have_libbpf}; with the recorded output: {recorded_compared} of 35"
    );
    assert!(
        failures.is_empty(),
        "{} of 35 cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
