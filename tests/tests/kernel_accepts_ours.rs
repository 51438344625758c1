//! What btfkit writes, the running kernel loads: blobs made by our writer
//! (round trips of real BTF, both byte orders), by the `Builder` (every kind),
//! and by `btf-dedup`, handed to `bpf(BPF_BTF_LOAD)`. Our verifier's verdict
//! must agree with the kernel's on each.
//!
//! Needs root and the bpf syscall: skipped locally without them, a failure in CI.

mod verify_common;

use btf::{Btf, Builder, Endian, TypeId};
use btfkit_tests::*;
use verify_common::{blob, hex, kernel_available, kernel_load, suite_json};

/// Loads `blob` into the kernel and checks our verifier agrees; returns whether it loaded.
fn load(what: &str, blob: &[u8]) -> bool {
    let k = kernel_load(blob, 0);
    let ours = btf::verify::verify_raw(blob, None);
    let log = if k.loaded {
        String::new()
    } else {
        kernel_load(blob, 1 << 22).log
    };
    assert_eq!(
        k.loaded,
        ours.is_ok(),
        "{what}: kernel loaded={} (log tail {:?}), ours {:?}",
        k.loaded,
        log.lines().last(),
        ours.err().map(|r| r.message)
    );
    k.loaded
}

#[test]
fn kernel_loads_what_the_builder_writes() {
    if !kernel_available() {
        return;
    }
    let btf = btfkit_tests::every_kind();
    let blob = btf.to_bytes();
    let why = btf::verify::verify_raw(&blob, None).err().map(|r| r.log);
    assert!(load("builder, every kind", &blob), "{why:?}");
    // The other byte order is refused by the kernel, and by us.
    let mut be = btf.clone();
    be.set_endian(if Endian::native() == Endian::Little {
        Endian::Big
    } else {
        Endian::Little
    });
    assert!(!load("builder, foreign byte order", &be.to_bytes()));
}

#[test]
fn kernel_loads_our_rewrites_of_real_btf() {
    if !kernel_available() {
        return;
    }
    for path in [SYS_VMLINUX, VMLINUX_61] {
        let Some(p) = oracle_file(path) else { continue };
        let btf = btf::load(&p).expect("parses");
        assert!(load(path, &btf.to_bytes()), "{path}");
    }
}

/// `copies` copies of `btf` (base BTF) one after the other in one BTF, ids
/// and string offsets renumbered: what libbpf's `btf__add_btf` makes, the
/// input of a dedup with real duplicates.
fn concat(btf: &Btf, copies: u32) -> Btf {
    let mut b = Builder::new();
    b.set_endian(btf.endian());
    for k in 0..copies {
        let shift = k * (btf.type_count() - 1);
        for (_, t) in btf.types() {
            let mut t = t.clone();
            t.for_each_type_id_mut(|id| {
                if !id.is_void() {
                    *id = TypeId(id.0 + shift);
                }
            });
            t.for_each_str_off_mut(|s| {
                let bytes = btf.str_bytes(*s).expect("string in range").to_vec();
                *s = b.add_str_bytes(&bytes);
            });
            b.add_type(t);
        }
    }
    b.finish().expect("copies build")
}

/// btf-dedup's output on real duplicates loads: two copies of the 6.1
/// vmlinux `.BTF` in one blob, deduplicated back to about one copy.
#[test]
fn kernel_loads_dedup_output_of_two_vmlinux_copies() {
    if !kernel_available() {
        return;
    }
    let Some(p) = oracle_file(VMLINUX_61) else {
        return;
    };
    let one = btf::load(&p).expect("parses");
    let two = concat(&one, 2);
    assert_eq!(two.type_count() - 1, 2 * (one.type_count() - 1));
    let out = btf_dedup::dedup_raw(&two.to_bytes(), None, &Default::default()).expect("dedup");
    let deduped = Btf::parse(&out).expect("dedup output parses");
    let (n1, n2) = (one.type_count() - 1, deduped.type_count() - 1);
    assert!(
        n2 >= n1 && n2 < n1 + n1 / 10,
        "two copies of {n1} types deduplicated to {n2}"
    );
    eprintln!("2 x {n1} types deduplicated to {n2}");
    assert!(load("btf-dedup of 2 x vmlinux 6.1", &out));
}

/// btf-dedup's output on the suite's (non-split) dedup cases: the kernel
/// and our verifier agree on every one, and most load.
#[test]
fn kernel_and_verifier_agree_on_dedup_suite_outputs() {
    if !kernel_available() {
        return;
    }
    let Some(doc) = suite_json("dedup_cases.json") else {
        return;
    };
    let (mut loaded, mut deduped) = (0, 0);
    for c in doc["cases"].as_array().expect("cases") {
        let input = &c["input"];
        if input.get("base").is_some_and(|b| !b.is_null()) {
            continue; // split BTF: the kernel loads it only on its own vmlinux
        }
        let words: Vec<u32> = input["raw_words"]
            .as_array()
            .expect("raw_words")
            .iter()
            .map(|w| w.as_i64().expect("word") as u32)
            .collect();
        let raw = blob(
            &words,
            &hex(input["str_sec_hex"].as_str().expect("strings")),
        );
        let force = c["options"]["force_collisions"].as_bool().unwrap_or(false);
        let opts = btf_dedup::Options {
            force_collisions: force,
        };
        let Ok(out) = btf_dedup::dedup_raw(&raw, None, &opts) else {
            continue;
        };
        deduped += 1;
        if load(c["name"].as_str().unwrap_or("?"), &out) {
            loaded += 1;
        }
    }
    eprintln!("{deduped} suite cases deduplicated, {loaded} outputs loaded");
    assert_eq!(
        deduped, 31,
        "of the 31 non-split cases, {deduped} deduplicated"
    );
    assert!(loaded >= 25, "only {loaded} of {deduped} outputs loaded");
}
