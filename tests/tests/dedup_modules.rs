//! Split BTF: deduplicating a module's `.BTF` on its vmlinux gives the same
//! bytes as libbpf 1.1 (`btf__parse_split` + `btf__dedup`), and the vmlinux
//! itself (an ELF with `.BTF`) too.
//!
//! A deterministic sample of the Debian 6.1 modules runs by default (every
//! 20th, plus the largest); `DEDUP_ALL_MODULES=1` runs all of them.

mod dedup_support;

use std::path::Path;

use btfkit_tests::{modules_61, oracle_file, VMLINUX_61};
use dedup_support::*;

#[test]
fn vmlinux_elf_matches_libbpf() {
    let Some(v) = oracle_file(VMLINUX_61) else {
        return;
    };
    if harness().is_none() {
        return;
    }
    let libbpf = run_harness(&[v.as_path()], "dedup", false).expect("libbpf dedups vmlinux");
    let ours = btf_dedup::dedup_file(&v, None, &Default::default()).expect("we dedup vmlinux");
    assert!(ours == libbpf, "vmlinux: output differs from libbpf");
}

#[test]
fn modules_match_libbpf() {
    let Some(v) = oracle_file(VMLINUX_61) else {
        return;
    };
    if harness().is_none() {
        return;
    }
    let base = btf::load(&v).expect("vmlinux loads");
    let mods = modules_61();
    assert!(
        !mods.is_empty(),
        "no modules under {}",
        btfkit_tests::MODULES_61
    );
    let all = std::env::var("DEDUP_ALL_MODULES").is_ok_and(|v| v == "1");
    let mut sample: Vec<&Path> = mods
        .iter()
        .enumerate()
        .filter(|(i, _)| all || i % 20 == 0)
        .map(|(_, p)| p.as_path())
        .collect();
    if !all {
        if let Some(big) = mods
            .iter()
            .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        {
            sample.push(big);
        }
    }
    let mut bad = Vec::new();
    for m in &sample {
        let libbpf = run_harness(&[v.as_path(), m], "dedup-split", false);
        let ours = btf_dedup::dedup_file(m, Some(&base), &Default::default());
        match (ours, libbpf) {
            (Ok(a), Ok(b)) if a == b => {}
            (Ok(_), Ok(_)) => bad.push(format!("{}: output differs", m.display())),
            (a, b) => bad.push(format!(
                "{}: ours {:?} libbpf {:?}",
                m.display(),
                a.err(),
                b.err()
            )),
        }
    }
    eprintln!("{} modules compared", sample.len());
    assert!(
        bad.is_empty(),
        "{} modules differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
