//! `--report json`: every list and set with names, ids and flags.

use std::collections::BTreeMap;

use btf::{Btf, TypeId};

use crate::{lossy, rd, Plan, Set, Slot};

/// `--report json`: every list and set with names, ids and flags.
pub fn report_json(plan: &Plan, btf: &Btf) -> serde_json::Value {
    use serde_json::json;
    let big = plan.section.big_endian;
    let c = &plan.collected;
    let by_off: BTreeMap<u64, &Slot> = c.slots.iter().map(|s| (s.offset, s)).collect();
    let set_offs: std::collections::BTreeSet<u64> = c.sets.iter().map(|s| s.offset).collect();
    let mut starts: Vec<u64> = c
        .labels
        .iter()
        .map(|l| l.offset)
        .chain(set_offs.iter().copied())
        .chain(c.sets.iter().map(Set::end))
        .collect();
    starts.push(plan.section.size);
    starts.sort_unstable();
    let type_name = |id: u32| btf.name_of(TypeId(id)).to_string();
    let mut lists = Vec::new();
    for l in &c.labels {
        if set_offs.contains(&l.offset) {
            continue;
        }
        let end = starts
            .iter()
            .copied()
            .find(|&s| s > l.offset)
            .unwrap_or(plan.section.size);
        let mut entries = Vec::new();
        let mut o = l.offset;
        while o + 4 <= end {
            let id = rd(&plan.bytes, o, big);
            entries.push(match by_off.get(&o) {
                Some(s) => {
                    json!({"offset": o, "kind": s.kind.as_str(), "name": lossy(&s.name), "id": id})
                }
                None => json!({"offset": o, "unused": true, "id": id}),
            });
            o += 4;
        }
        lists.push(json!({"name": lossy(&l.name), "offset": l.offset, "entries": entries}));
    }
    let mut sets = Vec::new();
    for s in &c.sets {
        let mut entries = Vec::new();
        for i in 0..s.count {
            let o = s.entries_offset() + s.entry_size() * i;
            let id = rd(&plan.bytes, o, big);
            let mut e = json!({"id": id, "name": type_name(id)});
            if s.set8 {
                e["flags"] = json!(rd(&plan.bytes, o + 4, big));
            }
            entries.push(e);
        }
        let mut v = json!({
            "name": lossy(&s.name),
            "kind": if s.set8 { "set8" } else { "set" },
            "offset": s.offset,
            "count": s.count,
        });
        if s.set8 {
            v["flags"] = json!(rd(&plan.bytes, s.offset + 4, big));
        }
        v["entries"] = json!(entries);
        sets.push(v);
    }
    json!({
        "symbols": plan.stats.symbols,
        "slots": plan.stats.slots,
        "sets": plan.stats.sets,
        "set8s": plan.stats.set8s,
        "unresolved": plan.stats.unresolved,
        "warnings": plan.warnings,
        "lists": lists,
        "id_sets": sets,
    })
}
