//! `--check`: the build-time checks resolve_btfids never makes. The rules are
//! btf-match's (`check_set8_entry`, `check_dtor_shape`), so the build and a
//! loader apply the same code; this module only finds the entries and pairs.

use std::collections::BTreeMap;

use btf::{Btf, TypeId};

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
            if let Err(e) = btf_match::btf_ids::check_set8_entry(btf, &lossy(&set.name), i, o, id) {
                out.push(e);
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
            if let Err(why) = btf_match::check_dtor_shape(btf, TypeId(sid), TypeId(fid)) {
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
