//! The `.BTF_ids` section of a kernel ELF: its symbols ([`elf`], [`symbols`],
//! shared with btf-resolve), and, in a resolved image, the kfunc sets
//! (`BTF_SET8`s of `{id, flags}`) and the destructor lists.

pub mod elf;
pub mod symbols;

use std::collections::BTreeMap;

use btf::{Btf, TypeId};

use crate::Error;
use symbols::{Parsed, SlotKind};

/// kfunc flags (`KF_*`), 6.1 names with the later additions.
pub const KF_FLAGS: &[(u32, &str)] = &[
    (1 << 0, "KF_ACQUIRE"),
    (1 << 1, "KF_RELEASE"),
    (1 << 2, "KF_RET_NULL"),
    (1 << 3, "KF_KPTR_GET"),
    (1 << 4, "KF_TRUSTED_ARGS"),
    (1 << 5, "KF_SLEEPABLE"),
    (1 << 6, "KF_DESTRUCTIVE"),
    (1 << 7, "KF_RCU"),
    (1 << 8, "KF_ITER_NEW"),
    (1 << 9, "KF_ITER_NEXT"),
    (1 << 10, "KF_ITER_DESTROY"),
    (1 << 11, "KF_RCU_PROTECTED"),
];

/// `KF_*` names of a flags word (`0` when none, unknown bits in hex).
pub fn flag_names(flags: u32) -> String {
    let mut out: Vec<String> = KF_FLAGS
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let known: u32 = KF_FLAGS.iter().map(|(b, _)| b).sum();
    if flags & !known != 0 {
        out.push(format!("{:#x}", flags & !known));
    }
    if out.is_empty() {
        "0".to_string()
    } else {
        out.join("|")
    }
}

/// One set8 entry as the section holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set8Entry {
    /// The BTF id in the word.
    pub id: u32,
    /// The flags word.
    pub flags: u32,
    /// The symbol's name for the slot (the name resolve_btfids looked up;
    /// after its sort by id the entry's FUNC may be another: name it by `id`).
    pub name: String,
}

/// A `BTF_SET8` (kfunc set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set8 {
    /// The set's name.
    pub name: String,
    /// Offset in the section.
    pub offset: u64,
    /// The set's own flags word.
    pub flags: u32,
    /// The entries in section order.
    pub entries: Vec<Set8Entry>,
}

/// A destructor pair of a dtor `BTF_ID_LIST` (`struct T`, `func f`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DtorPair {
    /// The list's label.
    pub list: String,
    /// The struct's name and resolved id.
    pub struct_name: String,
    /// Its id.
    pub struct_id: u32,
    /// The dtor's name.
    pub func_name: String,
    /// Its id.
    pub func_id: u32,
}

/// The set8s and dtor lists of a resolved kernel ELF.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtfIds {
    /// Every set8, in symbol-table order.
    pub sets: Vec<Set8>,
    /// Every dtor pair, in list order.
    pub dtors: Vec<DtorPair>,
}

fn word(bytes: &[u8], off: u64, big: bool) -> Option<u32> {
    let o = usize::try_from(off).ok()?;
    let b: [u8; 4] = bytes.get(o..o.checked_add(4)?)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

impl BtfIds {
    /// Reads a (resolved) ELF's `.BTF_ids`. A file without the section has
    /// no sets; a section or symbol past its bounds is an error.
    pub fn read(data: &[u8]) -> Result<BtfIds, Error> {
        let sec = match elf::read(data)? {
            elf::Found::Nothing(_) => return Ok(BtfIds::default()),
            elf::Found::Ids(s) => s,
        };
        let start = usize::try_from(sec.file_offset).map_err(|_| Error::new(".BTF_ids offset"))?;
        let len = usize::try_from(sec.size).map_err(|_| Error::new(".BTF_ids size"))?;
        let bytes = data
            .get(start..start.saturating_add(len))
            .ok_or_else(|| Error::new(".BTF_ids past the end of the file"))?;
        let big = sec.big_endian;
        let rel = |v: u64| v.checked_sub(sec.addr);
        let mut slots: BTreeMap<u64, (SlotKind, String)> = BTreeMap::new();
        let mut sets = Vec::new();
        let mut labels = Vec::new();
        for s in &sec.symbols {
            let Some(off) = rel(s.value) else { continue };
            match symbols::parse(&s.name) {
                Ok(Some(Parsed::Slot { kind, name })) => {
                    slots.insert(off, (kind, String::from_utf8_lossy(&name).into_owned()));
                }
                Ok(Some(Parsed::Set { set8: true, name })) => {
                    sets.push((String::from_utf8_lossy(&name).into_owned(), off));
                }
                Ok(Some(Parsed::Set { set8: false, .. })) => {}
                Ok(None) => labels.push((String::from_utf8_lossy(&s.name).into_owned(), off)),
                Err(e) => {
                    return Err(Error::new(format!(
                        "symbol {}: {e}",
                        String::from_utf8_lossy(&s.name)
                    )))
                }
            }
        }
        let mut out = BtfIds::default();
        for (name, off) in sets {
            let at = |o: u64| {
                word(bytes, o, big).ok_or_else(|| {
                    Error::new(format!("set8 '{name}': entry at {o:#x} past .BTF_ids"))
                })
            };
            let cnt = at(off)?;
            let flags = at(off + 4)?;
            let mut entries = Vec::new();
            for i in 0..u64::from(cnt) {
                let o = off + 8 + 8 * i;
                entries.push(Set8Entry {
                    id: at(o)?,
                    flags: at(o + 4)?,
                    name: slots.get(&o).map(|(_, n)| n.clone()).unwrap_or_default(),
                });
            }
            out.sets.push(Set8 {
                name,
                offset: off,
                flags,
                entries,
            });
        }
        for (label, off) in labels {
            if !label.contains("dtor") {
                continue;
            }
            let mut o = off;
            while let (Some((SlotKind::Struct, s)), Some((SlotKind::Func, f))) =
                (slots.get(&o), slots.get(&(o + 4)))
            {
                out.dtors.push(DtorPair {
                    list: label.clone(),
                    struct_name: s.clone(),
                    struct_id: word(bytes, o, big).unwrap_or(0),
                    func_name: f.clone(),
                    func_id: word(bytes, o + 4, big).unwrap_or(0),
                });
                o += 8;
            }
        }
        Ok(out)
    }
}

/// The `--check` rule for a set8 entry: its id names a FUNC of `btf`.
pub fn check_set8_entry(
    btf: &Btf,
    set: &str,
    index: u64,
    offset: u64,
    id: u32,
) -> Result<(), String> {
    if btf.is_kind(TypeId(id), btf::Kind::Func) {
        Ok(())
    } else {
        Err(format!(
            "set8 '{set}': entry {index} (offset {offset:#x}) holds id {id}, which is not a FUNC"
        ))
    }
}
