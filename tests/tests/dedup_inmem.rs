//! The core's `Builder::add_btf` against libbpf's `btf__add_btf`, and dedup in
//! memory (`btf_dedup::dedup`, `PreparedBase`) against the bytes path.
//! Slow in a debug build: run with `cargo test --release`.

mod dedup_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use btf::{Btf, Builder};
use btfkit_tests::{modules_61, oracle, oracle_file, shared_dir, suite_objects, VMLINUX_61};
use dedup_support::*;

fn vmlinux() -> Option<Arc<Btf>> {
    let v = oracle_file(VMLINUX_61)?;
    Some(Arc::new(btf::load(&v).expect("vmlinux BTF")))
}

/// Every `sample`-th module of the 6.1 kernel as split BTF on `base`.
fn modules(base: &Arc<Btf>, sample: usize) -> Vec<(PathBuf, Btf)> {
    let mods = modules_61();
    assert!(oracle(!mods.is_empty(), "the 6.1 modules"));
    mods.iter()
        .step_by(sample)
        .map(|p| {
            let file = std::fs::read(p).unwrap();
            let raw = btf::read::raw_btf_bytes(&file).unwrap();
            (p.clone(), Btf::parse_split(&raw, base.clone()).unwrap())
        })
        .collect()
}

fn write_tmp(name: &str, data: &[u8]) -> PathBuf {
    let p = tempdir().join(format!("{name}-{}.btf", unique()));
    std::fs::write(&p, data).unwrap();
    p
}

/// Empty destination, the suite's 14 objects appended in order.
#[test]
fn add_btf_of_suite_objects_matches_libbpf() {
    let (Some(shared), Some(_)) = (shared_dir(), harness()) else {
        return;
    };
    let objs = suite_objects(&shared);
    let mut b = Builder::new();
    for o in &objs {
        b.add_btf(&btf::load(o).unwrap()).unwrap();
    }
    let ours = b.finish().unwrap().to_bytes();
    let mut args: Vec<&Path> = vec![Path::new("-")];
    args.extend(objs.iter().map(PathBuf::as_path));
    let libbpf = run_harness(&args, "append", false).expect("libbpf append");
    assert!(
        ours == libbpf,
        "add_btf of the suite objects differs from libbpf"
    );
}

/// Real modules, flattened onto vmlinux, appended to an empty split BTF on
/// vmlinux (every string is found in the base) and to vmlinux itself.
#[test]
fn add_btf_of_flattened_modules_matches_libbpf() {
    let (Some(v), Some(_)) = (vmlinux(), harness()) else {
        return;
    };
    let mods = modules(&v, 373);
    assert!(mods.len() >= 3);
    let flat: Vec<(Btf, PathBuf)> = mods
        .iter()
        .map(|(p, m)| {
            let f = m.flatten().unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let path = write_tmp(&format!("flat-{name}"), &f.to_bytes());
            (f, path)
        })
        .collect();
    let vpath = write_tmp("vmlinux", &v.to_bytes());
    // Split destination.
    let mut b = Builder::new_split(v.clone());
    for (f, _) in &flat {
        b.add_btf(f).unwrap();
    }
    let ours = b.finish().unwrap().to_bytes();
    let mut args: Vec<&Path> = vec![vpath.as_path()];
    args.extend(flat.iter().map(|(_, p)| p.as_path()));
    let libbpf = run_harness(&args, "append-split", false).expect("libbpf append-split");
    assert!(ours == libbpf, "split destination differs from libbpf");
    // vmlinux as the destination.
    let mut b = Builder::from_btf(&v);
    for (f, _) in &flat {
        b.add_btf(f).unwrap();
    }
    let ours = b.finish().unwrap().to_bytes();
    let libbpf = run_harness(&args, "append", false).expect("libbpf append");
    assert!(ours == libbpf, "vmlinux destination differs from libbpf");
    for p in args {
        let _ = std::fs::remove_file(p);
    }
}

/// 20 copies of vmlinux appended in memory: the same bytes as libbpf's
/// concatenation, and in-memory dedup gives the bytes path's result.
#[test]
fn in_memory_dedup_of_twenty_copies_equals_the_bytes_path() {
    let (Some(v), Some(h)) = (vmlinux(), harness()) else {
        return;
    };
    let mut b = Builder::new();
    for _ in 0..20 {
        b.add_btf(&v).unwrap();
    }
    let big = b.finish().unwrap();
    let bytes = big.to_bytes();
    let src = write_tmp("vmlinux-src", &v.to_bytes());
    let concat = tempdir().join(format!("concat-{}.btf", unique()));
    let st = std::process::Command::new(h)
        .args(["concat", "20"])
        .arg(&src)
        .arg(&concat)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(
        std::fs::read(&concat).unwrap() == bytes,
        "20 x add_btf differs from libbpf's concat"
    );
    let opts = Default::default();
    let mem = btf_dedup::dedup(&big, &opts).expect("in-memory dedup");
    let raw = btf_dedup::dedup_raw(&bytes, None, &opts).expect("bytes dedup");
    assert!(
        mem.to_bytes() == raw,
        "in-memory dedup differs from the bytes path"
    );
    assert_eq!(mem.type_count() - 1, 101_832);
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(&concat);
}

/// Split dedup of modules on one prepared base equals the bytes path.
#[test]
fn prepared_base_split_dedup_equals_the_bytes_path() {
    let Some(v) = vmlinux() else {
        return;
    };
    let prepared = btf_dedup::PreparedBase::new(&v).unwrap();
    let opts = Default::default();
    for (p, m) in modules(&v, 41) {
        let raw = m.to_bytes();
        let bytes = btf_dedup::dedup_raw(&raw, Some(&v), &opts).unwrap();
        assert!(
            prepared.dedup_raw(&raw, &opts).unwrap() == bytes,
            "{}: prepared dedup_raw differs",
            p.display()
        );
        assert!(
            prepared.dedup(&m, &opts).unwrap().to_bytes() == bytes,
            "{}: in-memory split dedup differs",
            p.display()
        );
    }
    // A BTF on another base is refused.
    let mut other = Builder::new();
    other.add_int("int", 4, 0);
    let other = Arc::new(other.finish().unwrap());
    let m = Builder::new_split(other).finish().unwrap();
    assert!(prepared.dedup(&m, &opts).is_err());
}
