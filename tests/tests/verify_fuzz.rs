//! Robustness: thousands of deterministic mutations of small blobs through the
//! verifier (base and split, every rule set, the map check) must never panic
//! and never take long. The agreement with the real kernel on mutated blobs
//! is checked in `verify_kernel.rs`.

mod verify_common;

use std::time::{Duration, Instant};

use btf::verify::{check_map_kv, verify_raw, verify_raw_with, MapSpec, MapType, Rules};
use verify_common::*;

#[test]
fn mutations_never_panic_or_hang() {
    let Some(blobs) = suite_blobs() else { return };
    let base = btf::Btf::parse(&blobs[0].2).expect("case #1 parses");
    let total = if cfg!(debug_assertions) {
        20_000
    } else {
        200_000
    };
    let mut rng = Rng::new(0xf022);
    let mut slowest = Duration::ZERO;
    let (mut ok, mut rejected) = (0usize, 0usize);
    for k in 0..total {
        let (_, _, src) = &blobs[k % blobs.len()];
        let m = mutate(src, &mut rng);
        let t = Instant::now();
        match verify_raw(&m, None) {
            Ok(()) => ok += 1,
            Err(r) => {
                rejected += 1;
                assert!(!r.message.is_empty());
            }
        }
        let _ = verify_raw_with(&m, None, Rules::Linux6_1);
        // The same bytes as split BTF on a small base.
        let _ = verify_raw(&m, Some(&base));
        let spec = MapSpec {
            map_type: MapType::Array,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            key_type_id: (rng.below(4)) as u32,
            value_type_id: (rng.below(6)) as u32,
        };
        let _ = check_map_kv(&m, &spec);
        slowest = slowest.max(t.elapsed());
    }
    eprintln!("{total} mutations: {ok} accepted, {rejected} rejected, slowest {slowest:?}");
    assert!(
        slowest < Duration::from_secs(10),
        "a mutation took {slowest:?}"
    );
}

#[test]
fn module_mutations_never_panic() {
    let Some(vm) = btfkit_tests::oracle_file(btfkit_tests::VMLINUX_61) else {
        return;
    };
    let data = std::fs::read(vm).expect("read");
    let blob = btf::read::file::raw_btf_bytes(&data)
        .expect(".BTF")
        .into_owned();
    let base = btf::Btf::parse(&blob).expect("parse");
    let mods = btfkit_tests::modules_61();
    // The five smallest modules.
    let mut by_size: Vec<_> = mods
        .iter()
        .map(|p| (std::fs::metadata(p).map_or(u64::MAX, |m| m.len()), p))
        .collect();
    by_size.sort();
    let small: Vec<Vec<u8>> = by_size
        .iter()
        .take(5)
        .map(|(_, p)| {
            let d = std::fs::read(p).expect("read");
            btf::read::file::raw_btf_bytes(&d)
                .expect(".BTF")
                .into_owned()
        })
        .collect();
    if !btfkit_tests::oracle(!small.is_empty(), btfkit_tests::MODULES_61) {
        return;
    }
    eprintln!(
        "module blobs: {:?} bytes",
        small.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let mut rng = Rng::new(0x30d);
    let n = if cfg!(debug_assertions) { 2000 } else { 20_000 };
    let mut rejected = 0;
    for k in 0..n {
        let m = mutate(&small[k % small.len()], &mut rng);
        if verify_raw(&m, Some(&base)).is_err() {
            rejected += 1;
        }
    }
    eprintln!("{n} module mutations: {rejected} rejected");
}

#[test]
#[ignore = "diagnostics: the slowest mutations"]
fn slowest_mutations() {
    let Some(blobs) = suite_blobs() else { return };
    let mut rng = Rng::new(0xf022);
    let mut v = Vec::new();
    for k in 0..200_000 {
        let (_, _, src) = &blobs[k % blobs.len()];
        let m = mutate(src, &mut rng);
        let t = Instant::now();
        let _ = verify_raw(&m, None);
        v.push((t.elapsed(), k, m.len()));
        let _ = rng.below(4);
        let _ = rng.below(6);
    }
    v.sort();
    for x in v.iter().rev().take(5) {
        eprintln!("{x:?}");
    }
}
