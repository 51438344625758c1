//! `--check`: the build-time checks resolve_btfids never makes, with what
//! resolving knows (the kfunc/kptr rules proper belong to btf-match).

use std::collections::BTreeMap;

use btf::{Btf, Kind, TypeData, TypeId};

use crate::symbols::SlotKind;
use crate::{lossy, rd, sym_at, Plan, Slot};

/// The `--check` rules on a plan: every set8 entry is a FUNC; in each
/// destructor list (a `BTF_ID_LIST` whose label has `dtor` in its name, of
/// `struct T` / `func f` pairs) `f` has the shape `void f(T *)`; no slot left
/// 0 (slots without a symbol, `BTF_ID_UNUSED`, are not looked at).
pub fn check(plan: &Plan, btf: &Btf) -> Vec<String> {
    let big = plan.section.big_endian;
    let mut out = Vec::new();
    for s in &plan.collected.slots {
        if plan.ids.get(&(s.kind, s.name.clone())).copied() == Some(0) {
            out.push(format!(
                "{}: {} '{}' not found in BTF",
                sym_at(&s.symbol, Some(s.offset)),
                s.kind.as_str(),
                lossy(&s.name)
            ));
        }
    }
    for set in plan.collected.sets.iter().filter(|s| s.set8) {
        for i in 0..set.count {
            let o = set.entries_offset() + 8 * i;
            let id = rd(&plan.bytes, o, big);
            if !btf.is_kind(TypeId(id), Kind::Func) {
                out.push(format!(
                    "set8 '{}': entry {i} (offset {o:#x}) holds id {id}, which is not a FUNC",
                    lossy(&set.name)
                ));
            }
        }
    }
    let by_off: BTreeMap<u64, &Slot> = plan.collected.slots.iter().map(|s| (s.offset, s)).collect();
    for label in &plan.collected.labels {
        if !label.name.windows(4).any(|w| w == b"dtor") {
            continue;
        }
        let mut o = label.offset;
        while let (Some(st), Some(f)) = (by_off.get(&o), by_off.get(&(o + 4))) {
            if st.kind != SlotKind::Struct || f.kind != SlotKind::Func {
                break;
            }
            let sid = rd(&plan.bytes, o, big);
            let fid = rd(&plan.bytes, o + 4, big);
            if let Some(why) = dtor_shape(btf, TypeId(sid), TypeId(fid)) {
                out.push(format!(
                    "dtor list {}: {} is not 'void {}(struct {} *)': {why}",
                    lossy(&label.name),
                    lossy(&f.name),
                    lossy(&f.name),
                    lossy(&st.name)
                ));
            }
            o += 8;
        }
    }
    out
}

fn dtor_shape(btf: &Btf, st: TypeId, f: TypeId) -> Option<String> {
    let Some(TypeData::Func(func)) = btf.type_by_id(f).map(|t| &t.data) else {
        return Some("not a FUNC".into());
    };
    let Some(TypeData::FuncProto(p)) = btf.type_by_id(func.proto).map(|t| &t.data) else {
        return Some("its prototype is not a FUNC_PROTO".into());
    };
    if !p.ret.is_void() {
        return Some("it returns a value".into());
    }
    if p.params.len() != 1 {
        return Some(format!("it takes {} parameters", p.params.len()));
    }
    let ptr = btf.skip_mods(p.params[0].ty, true);
    let Some(TypeData::Ptr(to)) = btf.type_by_id(ptr).map(|t| &t.data) else {
        return Some("its parameter is not a pointer".into());
    };
    if btf.skip_mods(*to, true) != st {
        return Some("its parameter points to another type".into());
    }
    None
}
