use std::sync::Arc;

use super::*;
use crate::types::INT_SIGNED;

/// A base with every distillable kind, some unreferenced types, a FUNC.
fn base() -> Arc<Btf> {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, INT_SIGNED); // 1
    let anon = b.add_struct("", 4, &[("x", int, 0)]); // 2
    let panon = b.add_ptr(anon); // 3
    let s = b.add_struct("s", 16, &[("a", int, 0), ("p", panon, 64)]); // 4
    b.add_typedef("t", int); // 5
    b.add_enum("e", 4, false, &[("A", 1)]); // 6
    b.add_enum64("e64", 8, true, &[("B", -1)]); // 7
    b.add_array(int, int, 3); // 8
    let ps = b.add_ptr(s); // 9
    let proto = b.add_func_proto(int, &[("q", ps)]); // 10
    b.add_func("f", proto, 1); // 11
    b.add_struct("unused", 8, &[("u", int, 0)]); // 12
    b.add_float("double", 8); // 13
    b.add_fwd("fw", true); // 14
    b.add_const(ps); // 15
    b.add_enum("", 4, false, &[("ANON", 7)]); // 16
    Arc::new(b.finish().unwrap())
}

fn split(base: &Arc<Btf>) -> Btf {
    let mut b = Builder::new_split(base.clone());
    let p_fw = b.add_ptr(TypeId(14)); // 17
    b.add_struct(
        "m",
        64,
        &[
            ("t", TypeId(5), 0),
            ("arr", TypeId(8), 32),
            ("e", TypeId(6), 128),
            ("e64", TypeId(7), 192),
            ("fw", p_fw, 256),
            ("c", TypeId(15), 320),
            ("d", TypeId(13), 384),
            ("an", TypeId(16), 448),
        ],
    ); // 18
    let proto = b.add_func_proto(TypeId(1), &[("s", TypeId(9)), ("m_new", TypeId(18))]); // 19
    b.add_func("g", proto, 1); // 20
    b.finish().unwrap()
}

#[test]
fn distilled_base_holds_only_what_split_needs() {
    let base = base();
    let orig = split(&base);
    let (nb, ns) = distill_base(&orig).unwrap();
    let names: Vec<(Kind, String)> = nb
        .own_types()
        .map(|(id, t)| (t.kind(), nb.name_of(id).to_string()))
        .collect();
    // Base id order; PTR, TYPEDEF, ARRAY, CONST and the
    // anonymous ENUM go to split BTF; FUNC f and "unused" are not reached.
    assert_eq!(
        names,
        vec![
            (Kind::Int, "int".into()),
            (Kind::Struct, "s".into()),
            (Kind::Enum, "e".into()),
            (Kind::Enum, "e64".into()),
            (Kind::Float, "double".into()),
            (Kind::Fwd, "fw".into()),
        ]
    );
    for (_, t) in nb.own_types() {
        assert!(t.members().is_none_or(<[_]>::is_empty));
        if let TypeData::Enum(e) = &t.data {
            assert!(e.values.is_empty() && !t.kind_flag);
        }
    }
    // Split ids shift down; own types first, then the copied base types.
    assert_eq!(nb.type_count(), 7);
    let diff = base.type_count() - nb.type_count();
    assert_eq!(ns.start_id(), 7);
    // TYPEDEF t, ARRAY, PTR to s, CONST, the anonymous ENUM (the anonymous
    // struct is only reached through named s, whose members are dropped).
    assert_eq!(ns.own_type_count(), orig.own_type_count() + 5);
    for (i, _) in orig.own_types() {
        let n = TypeId(i.0 - diff);
        assert_eq!(orig.name_of(i), ns.name_of(n));
        assert!(
            same(&orig, i, &ns, n, &mut HashSet::new()),
            "type {} does not relocate",
            i.0
        );
    }
    // No split string repeats one of the new base.
    let own = ns.own_strings();
    for s in own.split(|&c| c == 0).filter(|s| !s.is_empty()) {
        let in_base = nb.own_strings().split(|&c| c == 0).any(|b| b == s);
        assert!(!in_base, "{:?} in both", String::from_utf8_lossy(s));
    }
    // Both write and parse back on each other.
    let b2 = Arc::new(Btf::parse(&nb.to_bytes()).unwrap());
    let s2 = crate::read::raw::parse(&ns.to_bytes(), Some(b2)).unwrap();
    assert_eq!(s2.own_type_slice(), ns.own_type_slice());
    // Distilling again is the identity.
    let (nb2, ns2) = distill_base(&ns).unwrap();
    assert_eq!(nb2.to_bytes(), nb.to_bytes());
    assert_eq!(ns2.own_type_count(), ns.own_type_count());
}

#[test]
fn distill_refuses_base_funcs_and_base_btf() {
    let base = base();
    let mut b = Builder::new_split(base.clone());
    b.add_decl_tag("bpf_kfunc", TypeId(11), -1);
    let s = b.finish().unwrap();
    let e = distill_base(&s).unwrap_err().to_string();
    assert!(e.contains("[11]") && e.contains("FUNC"), "{e}");
    assert!(distill_base(&base).is_err());
}

#[test]
fn distill_keeps_byte_order() {
    let mut base = (*base()).clone();
    base.set_endian(crate::Endian::Big);
    let base = Arc::new(base);
    let (nb, ns) = distill_base(&split(&base)).unwrap();
    assert_eq!(nb.endian(), crate::Endian::Big);
    assert_eq!(ns.endian(), crate::Endian::Big);
}

#[test]
fn permute_renumbers_references() {
    let base = base();
    let order: Vec<TypeId> = (1..base.type_count()).rev().map(TypeId).collect();
    let p = permute(&base, &order).unwrap();
    let n = base.type_count();
    for (id, t) in base.own_types() {
        let new = TypeId(n - id.0);
        let mut a = t.clone();
        a.for_each_type_id_mut(|i| {
            if i.0 != 0 {
                i.0 = n - i.0
            }
        });
        assert_eq!(p.get(new).unwrap(), &a);
    }
    assert_eq!(p.own_strings(), base.own_strings());
    assert!(permute(&base, &order[1..]).is_err());
    let mut twice = order.clone();
    twice[0] = twice[1];
    assert!(permute(&base, &twice).is_err());
    // Split BTF: base ids stay.
    let s = split(&base);
    let order: Vec<TypeId> = (s.start_id()..s.type_count()).rev().map(TypeId).collect();
    let p = permute(&s, &order).unwrap();
    assert_eq!(p.name_of(TypeId(s.start_id())), "g");
}
