//! `btf-resolve`: the kernel build's `resolve_btfids`, as a library.
//!
//! After the final link, the `.BTF_ids` section of vmlinux (and of each module)
//! holds zeroed 4-byte slots, each marked by a symbol
//! `__BTF_ID__<kind>__<name>__<n>`, and sets (`__BTF_ID__set__<name>`,
//! `__BTF_ID__set8__<name>`) whose first word is a count. Resolving writes the
//! BTF type id of each named type into its slots, the member count into each
//! set, and sorts each set by id (a set8 keeps each `{id, flags}` pair whole).
//!
//! Data flow: [`elf::read`] (section header, symbols) → [`collect`] (strict
//! symbol names, offsets checked against the section) → [`plan`] (names
//! looked up through [`btf::NameIndex`], the new section bytes computed in
//! memory, every check made) → [`write_in_place`] (one verified write of the
//! section's bytes) or, with [`WriteMode::Atomic`], [`write_section`] (a
//! copy renamed over the file); only when a byte changes.
//!
//! Invariants:
//! - Nothing is written before every check has passed; a failing run leaves
//!   the file as it was.
//! - Only bytes inside `.BTF_ids` change, at `sh_offset + (st_value - sh_addr)`,
//!   in the ELF's byte order, with no alignment assumed.
//! - Idempotent: on a resolved file the plan gives the same bytes. A set whose
//!   entries are not all 0 and contain every id a fresh resolution would write
//!   is only re-sorted, so set8 flags stay with their ids (resolve_btfids
//!   writes the ids back at the symbols' places, which the first sort moved,
//!   and so gives flags to the wrong kfuncs).
//! - Sorting is stable, so equal ids keep their order (glibc's qsort, a merge
//!   sort, does the same for the sizes involved).
//! - Warnings come in resolve_btfids' order and words.
//!
//! ```no_run
//! use std::path::Path;
//! use btf_resolve::{resolve_file, Options, Outcome, Sources};
//!
//! let src = Sources { btf: None, base: Some("vmlinux".into()) };
//! match resolve_file(Path::new("mod.ko"), &src, &Options::default())? {
//!     Outcome::Resolved { plan, written, .. } => {
//!         for w in &plan.warnings {
//!             eprintln!("{w}");
//!         }
//!         println!("{} slots, file changed: {written}", plan.stats.slots);
//!     }
//!     Outcome::Nothing(why) => println!("nothing to do: {why}"),
//! }
//! # Ok::<(), btf_resolve::Error>(())
//! ```

pub mod check;
pub mod detail;
pub mod gen;
pub mod report;
pub mod write;

pub use crate::check::check;
pub use crate::report::report_json;
pub use crate::write::{write_in_place, write_section, write_with, WriteMode};
pub use btf_match::btf_ids::{elf, symbols};

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use btf::{Btf, NameIndex};

use crate::elf::{Found, IdsSection, RawSymbol};
use crate::symbols::{Parsed, SlotKind};

/// What went wrong: a message that names the file, set, symbol, object file
/// and section offset where they are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl From<btf_match::Error> for Error {
    fn from(e: btf_match::Error) -> Self {
        Error(e.0)
    }
}

impl Error {
    /// A new error.
    pub fn new(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<btf::Error> for Error {
    fn from(e: btf::Error) -> Self {
        Error(e.to_string())
    }
}

/// One id slot: a 4-byte word of `.BTF_ids` marked by a slot symbol.
#[derive(Debug, Clone)]
pub struct Slot {
    /// The kind looked up.
    pub kind: SlotKind,
    /// The type name.
    pub name: Vec<u8>,
    /// Offset in the section.
    pub offset: u64,
    /// The symbol.
    pub symbol: RawSymbol,
}

/// A `BTF_SET` or `BTF_SET8`.
#[derive(Debug, Clone)]
pub struct Set {
    /// Whether this is a set8 (pairs of id and flags).
    pub set8: bool,
    /// The set's name.
    pub name: Vec<u8>,
    /// Offset of the count word in the section.
    pub offset: u64,
    /// Number of members (from the symbol's size).
    pub count: u64,
    /// The symbol.
    pub symbol: RawSymbol,
}

impl Set {
    /// Size of one entry.
    pub fn entry_size(&self) -> u64 {
        if self.set8 {
            8
        } else {
            4
        }
    }

    /// Offset of the first entry.
    pub fn entries_offset(&self) -> u64 {
        self.offset + self.entry_size()
    }

    /// The set's byte range in the section.
    pub fn end(&self) -> u64 {
        self.entries_offset()
            .saturating_add(self.count.saturating_mul(self.entry_size()))
    }
}

/// A `BTF_ID_LIST` label (any other symbol in the section).
#[derive(Debug, Clone)]
pub struct Label {
    /// The label's name.
    pub name: Vec<u8>,
    /// Offset in the section.
    pub offset: u64,
}

/// The symbols of `.BTF_ids`, sorted into slots, sets and labels.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// Number of `__BTF_ID__` symbols.
    pub btf_id_symbols: usize,
    /// Id slots, in symbol-table order.
    pub slots: Vec<Slot>,
    /// Sets, in symbol-table order.
    pub sets: Vec<Set>,
    /// Other symbols (list labels), in symbol-table order.
    pub labels: Vec<Label>,
}

fn sym_name(s: &RawSymbol) -> String {
    String::from_utf8_lossy(&s.name).into_owned()
}

/// Where a symbol is, for messages: `symbol X (object file F) at .BTF_ids offset 0xN`.
pub(crate) fn sym_at(s: &RawSymbol, off: Option<u64>) -> String {
    let mut m = format!("symbol {}", sym_name(s));
    if let Some(f) = &s.file {
        m += &format!(" (object file {f})");
    }
    match off {
        Some(o) => m += &format!(" at .BTF_ids offset {o:#x}"),
        None => m += &format!(" (st_value {:#x})", s.value),
    }
    m
}

/// Sorts the section's symbols into slots, sets and labels, checking names,
/// offsets and sizes against the section.
pub fn collect(sec: &IdsSection) -> Result<Collected, Error> {
    let mut c = Collected::default();
    let mut set_names: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for s in &sec.symbols {
        let off = s.value.checked_sub(sec.addr);
        let parsed = symbols::parse(&s.name)
            .map_err(|why| Error::new(format!("{}: malformed name: {why}", sym_at(s, off))))?;
        let Some(parsed) = parsed else {
            if let Some(o) = off.filter(|&o| o <= sec.size) {
                c.labels.push(Label {
                    name: s.name.clone(),
                    offset: o,
                });
            }
            continue;
        };
        c.btf_id_symbols += 1;
        let off = match off {
            Some(o) if o.checked_add(4).is_some_and(|e| e <= sec.size) => o,
            _ => {
                return Err(Error::new(format!(
                    "{}: points outside .BTF_ids (address {:#x}, section {:#x}..{:#x})",
                    sym_at(s, off),
                    s.value,
                    sec.addr,
                    sec.addr.saturating_add(sec.size)
                )))
            }
        };
        match parsed {
            Parsed::Slot { kind, name } => c.slots.push(Slot {
                kind,
                name,
                offset: off,
                symbol: s.clone(),
            }),
            Parsed::Set { set8, name } => {
                let what = if set8 { "set8" } else { "set" };
                let set_name = String::from_utf8_lossy(&name).into_owned();
                if let Some(&prev) = set_names.get(&name) {
                    let p: &Set = &c.sets[prev];
                    return Err(Error::new(format!(
                        "duplicate set name '{set_name}': {} and {}",
                        sym_at(&p.symbol, Some(p.offset)),
                        sym_at(s, Some(off))
                    )));
                }
                let esz = if set8 { 8 } else { 4 };
                if s.size == 0 {
                    return Err(Error::new(format!(
                        "{what} '{set_name}', {}: size 0: the BTF_{}_END is missing",
                        sym_at(s, Some(off)),
                        what.to_ascii_uppercase()
                    )));
                }
                if s.size < esz || s.size % esz != 0 {
                    return Err(Error::new(format!(
                        "{what} '{set_name}', {}: size {} is not a whole number of {esz}-byte entries",
                        sym_at(s, Some(off)),
                        s.size
                    )));
                }
                let set = Set {
                    set8,
                    name,
                    offset: off,
                    count: s.size / esz - 1,
                    symbol: s.clone(),
                };
                if set.end() > sec.size || set.count > u64::from(u32::MAX) {
                    return Err(Error::new(format!(
                        "{what} '{set_name}', {}: its {} entries end at offset {:#x}, past the end of .BTF_ids ({:#x})",
                        sym_at(s, Some(off)),
                        set.count,
                        set.end(),
                        sec.size
                    )));
                }
                set_names.insert(set.name.clone(), c.sets.len());
                c.sets.push(set);
            }
        }
    }
    Ok(c)
}

/// What resolving reports besides the bytes.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// `__BTF_ID__` symbols.
    pub symbols: usize,
    /// Id slots marked by a symbol.
    pub slots: usize,
    /// Words no symbol covers: `BTF_ID_UNUSED` entries of lists and sets
    /// (which stay 0). `slots + unused` is every id word of the section.
    pub unused: usize,
    /// `BTF_SET`s.
    pub sets: usize,
    /// `BTF_SET8`s.
    pub set8s: usize,
    /// Distinct names looked up.
    pub names: usize,
    /// Names not found.
    pub unresolved: usize,
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Warnings are errors (upstream `--fatal_warnings`).
    pub fatal_warnings: bool,
    /// Run the extra checks (`--check`).
    pub check: bool,
    /// How to write the file.
    pub write: WriteMode,
}

/// The result of resolving one section in memory.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The section as found.
    pub section: IdsSection,
    /// The symbols.
    pub collected: Collected,
    /// The new bytes of the section.
    pub bytes: Vec<u8>,
    /// Warning lines, as resolve_btfids prints them (no newline).
    pub warnings: Vec<String>,
    /// `-v` lines.
    pub verbose: Vec<String>,
    /// Counts.
    pub stats: Stats,
    /// The id each (kind, name) resolved to (0: not found).
    pub ids: BTreeMap<(SlotKind, Vec<u8>), u32>,
}

pub(crate) fn rd(buf: &[u8], off: u64, big: bool) -> u32 {
    let o = off as usize;
    let w = [buf[o], buf[o + 1], buf[o + 2], buf[o + 3]];
    if big {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
}

pub(crate) fn wr(buf: &mut [u8], off: u64, v: u32, big: bool) {
    let o = off as usize;
    let w = if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    };
    buf[o..o + 4].copy_from_slice(&w);
}

pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Resolves the section in memory: `section` are the section's current bytes,
/// `btf` the BTF to look names up in (split BTF includes its base).
pub fn plan(
    sec: IdsSection,
    section: &[u8],
    btf: &Btf,
    index: &NameIndex,
    opts: &Options,
) -> Result<Plan, Error> {
    if section.len() as u64 != sec.size {
        return Err(Error::new("internal: section bytes and header disagree"));
    }
    let c = collect(&sec)?;
    let big = sec.big_endian;

    // Every distinct name, looked up once.
    let mut all_ids: BTreeMap<(SlotKind, Vec<u8>), Vec<u32>> = BTreeMap::new();
    let mut nr: BTreeMap<SlotKind, usize> = BTreeMap::new();
    for s in &c.slots {
        *nr.entry(s.kind).or_default() += 1;
        all_ids.entry((s.kind, s.name.clone())).or_insert_with(|| {
            index
                .find_all_kind(btf, s.name.as_slice(), s.kind.btf_kind())
                .map(|t| t.0)
                .collect()
        });
    }

    // resolve_btfids walks the types in id order and stops looking at a kind
    // once its counter (symbols of the kind, minus names found) reaches 0, so
    // a later duplicate is reported only while the counter is positive.
    let mut firsts: BTreeMap<SlotKind, Vec<u32>> = BTreeMap::new();
    for ((k, _), ids) in &all_ids {
        if let Some(&f) = ids.first() {
            firsts.entry(*k).or_default().push(f);
        }
    }
    for v in firsts.values_mut() {
        v.sort_unstable();
    }
    let mut dup_warnings: Vec<(u32, String)> = Vec::new();
    for ((k, name), ids) in &all_ids {
        let Some(&first) = ids.first() else { continue };
        let total = nr.get(k).copied().unwrap_or(0);
        let fs = firsts.get(k).map_or(&[][..], Vec::as_slice);
        for &t in &ids[1..] {
            let found_before = fs.partition_point(|&f| f < t);
            if total > found_before {
                dup_warnings.push((
                    t,
                    format!(
                        "WARN: multiple IDs found for '{}': {first}, {t} - using {first}",
                        lossy(name)
                    ),
                ));
            }
        }
    }
    dup_warnings.sort_by_key(|w| w.0);
    let mut warnings: Vec<String> = dup_warnings.into_iter().map(|w| w.1).collect();

    let ids: BTreeMap<(SlotKind, Vec<u8>), u32> = all_ids
        .iter()
        .map(|(k, v)| (k.clone(), v.first().copied().unwrap_or(0)))
        .collect();

    // resolve_btfids keeps names in trees walked from the largest name down.
    for kind in SlotKind::ALL {
        for ((k, name), &id) in ids.iter().rev() {
            if *k == kind && id == 0 {
                warnings.push(format!(
                    "WARN: resolve_btfids: unresolved symbol {}",
                    lossy(name)
                ));
            }
        }
    }

    // Sets may not overlap, and no slot may sit on a set's header words.
    let mut ranges: Vec<(u64, u64, usize)> = c
        .sets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.offset, t.end(), i))
        .collect();
    ranges.sort_unstable();
    for w in ranges.windows(2) {
        if w[1].0 < w[0].1 {
            let (x, y) = (&c.sets[w[0].2], &c.sets[w[1].2]);
            return Err(Error::new(format!(
                "sets '{}' ({}) and '{}' ({}) overlap",
                lossy(&x.name),
                sym_at(&x.symbol, Some(x.offset)),
                lossy(&y.name),
                sym_at(&y.symbol, Some(y.offset))
            )));
        }
    }
    // Set members: slots on an entry's id word.
    let mut member_of: BTreeMap<u64, usize> = BTreeMap::new();
    for (si, set) in c.sets.iter().enumerate() {
        let what = if set.set8 { "set8" } else { "set" };
        for s in &c.slots {
            if s.offset + 4 > set.offset && s.offset < set.end() {
                if s.offset < set.entries_offset()
                    || (s.offset - set.entries_offset()) % set.entry_size() != 0
                {
                    return Err(Error::new(format!(
                        "{what} '{}': {} is not on the id word of an entry",
                        lossy(&set.name),
                        sym_at(&s.symbol, Some(s.offset))
                    )));
                }
                member_of.insert(s.offset, si);
            }
        }
    }
    // resolve_btfids' write order: kinds in turn, names from the largest
    // down, each name's slots in symbol order; `final_id` is what each
    // offset holds after all of them.
    let mut write_order: Vec<&Slot> = Vec::with_capacity(c.slots.len());
    for kind in SlotKind::ALL {
        let mut of_kind: Vec<&Slot> = c.slots.iter().filter(|s| s.kind == kind).collect();
        of_kind.sort_by(|a, b| b.name.cmp(&a.name));
        write_order.extend(of_kind);
    }
    let id_of = |s: &Slot| ids.get(&(s.kind, s.name.clone())).copied().unwrap_or(0);
    let final_id: BTreeMap<u64, u32> = write_order.iter().map(|s| (s.offset, id_of(s))).collect();
    // A set whose members' ids are all already in it is only re-sorted (see
    // the invariants); a set8 holding other ids is refused.
    let mut already = vec![false; c.sets.len()];
    for (si, set) in c.sets.iter().enumerate() {
        let member_offs: Vec<u64> = member_of
            .iter()
            .filter(|(_, &i)| i == si)
            .map(|(&o, _)| o)
            .collect();
        let mut have: Vec<u32> = (0..set.count)
            .map(|i| rd(section, set.entries_offset() + set.entry_size() * i, big))
            .collect();
        if have.iter().all(|&v| v == 0) {
            continue; // as the linker left it
        }
        have.sort_unstable();
        let mut contained = true;
        for &o in &member_offs {
            let id = final_id.get(&o).copied().unwrap_or(0);
            match have.binary_search(&id) {
                Ok(i) => {
                    have.remove(i);
                }
                Err(_) => contained = false,
            }
        }
        if contained {
            already[si] = true;
        } else if set.set8 {
            return Err(Error::new(format!(
                "set8 '{}', {}: already holds ids that are not the ones this BTF gives; its flags cannot be matched to its kfuncs (resolve the unresolved object, or with the same BTF)",
                lossy(&set.name),
                sym_at(&set.symbol, Some(set.offset))
            )));
        }
    }

    let mut buf = section.to_vec();
    let mut verbose = Vec::new();
    for s in write_order {
        let id = id_of(s);
        if member_of.get(&s.offset).is_some_and(|&si| already[si]) {
            continue;
        }
        verbose.push(format!(
            "patching addr {:5}: ID {:7} [{}]",
            s.offset,
            id,
            lossy(&s.name)
        ));
        wr(&mut buf, s.offset, id, big);
    }
    let mut set_order: Vec<usize> = (0..c.sets.len()).collect();
    set_order.sort_by(|&a, &b| c.sets[b].name.cmp(&c.sets[a].name));
    for &si in &set_order {
        let set = &c.sets[si];
        verbose.push(format!(
            "patching addr {:5}: ID {:7} [{}]",
            set.offset,
            set.count,
            lossy(&set.name)
        ));
        wr(&mut buf, set.offset, set.count as u32, big);
    }
    for &si in &set_order {
        let set = &c.sets[si];
        let start = set.entries_offset() as usize;
        let end = set.end() as usize;
        let region = &mut buf[start..end];
        let esz = set.entry_size() as usize;
        let mut entries: Vec<[u8; 8]> = region
            .chunks_exact(esz)
            .map(|ch| {
                let mut e = [0u8; 8];
                e[..esz].copy_from_slice(ch);
                e
            })
            .collect();
        let key = |e: &[u8; 8]| {
            let w = [e[0], e[1], e[2], e[3]];
            (if big {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }) as i32
        };
        entries.sort_by_key(key);
        for (ch, e) in region.chunks_exact_mut(esz).zip(&entries) {
            ch.copy_from_slice(&e[..esz]);
        }
        verbose.push(format!(
            "sorting  addr {:5}: cnt {:6} [{}]",
            set.offset,
            set.count,
            lossy(&set.name)
        ));
    }

    let stats = Stats {
        symbols: c.btf_id_symbols,
        slots: c.slots.len(),
        unused: unused_words(&c, sec.size),
        sets: c.sets.iter().filter(|s| !s.set8).count(),
        set8s: c.sets.iter().filter(|s| s.set8).count(),
        names: ids.len(),
        unresolved: ids.values().filter(|&&i| i == 0).count(),
    };
    let plan = Plan {
        section: sec,
        collected: c,
        bytes: buf,
        warnings,
        verbose,
        stats,
        ids,
    };
    if opts.fatal_warnings && !plan.warnings.is_empty() {
        return Err(Error::new(format!(
            "{} warning(s), fatal with --fatal_warnings: {}",
            plan.warnings.len(),
            plan.warnings.join("; ")
        )));
    }
    if opts.check {
        let problems = check(&plan, btf);
        if !problems.is_empty() {
            return Err(Error::new(format!(
                "--check found {} problem(s):\n  {}",
                problems.len(),
                problems.join("\n  ")
            )));
        }
    }
    Ok(plan)
}

/// The 4-byte words of the section (of `size` bytes) that no symbol covers:
/// not a slot, a set count, a set8 header's flags or an entry's flags word.
fn unused_words(c: &Collected, size: u64) -> usize {
    let mut covered = vec![false; (size / 4) as usize];
    let mut mark = |o: u64| {
        if o.is_multiple_of(4) {
            if let Some(w) = covered.get_mut((o / 4) as usize) {
                *w = true;
            }
        }
    };
    for s in &c.slots {
        mark(s.offset);
    }
    for set in &c.sets {
        mark(set.offset);
        if set.set8 {
            mark(set.offset + 4);
            for i in 0..set.count {
                mark(set.entries_offset() + 8 * i + 4);
            }
        }
    }
    if c.slots.iter().any(|s| !s.offset.is_multiple_of(4))
        || c.sets.iter().any(|s| s.offset % 4 != 0)
    {
        return 0; // unaligned layouts (modules): no word grid to count on
    }
    covered.iter().filter(|&&w| !w).count()
}

/// The inverse of resolving, for tests and benchmarks: from a resolved plan
/// (on a resolved file), the section as the linker left it: every slot and
/// set count 0, each set8 kfunc's flags back beside its own slot (taken from
/// the sorted pair holding its id). The set8 header flags stay.
pub fn unresolved_section(plan: &Plan) -> Vec<u8> {
    let big = plan.section.big_endian;
    let c = &plan.collected;
    let orig = &plan.bytes;
    let mut buf = orig.clone();
    for set in c.sets.iter().filter(|s| s.set8) {
        let mut pairs: Vec<(u32, u32, bool)> = (0..set.count)
            .map(|i| {
                let o = set.entries_offset() + 8 * i;
                (rd(orig, o, big), rd(orig, o + 4, big), false)
            })
            .collect();
        for s in &c.slots {
            if s.offset < set.entries_offset() || s.offset >= set.end() {
                continue;
            }
            let id = plan
                .ids
                .get(&(s.kind, s.name.clone()))
                .copied()
                .unwrap_or(0);
            if let Some(p) = pairs.iter_mut().find(|p| p.0 == id && !p.2) {
                p.2 = true;
                wr(&mut buf, s.offset + 4, p.1, big);
            }
        }
    }
    for s in &c.slots {
        wr(&mut buf, s.offset, 0, big);
    }
    for set in &c.sets {
        wr(&mut buf, set.offset, 0, big);
    }
    buf
}

/// The result of [`resolve_file`].
#[derive(Debug)]
pub enum Outcome {
    /// Nothing to resolve (no `.BTF_ids` or no symbol table): the reason.
    Nothing(&'static str),
    /// Resolved; `written` says whether the file changed.
    Resolved {
        /// The plan.
        plan: Box<Plan>,
        /// Whether bytes changed (and the file was rewritten).
        written: bool,
        /// The BTF the names were looked up in.
        btf: Box<Btf>,
    },
}

/// Where the BTF comes from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--btf FILE`: BTF (raw or ELF) to use instead of the ELF's `.BTF`.
    pub btf: Option<PathBuf>,
    /// `-b BASE`: base BTF for split BTF (a module on vmlinux).
    pub base: Option<PathBuf>,
}

pub(crate) fn read_map(path: &Path) -> Result<memmap2::Mmap, Error> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::new(format!("{}: cannot open: {e}", path.display())))?;
    // SAFETY: the map is read-only and private to this process; the file is
    // replaced by rename, never written in place, so the mapped bytes do not
    // change under us unless another program writes the file meanwhile, which
    // resolve_btfids does not guard against either.
    unsafe { memmap2::Mmap::map(&f) }
        .map_err(|e| Error::new(format!("{}: cannot map: {e}", path.display())))
}

/// Loads the BTF to resolve against: `--btf FILE` or the ELF's own `.BTF`
/// (on `.BTF.base` when the ELF has one, as the 6.12 tool does; else on `-b`).
pub fn load_btf(elf_path: &Path, elf_data: &[u8], src: &Sources) -> Result<Btf, Error> {
    let base = match &src.base {
        Some(b) => {
            Some(Arc::new(btf::load(b).map_err(|e| {
                Error::new(format!("{}: base BTF: {e}", b.display()))
            })?))
        }
        None => None,
    };
    if let Some(p) = &src.btf {
        let data = btf::read::file::read_file(p)
            .map_err(|e| Error::new(format!("{}: {e}", p.display())))?;
        return btf::parse_any(&data, base)
            .map_err(|e| Error::new(format!("{}: BTF: {e}", p.display())));
    }
    let sec = btf::read::elf::section_data(elf_data, ".BTF")
        .map_err(|e| Error::new(format!("{}: {e}", elf_path.display())))?;
    let Some(sec) = sec else {
        return Err(Error::new(format!(
            "{}: no .BTF section: BTF generation failed or was skipped (pahole -J did not run, or CONFIG_DEBUG_INFO_BTF is off); pass --btf FILE to use BTF from elsewhere",
            elf_path.display()
        )));
    };
    let dist = btf::read::elf::section_data(elf_data, ".BTF.base")
        .map_err(|e| Error::new(format!("{}: {e}", elf_path.display())))?;
    let base = match dist {
        Some(d) => Some(Arc::new(Btf::parse(&d).map_err(|e| {
            Error::new(format!("{}: .BTF.base: {e}", elf_path.display()))
        })?)),
        None => base,
    };
    btf::read::raw::parse(&sec, base)
        .map_err(|e| Error::new(format!("{}: .BTF section: {e}", elf_path.display())))
}

/// Resolves `path` in place: reads it, plans, and when a byte changes writes
/// the file once, atomically ([`write_section`]).
pub fn resolve_file(path: &Path, src: &Sources, opts: &Options) -> Result<Outcome, Error> {
    let map = read_map(path)?;
    let data: &[u8] = &map;
    let sec = match elf::read(data).map_err(|e| Error::new(format!("{}: {e}", path.display())))? {
        Found::Nothing(why) => return Ok(Outcome::Nothing(why)),
        Found::Ids(s) => s,
    };
    let btf = load_btf(path, data, src)?;
    let index = NameIndex::new(&btf);
    let (off, size) = (sec.file_offset as usize, sec.size as usize);
    let old = &data[off..off + size];
    let plan = plan(sec, old, &btf, &index, opts)
        .map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
    let written = plan.bytes != old;
    if written {
        write_with(
            opts.write,
            path,
            data,
            plan.section.file_offset,
            &plan.bytes,
        )?;
    }
    Ok(Outcome::Resolved {
        plan: Box::new(plan),
        written,
        btf: Box::new(btf),
    })
}

/// Writes `output`: `input` with its `.BTF_ids` unresolved
/// ([`unresolved_section`]). `Ok(false)`: nothing to unresolve (copied as is).
pub fn unresolve_file(input: &Path, output: &Path, src: &Sources) -> Result<bool, Error> {
    let data = std::fs::read(input).map_err(|e| Error::new(format!("{}: {e}", input.display())))?;
    let sec = match elf::read(&data).map_err(|e| Error::new(format!("{}: {e}", input.display())))? {
        Found::Nothing(_) => {
            std::fs::write(output, &data)
                .map_err(|e| Error::new(format!("{}: {e}", output.display())))?;
            return Ok(false);
        }
        Found::Ids(s) => s,
    };
    let btf = load_btf(input, &data, src)?;
    let index = NameIndex::new(&btf);
    let (off, size) = (sec.file_offset as usize, sec.size as usize);
    let mut out = data.clone();
    let plan = plan(
        sec,
        &data[off..off + size],
        &btf,
        &index,
        &Options::default(),
    )?;
    let mut resolved = plan.clone();
    resolved.bytes = data[off..off + size].to_vec();
    out[off..off + size].copy_from_slice(&unresolved_section(&resolved));
    std::fs::write(output, &out).map_err(|e| Error::new(format!("{}: {e}", output.display())))?;
    Ok(true)
}

/// `--patch_btfids BLOB ELF`: puts the bytes of BLOB (a resolved `.BTF_ids`,
/// as newer resolve_btfids write it to `<elf>.BTF_ids`) into ELF's `.BTF_ids`.
/// The sizes must agree.
pub fn patch_from_blob(elf_path: &Path, blob: &[u8], mode: WriteMode) -> Result<bool, Error> {
    let map = read_map(elf_path)?;
    let data: &[u8] = &map;
    let sec = match elf::read(data)
        .map_err(|e| Error::new(format!("{}: {e}", elf_path.display())))?
    {
        Found::Nothing(why) => return Err(Error::new(format!("{}: {why}", elf_path.display()))),
        Found::Ids(s) => s,
    };
    if blob.len() as u64 != sec.size {
        return Err(Error::new(format!(
            "{}: .BTF_ids is {} bytes, the blob {}",
            elf_path.display(),
            sec.size,
            blob.len()
        )));
    }
    let (off, size) = (sec.file_offset as usize, sec.size as usize);
    if &data[off..off + size] == blob {
        return Ok(false);
    }
    write_with(mode, elf_path, data, sec.file_offset, blob)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use btf::Builder;

    /// BTF with funcs f1..f3 (ids in that order) and struct s.
    fn btf() -> (Btf, [u32; 4]) {
        let mut b = Builder::new();
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        let proto = b.add_func_proto(int, &[("x", int)]);
        let f1 = b.add_func("f1", proto, 0);
        let f2 = b.add_func("f2", proto, 0);
        let f3 = b.add_func("f3", proto, 0);
        let s = b.add_struct("s", 4, &[("a", int, 0)]);
        (b.finish().unwrap(), [f1.0, f2.0, f3.0, s.0])
    }

    fn sym(index: usize, name: &str, value: u64, size: u64) -> RawSymbol {
        RawSymbol {
            index,
            name: name.as_bytes().to_vec(),
            value,
            size,
            file: Some("t.c".into()),
        }
    }

    /// A section at address 0x1000: list [s, f3], set8 {f3:0x30, f1:0x10, f2:0x20}
    /// with header flags 1, set {f2, f1}.
    fn section(big: bool) -> (IdsSection, Vec<u8>) {
        let a = 0x1000;
        let symbols = vec![
            sym(1, "list", a, 0),
            sym(2, "__BTF_ID__struct__s__1", a, 4),
            sym(3, "__BTF_ID__func__f3__2", a + 4, 4),
            sym(4, "__BTF_ID__set8__k", a + 8, 32),
            sym(5, "__BTF_ID__func__f3__3", a + 16, 4),
            sym(6, "__BTF_ID__func__f1__4", a + 24, 4),
            sym(7, "__BTF_ID__func__f2__5", a + 32, 4),
            sym(8, "__BTF_ID__set__t", a + 40, 12),
            sym(9, "__BTF_ID__func__f2__6", a + 44, 4),
            sym(10, "__BTF_ID__func__f1__7", a + 48, 4),
        ];
        let mut bytes = vec![0u8; 52];
        wr(&mut bytes, 12, 1, big);
        wr(&mut bytes, 20, 0x30, big);
        wr(&mut bytes, 28, 0x10, big);
        wr(&mut bytes, 36, 0x20, big);
        let sec = IdsSection {
            index: 3,
            file_offset: 0x41,
            addr: a,
            size: 52,
            big_endian: big,
            symbols,
        };
        (sec, bytes)
    }

    fn words(b: &[u8], big: bool) -> Vec<u32> {
        (0..b.len() as u64 / 4).map(|i| rd(b, 4 * i, big)).collect()
    }

    #[test]
    fn both_byte_orders_sets_sorted_flags_kept_idempotent() {
        let (btf, [f1, f2, f3, s]) = btf();
        let index = NameIndex::new(&btf);
        for big in [false, true] {
            let (sec, bytes) = section(big);
            let p = plan(sec.clone(), &bytes, &btf, &index, &Options::default()).unwrap();
            assert!(p.warnings.is_empty(), "{:?}", p.warnings);
            assert_eq!(
                words(&p.bytes, big),
                vec![s, f3, 3, 1, f1, 0x10, f2, 0x20, f3, 0x30, 2, f1, f2]
            );
            let again = plan(sec.clone(), &p.bytes, &btf, &index, &Options::default()).unwrap();
            assert_eq!(again.bytes, p.bytes, "second run changed the section");
            // Unresolving gives the input back.
            assert_eq!(unresolved_section(&p), bytes);
            assert_eq!(
                (p.stats.symbols, p.stats.slots, p.stats.sets, p.stats.set8s),
                (9, 7, 1, 1)
            );
        }
    }

    #[test]
    fn set_with_an_unused_entry_is_idempotent() {
        // resolve_btfids writes f2 back at its symbol's place on a second run,
        // over the 0 the sort moved there.
        let (btf, [_, f2, ..]) = btf();
        let index = NameIndex::new(&btf);
        let symbols = vec![
            sym(1, "__BTF_ID__set__u", 0, 12),
            sym(2, "__BTF_ID__func__f2__1", 4, 4),
        ];
        let sec = IdsSection {
            index: 1,
            file_offset: 0,
            addr: 0,
            size: 12,
            big_endian: false,
            symbols,
        };
        let p = plan(sec.clone(), &[0; 12], &btf, &index, &Options::default()).unwrap();
        assert_eq!(words(&p.bytes, false), vec![2, 0, f2]);
        let again = plan(sec, &p.bytes, &btf, &index, &Options::default()).unwrap();
        assert_eq!(again.bytes, p.bytes);
    }

    #[test]
    fn set8_resolved_with_other_ids_is_refused() {
        let (btf, _) = btf();
        let index = NameIndex::new(&btf);
        let (sec, mut bytes) = section(false);
        wr(&mut bytes, 16, 77, false);
        let e = plan(sec, &bytes, &btf, &index, &Options::default()).unwrap_err();
        assert!(e.message().contains("set8 'k'"), "{e}");
    }

    #[test]
    fn faults_name_symbol_file_and_offset() {
        let (btf, _) = btf();
        let index = NameIndex::new(&btf);
        let (mut sec, bytes) = section(false);
        sec.symbols[8].value = 0x1000 + 52;
        let e = plan(sec, &bytes, &btf, &index, &Options::default()).unwrap_err();
        let m = e.message();
        assert!(
            m.contains("__BTF_ID__func__f2__6") && m.contains("object file t.c"),
            "{m}"
        );
        assert!(m.contains("points outside .BTF_ids"), "{m}");
        let (mut sec, bytes) = section(false);
        sec.symbols[7].size = 40;
        let e = plan(sec, &bytes, &btf, &index, &Options::default()).unwrap_err();
        assert!(e.message().contains("past the end of .BTF_ids"), "{e}");
        let (mut sec, bytes) = section(false);
        sec.symbols[4].value += 4;
        let e = plan(sec, &bytes, &btf, &index, &Options::default()).unwrap_err();
        assert!(
            e.message().contains("not on the id word of an entry"),
            "{e}"
        );
        let (mut sec, bytes) = section(false);
        sec.symbols[2].name = b"__BTF_ID__func__f3".to_vec();
        let e = plan(sec, &bytes, &btf, &index, &Options::default()).unwrap_err();
        assert!(e.message().contains("malformed name"), "{e}");
    }

    #[test]
    fn missing_names_warn_and_fatal() {
        let (btf, _) = btf();
        let index = NameIndex::new(&btf);
        let (mut sec, bytes) = section(false);
        sec.symbols[1].name = b"__BTF_ID__struct__nope__1".to_vec();
        let p = plan(sec.clone(), &bytes, &btf, &index, &Options::default()).unwrap();
        assert_eq!(
            p.warnings,
            vec!["WARN: resolve_btfids: unresolved symbol nope"]
        );
        let opts = Options {
            fatal_warnings: true,
            ..Options::default()
        };
        assert!(plan(sec, &bytes, &btf, &index, &opts).is_err());
    }
}
