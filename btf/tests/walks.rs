//! Walks over the type graph stay linear and bounded: nested unions that
//! share members (2^depth paths), deep nesting, loops.

use btf::types::{Composite, Member};
use btf::{Builder, StrOff, Type, TypeData, TypeId};

/// `depth` levels of unions, each holding two members of the level below,
/// over an 8-byte int: valid BTF with 2^depth member paths.
fn nested_unions(depth: u32) -> (btf::Btf, TypeId) {
    let mut b = Builder::new();
    let mut cur = b.add_int("long", 8, btf::types::INT_SIGNED);
    for i in 0..depth {
        cur = b.add_union(&format!("u{i}"), 8, &[("a", cur, 0), ("b", cur, 0)]);
    }
    (b.finish().unwrap(), cur)
}

#[test]
fn align_of_nested_unions_is_linear() {
    for depth in [30, 40, 200] {
        let (btf, top) = nested_unions(depth);
        let t = std::time::Instant::now();
        assert_eq!(btf.align_of(top, 8).unwrap(), 8, "depth {depth}");
        // Generous: linear work is microseconds; 2^30 calls would be minutes.
        assert!(
            t.elapsed().as_secs() < 2,
            "depth {depth}: {:?}",
            t.elapsed()
        );
    }
}

#[test]
fn align_of_packed_and_loops() {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, 0);
    let ch = b.add_int("char", 1, 0);
    // A member at byte 1: packed, alignment 1.
    let packed = b.add_struct("p", 5, &[("c", ch, 0), ("i", int, 8)]);
    let plain = b.add_struct("q", 8, &[("c", ch, 0), ("i", int, 32)]);
    // A struct whose member is itself: a loop the walk must report.
    let id = b.next_id();
    b.add_type(Type::named(
        StrOff::EMPTY,
        TypeData::Struct(Composite {
            size: 4,
            members: vec![Member {
                name_off: StrOff::EMPTY,
                ty: id,
                offset: 0,
            }],
        }),
    ));
    let td = b.next_id();
    b.add_typedef("t", TypeId(td.0 + 1));
    b.add_typedef("u", td);
    let btf = b.finish().unwrap();
    assert_eq!(btf.align_of(packed, 8).unwrap(), 1);
    assert_eq!(btf.align_of(plain, 8).unwrap(), 4);
    let e = btf.align_of(id, 8).unwrap_err().to_string();
    assert!(e.contains("itself"), "{e}");
    let e = btf.align_of(td, 8).unwrap_err().to_string();
    assert!(e.contains("too deep or looping"), "{e}");
}

#[test]
fn walk_mods_returns_type_tags_and_reports_loops() {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, 0);
    let tag = b.add_type_tag("kptr", int);
    let c = b.add_const(tag);
    let td = b.add_typedef("t", c);
    // A typedef chain that loops: u -> v -> u.
    let u = b.next_id();
    b.add_typedef("u", TypeId(u.0 + 1));
    b.add_typedef("v", u);
    let btf = b.finish().unwrap();
    let w = btf.walk_mods(td, true).unwrap();
    assert_eq!((w.id, w.type_tags), (int, vec![tag]));
    assert_eq!(btf.walk_mods(td, false).unwrap().id, td);
    assert!(btf.walk_mods(u, true).is_err());
    assert_eq!(btf.walk_mods(u, false).unwrap().id, u);
}
