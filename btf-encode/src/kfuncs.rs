//! The kfuncs of `.BTF_ids` (`decl_tag_kfuncs`), by pahole 1.31's rules:
//! a `__BTF_ID__set8__NAME` symbol whose set has the `BTF_SET8_KFUNCS`
//! flag (bit 0 of the set's second word) covers the address range
//! `[st_value, st_value + st_size)`; every `__BTF_ID__func__NAME__N` symbol
//! in such a range is a kfunc, its flags the second word of its
//! `{ id, flags }` pair. The ranges come from the symbols, not from the
//! sets' counts, so this works before `resolve_btfids` has filled them in
//! (the kernel runs pahole on the unresolved `.tmp_vmlinux`).
//!
//! The ELF reading is btf-match's `.BTF_ids` reader.

use btf::{Error, Result};
use btf_match::btf_ids::elf::{self, Found};
use btf_match::btf_ids::symbols::{self, Parsed, SlotKind};

/// `BTF_SET8_KFUNCS`.
const SET8_KFUNCS: u32 = 1;

/// `KF_FASTCALL`: such kfuncs get a `bpf_fastcall` DECL_TAG too.
pub const KF_FASTCALL: u32 = 1 << 12;

/// The kfuncs of `data`'s `.BTF_ids`: (name, flags), sorted by name,
/// one per name (the last in symbol-table order, as pahole overwrites). None without the
/// section or a symbol table.
pub fn collect(data: &[u8]) -> Result<Vec<(String, u32)>> {
    let sec = match elf::read(data).map_err(|e| Error::new(format!(".BTF_ids: {e}")))? {
        Found::Nothing(_) => return Ok(Vec::new()),
        Found::Ids(s) => s,
    };
    let start = usize::try_from(sec.file_offset)
        .map_err(|_| Error::new(".BTF_ids: section offset out of range"))?;
    let len =
        usize::try_from(sec.size).map_err(|_| Error::new(".BTF_ids: section size out of range"))?;
    let bytes = data
        .get(start..start.saturating_add(len))
        .ok_or_else(|| Error::new(".BTF_ids: section past the end of the file"))?;
    let word = |addr: u64| -> Option<u32> {
        let off = usize::try_from(addr.checked_sub(sec.addr)?).ok()?;
        let b: [u8; 4] = bytes.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(if sec.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let mut ranges = Vec::new();
    for s in &sec.symbols {
        if let Ok(Some(Parsed::Set { set8: true, .. })) = symbols::parse(&s.name) {
            let flags = word(s.value.wrapping_add(4)).ok_or_else(|| {
                Error::new(format!(
                    ".BTF_ids: set '{}' at {:#x} out of bounds",
                    String::from_utf8_lossy(&s.name),
                    s.value
                ))
            })?;
            if flags & SET8_KFUNCS != 0 {
                ranges.push((s.value, s.value.wrapping_add(s.size)));
            }
        }
    }
    let mut out: Vec<(String, u32)> = Vec::new();
    for s in &sec.symbols {
        let Ok(Some(Parsed::Slot {
            kind: SlotKind::Func,
            name,
        })) = symbols::parse(&s.name)
        else {
            continue;
        };
        if !ranges.iter().any(|&(a, b)| a <= s.value && s.value < b) {
            continue;
        }
        let name = String::from_utf8_lossy(&name).into_owned();
        let flags = word(s.value.wrapping_add(4)).ok_or_else(|| {
            Error::new(format!(
                ".BTF_ids: kfunc '{name}' at {:#x}: its pair is outside the section",
                s.value
            ))
        })?;
        out.push((name, flags));
    }
    // The last pair of a name wins (pahole overwrites): reversed, then a
    // stable sort puts it first among its equals.
    out.reverse();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|b, a| a.0 == b.0);
    Ok(out)
}
