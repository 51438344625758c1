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

/// `BTF_KIND_*` numbers.
pub(crate) mod kind {
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const ENUM: u32 = 6;
    pub const FWD: u32 = 7;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FUNC: u32 = 12;
    pub const FUNC_PROTO: u32 = 13;
    pub const VAR: u32 = 14;
    pub const DATASEC: u32 = 15;
    pub const FLOAT: u32 = 16;
    pub const DECL_TAG: u32 = 17;
    pub const TYPE_TAG: u32 = 18;
    pub const ENUM64: u32 = 19;
}

use kind::*;

/// Number of `u32` words of a record of `kind` with `vlen`, header included,
/// or `None` for an unknown kind.
#[inline]
pub(crate) fn record_words(kind: u32, vlen: u32) -> Option<usize> {
    let v = vlen as usize;
    Some(
        3 + match kind {
            INT | VAR | DECL_TAG => 1,
            ARRAY => 3,
            STRUCT | UNION | ENUM64 | DATASEC => 3 * v,
            ENUM | FUNC_PROTO => 2 * v,
            PTR | FWD | TYPEDEF | VOLATILE | CONST | RESTRICT | FUNC | FLOAT | TYPE_TAG => 0,
            _ => return None,
        },
    )
}

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
    max_refs: (u32, u32),
}

impl Table {
    /// A table holding only `void`.
    pub fn new() -> Table {
        Table {
            words: vec![0, 0, 0],
            offs: vec![0],
            max_refs: (0, 0),
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
    /// record as the `btf` crate's parser does. `file_off` is where they start
    /// in the input, for errors.
    pub fn index_from(&mut self, first: usize, file_off: u64) -> Result<()> {
        let sec = self.words.get(first..).unwrap_or(&[]);
        // A record is at least 3 words: this bounds the reservation by the input.
        self.offs.reserve(sec.len() / 3);
        hint_huge_pages(&mut self.offs);
        let mut p = 0usize;
        let mut n = 0u32;
        let (mut max_str, mut max_type) = (0u32, 0u32);
        while p < sec.len() {
            n += 1;
            let at = |w: usize| file_off + 4 * w as u64;
            let hdr = sec.get(p..p + 3).ok_or_else(|| {
                Error::at(
                    at(p),
                    format!("type section truncated in the header of type #{n}"),
                )
            })?;
            let (info, sot) = (hdr[1], hdr[2]);
            let k = (info >> 24) & 0x1f;
            let vlen = info & 0xffff;
            let len = record_words(k, vlen).ok_or_else(|| {
                Error::at(
                    at(p + 1),
                    format!("unknown BTF kind {k} in type #{n} (info {info:#010x}); kinds 1..=19 are known"),
                )
            })?;
            if info & 0x60ff_0000 != 0 {
                return Err(Error::at(
                    at(p + 1),
                    format!("reserved info bits set in type #{n} (info {info:#010x})"),
                ));
            }
            let has_vlen = matches!(k, STRUCT | UNION | ENUM | FUNC_PROTO | DATASEC | ENUM64);
            if vlen != 0 && !has_vlen && k != FUNC {
                return Err(Error::at(
                    at(p + 1),
                    format!("type #{n} of kind {k} has vlen {vlen}, expected 0"),
                ));
            }
            let rec = sec.get(p..p + len).ok_or_else(|| {
                Error::at(
                    at(p),
                    format!("type section truncated in the trailing records of type #{n}"),
                )
            })?;
            if k == INT && rec.get(3).is_some_and(|v| v & 0xf000_0000 != 0) {
                return Err(Error::at(
                    at(p + 3),
                    format!("INT type #{n} has reserved encoding bits set"),
                ));
            }
            if k == FWD && sot != 0 {
                return Err(Error::at(
                    at(p + 2),
                    format!("FWD type #{n} has a non-zero size/type word {sot}"),
                ));
            }
            let abs = first + p;
            if abs > u32::MAX as usize - len || self.offs.len() >= MAX_TYPES {
                return Err(Error::new("too many types"));
            }
            let (ms, mt) = max_refs(k, rec);
            max_str = max_str.max(ms);
            max_type = max_type.max(mt);
            self.offs.push(abs as u32);
            p += len;
        }
        self.max_refs = (max_str, max_type);
        Ok(())
    }

    /// Checks that the types from `first` on refer only to existing types and
    /// strings (`str_total` bytes of strings, base included).
    pub fn check_refs(&self, first: u32, str_total: u32) -> Result<()> {
        let total = self.count();
        if self.max_refs.0 < str_total && self.max_refs.1 < total {
            return Ok(());
        }
        let hint = if first == 1 {
            " (split BTF? give its base)"
        } else {
            ""
        };
        let check = |id: u32| -> Result<()> {
            let mut bad = None;
            self.for_each_str_off(id, |_, s| {
                if bad.is_none() && s >= str_total {
                    bad = Some(format!(
                        "name offset {s} is past the string section ({str_total} bytes){hint}"
                    ));
                }
            });
            self.for_each_type_ref(id, |_, r| {
                if bad.is_none() && r >= total {
                    bad = Some(format!(
                        "refers to type id {r} but there are only {total} types{hint}"
                    ));
                }
            });
            match bad {
                Some(msg) => Err(Error::new(msg).with_type(id)),
                None => Ok(()),
            }
        };
        // In chunks, in parallel; the error reported is the lowest id's.
        let chunks: Vec<(u32, u32)> = (first..total)
            .step_by(CHUNK)
            .map(|s| (s, s.saturating_add(CHUNK as u32).min(total)))
            .collect();
        let errs: Vec<Error> = chunks
            .par_iter()
            .filter_map(|&(a, b)| (a..b).map(check).find_map(|r| r.err()))
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
    pub fn kind(&self, id: u32) -> u32 {
        (self.info(id) >> 24) & 0x1f
    }

    /// The whole record of type `id` (empty for bad ids).
    #[inline]
    pub fn record(&self, id: u32) -> &[u32] {
        let off = self.off(id);
        let k = (self.w(off + 1) >> 24) & 0x1f;
        let v = self.w(off + 1) & 0xffff;
        let len = if id == 0 {
            3
        } else {
            record_words(k, v).unwrap_or(3)
        };
        self.words.get(off..off + len).unwrap_or(&[])
    }

    /// Calls `f(word index, string offset)` for each string offset of type
    /// `id`, in libbpf's order: the name, then member, enumerator and
    /// parameter names.
    #[inline]
    pub fn for_each_str_off(&self, id: u32, mut f: impl FnMut(usize, u32)) {
        let off = self.off(id);
        f(off, self.w(off));
        let info = self.w(off + 1);
        let vlen = (info & 0xffff) as usize;
        let step = match (info >> 24) & 0x1f {
            STRUCT | UNION | ENUM64 => 3,
            ENUM | FUNC_PROTO => 2,
            _ => return,
        };
        for i in 0..vlen {
            let at = off + 3 + step * i;
            f(at, self.w(at));
        }
    }

    /// Calls `f(word index, type id)` for each type id type `id` refers to, in
    /// libbpf's order (`btf_type_visit_type_ids`).
    #[inline]
    pub fn for_each_type_ref(&self, id: u32, mut f: impl FnMut(usize, u32)) {
        let off = self.off(id);
        let info = self.w(off + 1);
        let vlen = (info & 0xffff) as usize;
        match (info >> 24) & 0x1f {
            PTR | TYPEDEF | VOLATILE | CONST | RESTRICT | FUNC | VAR | DECL_TAG | TYPE_TAG => {
                f(off + 2, self.w(off + 2))
            }
            ARRAY => {
                f(off + 3, self.w(off + 3));
                f(off + 4, self.w(off + 4));
            }
            STRUCT | UNION => {
                for i in 0..vlen {
                    let at = off + 3 + 3 * i + 1;
                    f(at, self.w(at));
                }
            }
            FUNC_PROTO => {
                f(off + 2, self.w(off + 2));
                for i in 0..vlen {
                    let at = off + 3 + 2 * i + 1;
                    f(at, self.w(at));
                }
            }
            DATASEC => {
                for i in 0..vlen {
                    let at = off + 3 + 3 * i;
                    f(at, self.w(at));
                }
            }
            _ => {}
        }
    }
}

/// The largest string offset and type id in one record of kind `k`.
#[inline]
fn max_refs(k: u32, rec: &[u32]) -> (u32, u32) {
    let w = |i: usize| rec.get(i).copied().unwrap_or(0);
    let mut ms = w(0);
    let mut mt = 0u32;
    let vlen = (w(1) & 0xffff) as usize;
    match k {
        PTR | TYPEDEF | VOLATILE | CONST | RESTRICT | FUNC | VAR | DECL_TAG | TYPE_TAG => mt = w(2),
        ARRAY => mt = w(3).max(w(4)),
        STRUCT | UNION => {
            for i in 0..vlen {
                ms = ms.max(w(3 + 3 * i));
                mt = mt.max(w(4 + 3 * i));
            }
        }
        ENUM => {
            for i in 0..vlen {
                ms = ms.max(w(3 + 2 * i));
            }
        }
        ENUM64 => {
            for i in 0..vlen {
                ms = ms.max(w(3 + 3 * i));
            }
        }
        FUNC_PROTO => {
            mt = w(2);
            for i in 0..vlen {
                ms = ms.max(w(3 + 2 * i));
                mt = mt.max(w(4 + 2 * i));
            }
        }
        DATASEC => {
            for i in 0..vlen {
                mt = mt.max(w(3 + 3 * i));
            }
        }
        _ => {}
    }
    (ms, mt)
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
        assert_eq!(t.kind(1), INT);
        assert_eq!(t.kind(0), 0);
    }
}
