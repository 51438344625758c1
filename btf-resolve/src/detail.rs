//! `-vv`: one line per slot and per set entry, after resolving: where the
//! word is, what symbol (and object file) marks it, the name, the id written
//! and what kind of type that id is; for sets, each entry after sorting with
//! its flags.

use btf::{Btf, TypeId};

use crate::{lossy, rd, Plan};

/// The `-vv` lines for `plan`, resolved against `btf`.
pub fn detail_lines(plan: &Plan, btf: &Btf) -> Vec<String> {
    let sec = &plan.section;
    let big = sec.big_endian;
    let mut out = vec![format!(
        "section({}) .BTF_ids, size {}, file offset {:#x}, addr {:#x}, {} endian, {} symbols",
        sec.index,
        sec.size,
        sec.file_offset,
        sec.addr,
        if big { "big" } else { "little" },
        sec.symbols.len()
    )];
    let kind_of = |id: u32| match btf.type_by_id(TypeId(id)) {
        Some(t) => t.kind().name(),
        None => "-",
    };
    let c = &plan.collected;
    for s in &c.slots {
        let id = rd(&plan.bytes, s.offset, big);
        let file = s.symbol.file.as_deref().unwrap_or("?");
        out.push(format!(
            "slot   {:#07x}: {:7} {} -> {id} ({}) [{} in {file}]",
            s.offset,
            s.kind.as_str(),
            lossy(&s.name),
            kind_of(id),
            lossy(&s.symbol.name)
        ));
    }
    for set in &c.sets {
        let what = if set.set8 { "set8" } else { "set" };
        let mut head = format!(
            "{what:6} {:#07x}: {} cnt {}",
            set.offset,
            lossy(&set.name),
            rd(&plan.bytes, set.offset, big)
        );
        if set.set8 {
            head += &format!(" flags {:#x}", rd(&plan.bytes, set.offset + 4, big));
        }
        out.push(head);
        for i in 0..set.count {
            let o = set.entries_offset() + i * set.entry_size();
            let id = rd(&plan.bytes, o, big);
            let mut l = format!(
                "  entry {:#07x}: {id} {} ({})",
                o,
                btf.name_of(TypeId(id)),
                kind_of(id)
            );
            if set.set8 {
                l += &format!(" flags {:#x}", rd(&plan.bytes, o + 4, big));
            }
            out.push(l);
        }
    }
    out
}
