//! The 6.1 rules (5.19 to 6.1), from the 6.1 source (`btf_parse_kptrs`,
//! `btf_find_spin_lock`, `btf_find_timer`, `map_check_btf`): no running 6.1
//! kernel to ask, so these pin the source's behaviour on a small kernel BTF.

use std::sync::Arc;

use btf::{Builder, TypeId};
use btf_match::errno::*;
use btf_match::map::F_RDONLY_PROG;
use btf_match::{check_map_value, DtorTable, FieldType, Kernel, MapSpec, MapType, Step, Version};

fn kernel() -> Kernel {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, 1);
    b.add_struct("task_struct", 8, &[("pid", int, 0)]);
    let r = b.add_struct("prog_test_ref_kfunc", 8, &[("a", int, 0)]);
    let p = b.add_ptr(r);
    let proto = b.add_func_proto(TypeId(0), &[("p", p)]);
    let f = b.add_func("bpf_kfunc_call_test_release", proto, 1);
    let btf = Arc::new(b.finish().expect("kernel"));
    Kernel::new(btf, DtorTable::from_pairs([(r, f)]), Some(Version::V6_1))
}

enum Mem {
    Int,
    Kptr(&'static str, &'static str),
    Lock,
    Nested(&'static str, &'static str),
}

fn value(members: &[Mem]) -> (Vec<u8>, TypeId, TypeId, u32) {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, 1);
    let mut ms = Vec::new();
    let mut off: u32 = 0;
    for (i, m) in members.iter().enumerate() {
        let (ty, size, align) = match m {
            Mem::Int => (int, 4, 4),
            Mem::Lock => (b.add_struct("bpf_spin_lock", 4, &[("v", int, 0)]), 4, 4),
            Mem::Kptr(tag, to) | Mem::Nested(tag, to) => {
                let s = b.add_struct(to, 8, &[]);
                let t = b.add_type_tag(tag, s);
                let p = b.add_ptr(t);
                if matches!(m, Mem::Nested(..)) {
                    (b.add_struct("inner", 8, &[("p", p, 0)]), 8, 8)
                } else {
                    (p, 8, 8)
                }
            }
        };
        off = off.div_ceil(align) * align;
        ms.push((format!("m{i}"), ty, off * 8));
        off += size;
    }
    let size = off.div_ceil(8) * 8;
    let refs: Vec<(&str, TypeId, u32)> = ms.iter().map(|(n, t, o)| (n.as_str(), *t, *o)).collect();
    let v = b.add_struct("v", size, &refs);
    (b.finish().expect("value").to_bytes(), int, v, size)
}

fn check(members: &[Mem], mt: MapType, flags: u32) -> Result<btf_match::MapValue, (Step, i32)> {
    let k = kernel();
    let (raw, key, v, size) = value(members);
    check_map_value(&raw, &k, &MapSpec::usual(mt, key, v, size, flags))
        .map_err(|r| (r.step, r.errno))
}

#[test]
fn kptr_ref_needs_a_dtor_else_plain_data() {
    let ok = check(
        &[Mem::Kptr("kptr_ref", "prog_test_ref_kfunc")],
        MapType::Array,
        0,
    )
    .expect("accepted");
    assert_eq!(ok.record.fields.len(), 1);
    assert_eq!(ok.record.fields[0].ty, FieldType::KptrRef);
    // No dtor: the kptr table fails, the map is created without it.
    let plain = check(&[Mem::Kptr("kptr_ref", "task_struct")], MapType::Array, 0).expect("created");
    assert!(plain.record.fields.is_empty());
    assert_eq!(plain.plain_data.as_ref().map(|p| p.errno), Some(ENOENT));
    // Unreferenced `kptr` to a kernel struct without a dtor is fine.
    let un = check(&[Mem::Kptr("kptr", "task_struct")], MapType::Hash, 0).expect("accepted");
    assert_eq!(un.record.fields[0].ty, FieldType::KptrUnref);
}

#[test]
fn names_6_1_does_not_know_and_local_pointees_are_plain_data() {
    for (tag, to) in [("kptr_untrusted", "task_struct"), ("kptr", "my_local")] {
        let v = check(&[Mem::Kptr(tag, to)], MapType::Array, 0).expect("created");
        assert!(
            v.record.fields.is_empty() && v.plain_data.is_some(),
            "{tag} {to}"
        );
    }
    // A 4-byte member anywhere spoils 6.1's kptr search (every member must be 8-aligned).
    let v = check(
        &[
            Mem::Int,
            Mem::Int,
            Mem::Kptr("kptr", "task_struct"),
            Mem::Int,
        ],
        MapType::Array,
        0,
    )
    .expect("created");
    assert!(v.record.fields.is_empty() && v.plain_data.is_some());
    // Nested structs are not searched.
    let v = check(&[Mem::Nested("kptr", "task_struct")], MapType::Array, 0).expect("created");
    assert!(v.record.fields.is_empty() && v.plain_data.is_none());
}

#[test]
fn map_types_and_flags_6_1() {
    let k = [Mem::Kptr("kptr", "task_struct")];
    assert_eq!(
        check(&k, MapType::Array, F_RDONLY_PROG).err(),
        Some((Step::MapCreate, EACCES))
    );
    assert_eq!(
        check(&k, MapType::PercpuHash, 0).err(),
        Some((Step::MapCreate, EOPNOTSUPP))
    );
    assert_eq!(
        check(&k, MapType::TaskStorage, 0).err(),
        Some((Step::MapCreate, EOPNOTSUPP))
    );
    assert!(check(&k, MapType::PercpuArray, 0).is_ok());
    assert_eq!(
        check(&[Mem::Lock], MapType::LruHash, 0).err(),
        Some((Step::MapCreate, ENOTSUPP))
    );
    assert_eq!(
        check(&[Mem::Lock], MapType::Array, F_RDONLY_PROG).err(),
        Some((Step::MapCreate, EACCES))
    );
    assert_eq!(
        check(&k, MapType::CgrpStorage, 0).err(),
        Some((Step::MapCreate, EINVAL))
    );
}
