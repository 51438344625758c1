//! Destructor pairs: which kernel structs may be held as referenced kptrs,
//! and the kfunc that releases one when its map goes away.
//!
//! The kernel registers the pairs with `register_btf_id_dtor_kfuncs` from
//! `BTF_ID_LIST`s of `struct T` / `func f` pairs; they are not in the
//! kernel's BTF. The table comes from a kernel ELF's `.BTF_ids`, from the
//! loader, or from the built-in list of the version (checked against the
//! running kernel by probing every struct of its BTF).

use std::collections::BTreeMap;

use btf::{Btf, Kind, NameIndex, TypeData, TypeId};

use crate::kernel::Version;

/// The 6.18 kernel's pairs (struct name, dtor name), as the running kernel
/// answers for every struct of its BTF.
pub const PAIRS_6_18: &[(&str, &str)] = &[
    ("task_struct", "bpf_task_release_dtor"),
    ("cgroup", "bpf_cgroup_release_dtor"),
    ("bpf_cpumask", "bpf_cpumask_release_dtor"),
    ("bpf_crypto_ctx", "bpf_crypto_ctx_release_dtor"),
    ("prog_test_ref_kfunc", "bpf_kfunc_call_test_release_dtor"),
    ("prog_test_member", "bpf_kfunc_call_memb_release_dtor"),
];

/// The Debian 6.1 kernel's pairs, as its `.BTF_ids` holds them (the
/// generic task/cgroup dtors came in 6.2).
pub const PAIRS_6_1: &[(&str, &str)] = &[
    ("prog_test_ref_kfunc", "bpf_kfunc_call_test_release"),
    ("prog_test_member", "bpf_kfunc_call_memb_release"),
];

/// Struct id → dtor FUNC id, in one kernel BTF.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DtorTable {
    pairs: BTreeMap<TypeId, TypeId>,
}

impl DtorTable {
    /// A table from id pairs (struct, dtor), as a loader or `.BTF_ids` gives them.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (TypeId, TypeId)>) -> DtorTable {
        DtorTable {
            pairs: pairs.into_iter().collect(),
        }
    }

    /// A table from names, looked up in `btf` (pairs whose struct or FUNC
    /// is not there are left out, as a kernel built without them has none).
    pub fn from_names(btf: &Btf, index: &NameIndex, names: &[(&str, &str)]) -> DtorTable {
        DtorTable::from_pairs(names.iter().filter_map(|(s, f)| {
            Some((
                index.find(btf, *s, Kind::Struct)?,
                index.find(btf, *f, Kind::Func)?,
            ))
        }))
    }

    /// The pairs of a resolved kernel ELF's dtor lists (ids as `.BTF_ids`
    /// holds them; pairs with an id left 0 are left out).
    pub fn from_btf_ids(ids: &crate::btf_ids::BtfIds) -> DtorTable {
        DtorTable::from_pairs(
            ids.dtors
                .iter()
                .filter(|p| p.struct_id != 0 && p.func_id != 0)
                .map(|p| (TypeId(p.struct_id), TypeId(p.func_id))),
        )
    }

    /// The built-in table of a version, resolved in that kernel's BTF.
    pub fn builtin(version: Version, btf: &Btf, index: &NameIndex) -> DtorTable {
        let names = match version {
            Version::V6_1 => PAIRS_6_1,
            Version::V6_18 => PAIRS_6_18,
        };
        DtorTable::from_names(btf, index, names)
    }

    /// `btf_find_dtor_kfunc`: the dtor of a struct.
    pub fn find_dtor(&self, struct_id: TypeId) -> Option<TypeId> {
        self.pairs.get(&struct_id).copied()
    }

    /// The pairs, by struct id.
    pub fn pairs(&self) -> impl Iterator<Item = (TypeId, TypeId)> + '_ {
        self.pairs.iter().map(|(s, f)| (*s, *f))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// Checks a dtor pair as `register_btf_id_dtor_kfuncs` does: `f` is a FUNC
/// of the shape `void f(T *)` where `T` is `void` or the paired struct `st`
/// (modifiers and typedefs skipped). `Err` says what is wrong.
pub fn check_dtor_shape(btf: &Btf, st: TypeId, f: TypeId) -> Result<(), String> {
    if !btf.is_kind(st, Kind::Struct) {
        return Err(format!("the paired type [{}] is not a STRUCT", st.0));
    }
    let Some(TypeData::Func(func)) = btf.type_by_id(f).map(|t| &t.data) else {
        return Err(format!("[{}] is not a FUNC", f.0));
    };
    let Some(TypeData::FuncProto(p)) = btf.type_by_id(func.proto).map(|t| &t.data) else {
        return Err("its prototype is not a FUNC_PROTO".into());
    };
    if !p.ret.is_void() {
        return Err("it returns a value".into());
    }
    if p.params.len() != 1 {
        return Err(format!("it takes {} parameters", p.params.len()));
    }
    let ptr = btf.skip_mods(p.params[0].ty, true);
    let Some(TypeData::Ptr(to)) = btf.type_by_id(ptr).map(|t| &t.data) else {
        return Err("its parameter is not a pointer".into());
    };
    let to = btf.skip_mods(*to, true);
    if !to.is_void() && to != st {
        return Err(format!(
            "its parameter points to '{}', not void or the paired struct",
            btf.name_of(to)
        ));
    }
    Ok(())
}
