//! `btf_dump::raw` and `btf_dump::json` against bpftool 7.1, run here: the raw
//! text must be byte-identical, the JSON equal as parsed JSON (`serde_json::Value`).
//!
//! Inputs: /sys/kernel/btf/vmlinux, the 6.1 vmlinux ELF, all 1121 6.1 modules
//! on that vmlinux (raw and JSON), a /sys/kernel/btf module when one is loaded,
//! and the 14 objects of `../shared/suites/btf_dump`. Big inputs: run with
//! `cargo test --release -p btfkit-tests --test dump_raw_json`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use btf::Btf;
use btfkit_tests::{
    modules_61, oracle_file, oracle_program, run, shared_dir, SYS_VMLINUX, VMLINUX_61,
};

fn ours_raw(btf: &Btf) -> Vec<u8> {
    let mut v = Vec::new();
    btf_dump::raw::dump(btf, &mut v).unwrap();
    v
}

fn ours_json(btf: &Btf) -> Vec<u8> {
    let mut v = Vec::new();
    btf_dump::json::dump(btf, &mut v).unwrap();
    v
}

/// bpftool's output for `[-j] btf dump [-B base] file FILE`.
fn bpftool(file: &Path, base: Option<&Path>, json: bool) -> Vec<u8> {
    let mut c = Command::new("bpftool");
    if json {
        c.arg("-j");
    }
    c.args(["btf", "dump"]);
    if let Some(b) = base {
        c.arg("-B").arg(b);
    }
    c.arg("file").arg(file);
    run(&mut c)
}

/// Why two outputs differ: the first differing line, or `None` when equal.
fn first_difference(ours: &[u8], theirs: &[u8]) -> Option<String> {
    if ours == theirs {
        return None;
    }
    let (a, b) = (
        String::from_utf8_lossy(ours),
        String::from_utf8_lossy(theirs),
    );
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return Some(format!("line {}: ours {x:?}\n bpftool {y:?}", i + 1));
        }
    }
    Some(format!(
        "one output is a prefix of the other: ours {} bytes, bpftool {} bytes",
        ours.len(),
        theirs.len()
    ))
}

/// Why two JSON documents differ as parsed JSON, or `None` when equal.
fn json_difference(ours: &[u8], theirs: &[u8]) -> Option<String> {
    let a: serde_json::Value = match serde_json::from_slice(ours) {
        Ok(v) => v,
        Err(e) => return Some(format!("our JSON does not parse: {e}")),
    };
    let b: serde_json::Value = match serde_json::from_slice(theirs) {
        Ok(v) => v,
        Err(e) => return Some(format!("bpftool's JSON does not parse: {e}")),
    };
    if a == b {
        return None;
    }
    let (ta, tb) = (&a["types"], &b["types"]);
    let (Some(ta), Some(tb)) = (ta.as_array(), tb.as_array()) else {
        return Some("no `types` array".into());
    };
    for (x, y) in ta.iter().zip(tb) {
        if x != y {
            return Some(format!("ours {x}\n bpftool {y}"));
        }
    }
    Some(format!("{} types, bpftool {}", ta.len(), tb.len()))
}

/// Checks raw (and JSON when `json`) for `file` on `base`.
fn check(file: &Path, base: Option<(&Path, &Arc<Btf>)>, json: bool) -> Result<(), String> {
    let btf = btf::load_with_base(file, base.map(|b| b.1.clone()))
        .map_err(|e| format!("{}: cannot load: {e}", file.display()))?;
    let base_path = base.map(|b| b.0);
    if let Some(d) = first_difference(&ours_raw(&btf), &bpftool(file, base_path, false)) {
        return Err(format!("{}: raw differs: {d}", file.display()));
    }
    if json {
        if let Some(d) = json_difference(&ours_json(&btf), &bpftool(file, base_path, true)) {
            return Err(format!("{}: JSON differs: {d}", file.display()));
        }
    }
    Ok(())
}

fn check_whole(path: &str) {
    if !oracle_program("bpftool") {
        return;
    }
    let Some(p) = oracle_file(path) else { return };
    // /sys/kernel/btf/<module> is read on vmlinux, as bpftool does by itself.
    let btf = btf::load(&p).unwrap();
    let raw = ours_raw(&btf);
    if let Some(d) = first_difference(&raw, &bpftool(&p, None, false)) {
        panic!("{path}: raw differs: {d}");
    }
    if let Some(d) = json_difference(&ours_json(&btf), &bpftool(&p, None, true)) {
        panic!("{path}: JSON differs: {d}");
    }
}

#[test]
fn sys_vmlinux_raw_and_json() {
    check_whole(SYS_VMLINUX);
}

#[test]
fn vmlinux_61_elf_raw_and_json() {
    check_whole(VMLINUX_61);
}

#[test]
fn sys_module_raw_and_json() {
    // Only when the running kernel has a module with BTF loaded.
    let module = std::fs::read_dir("/sys/kernel/btf").ok().and_then(|rd| {
        let mut names: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n != "vmlinux"))
            .collect();
        names.sort();
        names.into_iter().next()
    });
    match module {
        Some(m) => check_whole(&m.to_string_lossy()),
        None => eprintln!("SKIP: no module under /sys/kernel/btf"),
    }
}

#[test]
fn suite_objects_raw_and_json() {
    if !oracle_program("bpftool") {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let dir = shared.join("suites/btf_dump");
    let mut objs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "o"))
        .collect();
    objs.sort();
    assert_eq!(objs.len(), 14, "7 cases, .bpf.o and .host.o each");
    for o in &objs {
        check(o, None, true).unwrap();
    }
}

/// All 1121 modules of the 6.1 kernel on its vmlinux, raw and JSON, on a few
/// threads. bpftool gets the vmlinux `.BTF` extracted once to a raw file as -B.
#[test]
fn modules_61_raw_and_json() {
    if !oracle_program("bpftool") {
        return;
    }
    let Some(vmlinux) = oracle_file(VMLINUX_61) else {
        return;
    };
    let modules = modules_61();
    assert_eq!(
        modules.len(),
        1121,
        "modules under {}",
        btfkit_tests::MODULES_61
    );
    let data = std::fs::read(&vmlinux).unwrap();
    let raw = btf::read::raw_btf_bytes(&data).unwrap();
    let base_file =
        std::env::temp_dir().join(format!("btfkit-vmlinux61-{}.btf", std::process::id()));
    std::fs::write(&base_file, &raw).unwrap();
    let base = Arc::new(Btf::parse(&raw).unwrap());
    drop(data);

    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(m) = modules.get(i) else { break };
                if let Err(e) = check(m, Some((&base_file, &base)), true) {
                    failures.lock().unwrap().push(e);
                }
            });
        }
    });
    let _ = std::fs::remove_file(&base_file);
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} modules differ; first: {}",
        failures.len(),
        modules.len(),
        failures[0]
    );
}
