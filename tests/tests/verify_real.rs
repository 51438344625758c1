//! Real inputs must verify: the running kernel's BTF, the Debian 6.1 vmlinux
//! `.BTF`, and every 6.1 module's split `.BTF` on that vmlinux (the kernel's
//! module rules). Run in release (`cargo test --release -p btfkit-tests --test
//! verify_real`); the timings printed are what docs/ARCHITECTURE.md and BENCHMARKS.md report.

use std::time::Instant;

use btf::verify::verify_raw;
use btfkit_tests::{modules_61, oracle_file, SYS_VMLINUX, VMLINUX_61};

fn raw(path: &std::path::Path) -> Vec<u8> {
    let data = std::fs::read(path).expect("read");
    btf::read::file::raw_btf_bytes(&data)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_owned()
}

/// Best of a few runs, in milliseconds.
fn best_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn running_kernel_btf_verifies() {
    let Some(p) = oracle_file(SYS_VMLINUX) else {
        return;
    };
    let blob = raw(&p);
    let r = verify_raw(&blob, None);
    assert!(r.is_ok(), "{:?}", r.err().map(|e| e.message));
    let runs = if cfg!(debug_assertions) { 1 } else { 10 };
    let ms = best_ms(runs, || assert!(verify_raw(&blob, None).is_ok()));
    eprintln!(
        "verify /sys/kernel/btf/vmlinux ({} bytes): {ms:.1} ms (best of {runs})",
        blob.len()
    );
}

#[test]
fn vmlinux_61_and_all_modules_verify() {
    let Some(p) = oracle_file(VMLINUX_61) else {
        return;
    };
    let blob = raw(&p);
    let r = verify_raw(&blob, None);
    assert!(r.is_ok(), "{:?}", r.err().map(|e| e.message));
    let runs = if cfg!(debug_assertions) { 1 } else { 5 };
    let ms = best_ms(runs, || assert!(verify_raw(&blob, None).is_ok()));
    eprintln!("verify 6.1 vmlinux .BTF ({} bytes): {ms:.1} ms", blob.len());

    let base = btf::Btf::parse(&blob).expect("parse 6.1 vmlinux");
    let mods = modules_61();
    if !btfkit_tests::oracle(!mods.is_empty(), btfkit_tests::MODULES_61) {
        return;
    }
    let t = Instant::now();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let (mods, base) = (&mods, &base);
                s.spawn(move || {
                    let mut bad = Vec::new();
                    for m in mods.iter().skip(k).step_by(threads) {
                        let data = raw(m);
                        if let Err(e) = verify_raw(&data, Some(base)) {
                            bad.push(format!("{}: {}", m.display(), e.message));
                        }
                    }
                    bad
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    eprintln!(
        "verify {} 6.1 modules on vmlinux ({threads} threads): {:.0} ms",
        mods.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    assert!(
        failures.is_empty(),
        "{} modules rejected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
#[ignore = "diagnostics: timing per rule set"]
fn timing_per_rules() {
    use btf::verify::{verify_raw_with, Rules};
    for path in [SYS_VMLINUX, VMLINUX_61] {
        let Some(p) = oracle_file(path) else { continue };
        let blob = raw(std::path::Path::new(&p));
        for rules in [Rules::Linux6_1, Rules::Linux6_12, Rules::Linux6_18] {
            let verdict = verify_raw_with(&blob, None, rules).map_err(|f| f.rejection.message);
            let ms = best_ms(10, || {
                let _ = verify_raw_with(&blob, None, rules);
            });
            eprintln!("{path} {rules:?}: {ms:.1} ms {verdict:?}");
        }
    }
}
