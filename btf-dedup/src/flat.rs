//! The flat type table the dedup passes work on.
//!
//! The type section is kept as it is on disk, as a vector of `u32` words in
//! native order, with one word offset per type id. This is what libbpf's
//! `struct btf` holds too, and it is much smaller than one allocated
//! [`btf::Type`] per record (1.9 million types take 48 MB here, against about
//! 150 MB as `Vec<Type>`), which matters for the memory budget of large inputs.
//!
//! Invariants established by [`Table::index_from`] and relied on everywhere:
//! - `words[0..3]` is a zero record standing for `void` (id 0): name 0,
//!   info 0 (kind UNKN), size 0, as libbpf's static void type;
//! - for every id in `1..count()`, the whole record of the type, trailing
//!   records included, lies inside `words` starting at `offs[id]`;
//! - every kind is one of 1..=19 and no reserved `info` bit is set (the same
//!   record checks as the `btf` crate's parser);
//! - after [`Table::check_refs`]: every type id a record holds is below
//!   `count()` and every string offset is inside the string sections.
//!
//! Accessors never panic even if an invariant were broken: out-of-range reads
//! give 0 and out-of-range writes are dropped.

use btf::{Error, Result};
use rayon::prelude::*;

/// The most type ids a table may hold (libbpf's `BTF_MAX_NR_TYPES`).
const MAX_TYPES: usize = 0x7fff_ffff;

/// Types per parallel work item.
pub(crate) const CHUNK: usize = 16384;

/// `BTF_KIND_*` numbers (the core's kind table).
pub(crate) use btf::kind::num as kind;

use btf::format::{self, Record, RefBounds, RefMax};

/// The type records of a BTF (and of its base, for split BTF) as words.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// All records, base first, after the zero `void` record.
    pub words: Vec<u32>,
    /// `offs[id]`: word offset of type `id` in `words` (`offs[0] == 0`).
    pub offs: Vec<u32>,
    /// The largest string offset and type id the records indexed by the last
    /// [`Table::index_from`] hold: [`Table::check_refs`] only scans again,
    /// to name the culprit, when one is out of range.
    max_refs: RefMax,
}

impl Table {
    /// A table holding only `void`.
    pub fn new() -> Table {
        Table {
            words: vec![0, 0, 0],
            offs: vec![0],
            max_refs: RefMax::default(),
        }
    }

    /// A copy with room for `extra` more words.
    pub fn clone_with_capacity(&self, extra: usize) -> Table {
        let mut words = Vec::with_capacity(self.words.len() + extra);
        hint_huge_pages(&mut words);
        words.extend_from_slice(&self.words);
        let mut offs = Vec::with_capacity(self.offs.len() + extra / 3);
        offs.extend_from_slice(&self.offs);
        Table {
            words,
            offs,
            max_refs: self.max_refs,
        }
    }

    /// The number of type ids, `void` included.
    #[inline]
    pub fn count(&self) -> u32 {
        self.offs.len() as u32
    }

    /// Appends the records of a type section given as words (already in native
    /// order). `file_off` is where the section starts in the input, for errors.
    /// Checks each record as the `btf` crate's parser does.
    #[cfg(test)]
    pub fn push_section(&mut self, sec: &[u32], file_off: u64) -> Result<()> {
        let first = self.words.len();
        self.words.extend_from_slice(sec);
        self.index_from(first, file_off)
    }

    /// Indexes the records in `words[first..]` (appended raw), checking each
    /// record as the `btf` crate's parser does ([`btf::format::walk_records`]).
    /// `file_off` is where they start in the input, for errors.
    pub fn index_from(&mut self, first: usize, file_off: u64) -> Result<()> {
        let sec_len = self.words.len().saturating_sub(first);
        // A record is at least 3 words: this bounds the reservation by the input.
        self.offs.reserve(sec_len / 3);
        hint_huge_pages(&mut self.offs);
        let offs = &mut self.offs;
        let (_, max) = format::walk_records(self.words.as_slice(), first, file_off, |at| {
            if at > u32::MAX as usize || offs.len() >= MAX_TYPES {
                return Err(Error::new("too many types"));
            }
            offs.push(at as u32);
            Ok(())
        })?;
        self.max_refs = max;
        Ok(())
    }

    /// Checks that the types from `first` on refer only to existing types and
    /// strings (`str_total` bytes of strings, base included).
    pub fn check_refs(&self, first: u32, str_total: u32) -> Result<()> {
        let bounds = RefBounds {
            type_count: self.count(),
            str_len: str_total,
            hint: if first == 1 { format::SPLIT_HINT } else { "" },
        };
        let words = self.words.as_slice();
        let m = self.max_refs;
        if m.str_off < bounds.str_len && m.type_id < bounds.type_count {
            return Ok(());
        }
        // In chunks, in parallel; the error reported is the lowest id's.
        let total = self.count();
        let chunks: Vec<(u32, u32)> = (first..total)
            .step_by(CHUNK)
            .map(|s| (s, s.saturating_add(CHUNK as u32).min(total)))
            .collect();
        let errs: Vec<Error> = chunks
            .par_iter()
            .filter_map(|&(a, b)| {
                format::check_ref_ranges(words, (a..b).map(|id| (id, self.off(id))), None, &bounds)
                    .err()
            })
            .collect();
        match errs.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Word `i` of the table (0 past the end).
    #[inline]
    pub fn w(&self, i: usize) -> u32 {
        self.words.get(i).copied().unwrap_or(0)
    }

    /// Sets word `i` (ignored past the end).
    #[inline]
    pub fn set_w(&mut self, i: usize, v: u32) {
        if let Some(x) = self.words.get_mut(i) {
            *x = v;
        }
    }

    /// Word offset of type `id`'s record (that of `void` for bad ids).
    #[inline]
    pub fn off(&self, id: u32) -> usize {
        self.offs.get(id as usize).copied().unwrap_or(0) as usize
    }

    /// `info` of type `id`.
    #[inline]
    pub fn info(&self, id: u32) -> u32 {
        self.w(self.off(id) + 1)
    }

    /// Kind of type `id` (0 for `void`).
    #[inline]
    pub fn kind(&self, id: u32) -> u8 {
        format::info_kind(self.info(id))
    }

    /// The whole record of type `id` (empty for bad ids).
    #[inline]
    pub fn record(&self, id: u32) -> &[u32] {
        let off = self.off(id);
        let len = if id == 0 {
            format::HEAD_WORDS
        } else {
            Record::new(self.words.as_slice(), off).len_words()
        };
        self.words.get(off..off + len).unwrap_or(&[])
    }

    /// Calls `f(word index, string offset)` for each string offset of type
    /// `id`, in libbpf's order: the name, then member, enumerator and
    /// parameter names.
    #[inline]
    pub fn for_each_str_off(&self, id: u32, f: impl FnMut(usize, u32)) {
        Record::new(self.words.as_slice(), self.off(id)).for_each_str_off(f)
    }

    /// Calls `f(word index, type id)` for each type id type `id` refers to, in
    /// libbpf's order (`btf_type_visit_type_ids`).
    #[inline]
    pub fn for_each_type_ref(&self, id: u32, f: impl FnMut(usize, u32)) {
        Record::new(self.words.as_slice(), self.off(id)).for_each_type_ref(f)
    }
}

/// Asks Linux to back a large vector's memory with huge pages: a hint that
/// saves most of the page faults of first touching tens of megabytes (the
/// kernel's "madvise" transparent huge page mode, common on distributions).
/// Call it after reserving and before writing. No effect elsewhere.
pub(crate) fn hint_huge_pages<T>(v: &mut Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
        }
        const MADV_HUGEPAGE: i32 = 14;
        let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
        if bytes < (8 << 20) {
            return;
        }
        let start = v.as_mut_ptr() as usize;
        let lo = (start + 4095) & !4095;
        let hi = start.saturating_add(bytes) & !4095;
        if hi > lo {
            // SAFETY: the range lies inside the vector's own allocation
            // (rounded inwards to whole pages, as madvise requires), and
            // MADV_HUGEPAGE only changes how the kernel backs those pages,
            // never their contents; the return value is ignored because the
            // call is a hint.
            unsafe {
                madvise(lo as *mut std::ffi::c_void, hi - lo, MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// Appends a type section, given as bytes in the given byte order, to
/// `words` as native words.
pub(crate) fn append_words(words: &mut Vec<u32>, bytes: &[u8], big_endian: bool) {
    let conv = if big_endian {
        u32::from_be_bytes
    } else {
        u32::from_le_bytes
    };
    words.extend(
        bytes
            .chunks_exact(4)
            .map(|c| conv([c[0], c[1], c[2], c[3]])),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_kind_and_truncation() {
        let mut t = Table::new();
        assert!(t.push_section(&[0, 20 << 24, 0], 24).is_err());
        let mut t = Table::new();
        assert!(t.push_section(&[0, 1 << 24, 4], 24).is_err());
        let mut t = Table::new();
        t.push_section(&[0, 1 << 24, 4, 32], 24).unwrap();
        assert_eq!(t.count(), 2);
        assert_eq!(t.kind(1), kind::INT);
        assert_eq!(t.kind(0), 0);
    }
}
