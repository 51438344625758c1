//! The 35 `btf__dedup` cases of `../shared/suites/dedup_cases.json` (libbpf's
//! own selftests): our output must be byte-identical to libbpf 1.1's, run on
//! the same input by the harness, and its strings must be those the case
//! file recorded for libbpf 1.1.2.

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

#[test]
fn dedup_cases_match_libbpf() {
    let Some(shared) = shared_dir() else { return };
    let text = std::fs::read_to_string(shared.join("suites/dedup_cases.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 35);
    let have_libbpf = harness().is_some();
    let mut failures = Vec::new();
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
        // The strings libbpf 1.1.2 gave, as recorded in the case file.
        let rec = &c["libbpf_check"]["libbpf-1.1.2-debian"];
        if let (Ok(out), Some(strs)) = (&ours, rec["output_strings"].as_array()) {
            let want: Vec<String> = strs
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            if strings_of(out) != want {
                failures.push(format!(
                    "#{i} {name}: strings {:?} != recorded {want:?}",
                    strings_of(out)
                ));
            }
        }
        if !have_libbpf {
            if let Err(e) = &ours {
                failures.push(format!("#{i} {name}: our dedup failed: {e}"));
            }
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
    eprintln!("compared with libbpf: {have_libbpf}");
    assert!(
        failures.is_empty(),
        "{} of 35 cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
