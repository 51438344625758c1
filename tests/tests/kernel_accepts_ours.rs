//! What btfkit writes, the running kernel loads: blobs made by our writer
//! (round trips of real BTF, both byte orders), by the `Builder` (every kind),
//! and by `btf-dedup`, handed to `bpf(BPF_BTF_LOAD)`. Our verifier's verdict
//! must agree with the kernel's on each.
//!
//! Needs root and the bpf syscall: skipped locally without them, a failure in CI.

mod verify_common;

use btf::Endian;
use btfkit_tests::*;
use verify_common::{kernel_available, kernel_load};

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
