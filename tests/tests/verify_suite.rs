//! The 167 raw BTF loader cases of the 6.1 selftests
//! (`../shared/suites/raw_cases.json`), offline: our verdict must equal the
//! running kernel's recorded verdict (`raw_cases.validation_kernel.json`),
//! our message must contain the expected `err_str` and equal the kernel's
//! last log line, and the map cases must fail or pass map creation as the
//! kernel did.

use btf::verify::{check_map_kv, verify_raw, verify_raw_with, MapSpec, MapType, Rules};
use btfkit_tests::shared_dir;
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn load(name: &str) -> Option<Value> {
    let dir = shared_dir()?;
    let text = std::fs::read_to_string(dir.join("suites").join(name)).expect("read suite");
    Some(serde_json::from_str(&text).expect("json"))
}

struct Case {
    index: u64,
    name: String,
    blob: Vec<u8>,
    expect_load: bool,
    err_str: Option<String>,
    map: Option<Value>,
    kernel_loads: bool,
    kernel_last: Option<String>,
    kernel_map: Option<String>,
}

fn cases() -> Option<Vec<Case>> {
    let suite = load("raw_cases.json")?;
    let kern = load("raw_cases.validation_kernel.json")?;
    let results = kern["results"].as_array().expect("results");
    let mut out = Vec::new();
    for (c, r) in suite["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .zip(results)
    {
        assert_eq!(c["index"], r["index"]);
        let expect_load = c["expect"]["btf_load"] == "success";
        let ok = r["ok"].as_bool().expect("ok");
        let map = &c["expect"]["map"];
        // `ok` covers map creation too; only the BTF verdict flips on a mismatch
        // of a case whose map was not involved.
        let kernel_loads = if ok { expect_load } else { !expect_load };
        out.push(Case {
            index: c["index"].as_u64().expect("index"),
            name: c["name"].as_str().unwrap_or("").to_string(),
            blob: hex(c["raw_btf_hex"].as_str().expect("hex")),
            expect_load,
            err_str: c["expect"]["err_str"].as_str().map(str::to_string),
            map: (!map.is_null()).then(|| map.clone()),
            kernel_loads,
            kernel_last: r["log_last_line"].as_str().map(str::to_string),
            kernel_map: r["map"].as_str().map(str::to_string),
        });
    }
    assert_eq!(out.len(), 167);
    Some(out)
}

#[test]
fn verdicts_match_the_running_kernel() {
    let Some(cases) = cases() else { return };
    let mut bad = Vec::new();
    for c in &cases {
        let got = verify_raw(&c.blob, None);
        if got.is_ok() != c.kernel_loads {
            bad.push(format!(
                "#{} {}: kernel loads={}, we: {:?}",
                c.index, c.name, c.kernel_loads, got
            ));
            continue;
        }
        if let Err(rej) = &got {
            if let Some(e) = &c.err_str {
                if !rej.message.contains(e.as_str()) {
                    bad.push(format!(
                        "#{} {}: message {:?} lacks {:?}",
                        c.index, c.name, rej.message, e
                    ));
                }
            }
            if let Some(k) = &c.kernel_last {
                if &rej.message != k {
                    bad.push(format!(
                        "#{} {}: message {:?}, kernel's last line {:?}",
                        c.index, c.name, rej.message, k
                    ));
                }
            }
            if !rej.log.contains(&rej.message) {
                bad.push(format!("#{} {}: message not in the log", c.index, c.name));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn linux_6_1_rules_match_the_selftest_expectations() {
    let Some(cases) = cases() else { return };
    for c in &cases {
        let got = verify_raw_with(&c.blob, None, Rules::Linux6_1);
        assert_eq!(
            got.is_ok(),
            c.expect_load,
            "#{} {}: {:?}",
            c.index,
            c.name,
            got
        );
        if let (Err(f), Some(e)) = (&got, &c.err_str) {
            assert!(
                f.rejection.message.contains(e.as_str()),
                "#{}: {:?}",
                c.index,
                f.rejection.message
            );
        }
    }
}

#[test]
fn map_creation_checks_match_the_kernel() {
    let Some(cases) = cases() else { return };
    let mut n = 0;
    for c in cases.iter().filter(|c| c.kernel_loads) {
        let Some(m) = &c.map else { continue };
        assert_eq!(m["map_type"], "BPF_MAP_TYPE_ARRAY");
        let u = |k: &str| m[k].as_u64().expect(k) as u32;
        let spec = MapSpec {
            map_type: MapType::Array,
            key_size: u("key_size"),
            value_size: u("value_size"),
            max_entries: u("max_entries"),
            key_type_id: u("key_type_id"),
            value_type_id: u("value_type_id"),
        };
        let want = m["map_create"] == "success";
        let kernel = c.kernel_map.as_deref().is_some_and(|s| s == "success");
        assert_eq!(want, kernel, "#{}: suite and kernel disagree", c.index);
        let got = check_map_kv(&c.blob, &spec);
        assert_eq!(got.is_ok(), want, "#{} {}: {:?}", c.index, c.name, got);
        n += 1;
    }
    assert_eq!(n, 54, "every loading case has a map");
}
