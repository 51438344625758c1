//! `Btf::align_of` on deep nesting: unions each holding two members of the
//! union below. Valid BTF (the running kernel loads it); a walk without a memo
//! takes 2^depth steps on it. The alignment is that of the innermost `int`.

mod verify_common;

use btf::types::INT_SIGNED;
use btf::{Btf, Builder, TypeId};
use verify_common::{kernel_available, kernel_load};

/// `depth` levels of `union uK { uK-1 a; uK-1 b; }` above `union u0 { int a; long b; }`;
/// returns the BTF and the outermost union.
fn nested(depth: u32) -> (Btf, TypeId) {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let long = b.add_int("long", 8, INT_SIGNED);
    let mut below = b.add_union("u0", 8, &[("a", int, 0), ("b", long, 0)]);
    for k in 1..=depth {
        below = b.add_union(&format!("u{k}"), 8, &[("a", below, 0), ("b", below, 0)]);
    }
    (b.finish().expect("builds"), below)
}

fn check(depth: u32) {
    let (btf, top) = nested(depth);
    assert_eq!(btf.resolve_size(top, 8).expect("size"), 8);
    assert_eq!(btf.align_of(top, 8).expect("align_of"), 8, "depth {depth}");
    // The kernel loads it: this is valid BTF, not a corner case.
    if kernel_available() {
        let k = kernel_load(&btf.to_bytes(), 1 << 20);
        assert!(k.loaded, "depth {depth}: kernel refused: {}", k.log);
    }
}

#[test]
fn align_of_30_nested_unions() {
    check(30);
}

#[test]
fn align_of_40_nested_unions() {
    check(40);
}
