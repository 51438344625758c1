//! String dedup: libbpf's `btf_dedup_strings`.
//!
//! Rules reproduced:
//! - only own types' string offsets are visited, in id order, and within a
//!   type in the order name, then member / enumerator / parameter names;
//! - offset 0 and offsets into the base's strings are left alone;
//! - any other offset is read as the NUL-terminated string there (it may
//!   point into the middle of a string); with a base, a string the base has
//!   becomes the base's offset for it (the first string of the base's section
//!   with those bytes, counting only whole strings, as `btf__find_str`);
//!   otherwise it gets an offset in the new section, which holds each
//!   distinct string once, in first-use order, after a leading `""` for
//!   base (non-split) BTF.
//!
//! Steps, with the same result as libbpf's single walk (the result for an
//! offset depends only on the offset):
//! 1. one walk over the references, with a bitmap of the section, lists the
//!    distinct own offsets in first-use order;
//! 2. offsets are handed out in that order (one string hash per distinct
//!    offset);
//! 3. (parallel) every reference is rewritten, each chunk of ids owning a
//!    disjoint range of words; skipped when every offset keeps its value,
//!    which is the case for input libbpf or pahole already deduplicated.

use rayon::prelude::*;

use crate::cands::FastMap;
use crate::flat::{Table, CHUNK};
use btf::format::record_words;

const UNSET: u32 = u32::MAX;

/// A base's whole strings and the first offset of each (`btf__find_str`'s
/// answers), built once per base ([`crate::PreparedBase`]): an
/// open-addressing table of offsets into the base's string bytes, so that
/// building it allocates nothing per string (a vmlinux has 100 000+).
#[derive(Debug)]
pub(crate) struct BaseIndex {
    /// The base's string sections, concatenated.
    strs: Vec<u8>,
    /// Offset of the first whole string of each content, `EMPTY` if free;
    /// the length is a power of two, at least twice the number of strings.
    slots: Vec<u32>,
}

const EMPTY: u32 = u32::MAX;

fn str_hash(s: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    btf::hash::FastBuild::default().hash_one(s)
}

impl BaseIndex {
    /// The whole string at `off` (up to its NUL or the end).
    fn at(&self, off: u32) -> &[u8] {
        let rest = self.strs.get(off as usize..).unwrap_or(&[]);
        let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        rest.get(..len).unwrap_or(&[])
    }

    /// The offset of the first whole string equal to `s`.
    pub fn get(&self, s: &[u8]) -> Option<u32> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = str_hash(s) as usize & mask;
        loop {
            let o = *self.slots.get(i)?;
            if o == EMPTY {
                return None;
            }
            if self.at(o) == s {
                return Some(o);
            }
            i = (i + 1) & mask;
        }
    }
}

/// The first offset of each whole string of `section` (offsets from 0).
pub(crate) fn whole_strings(section: Vec<u8>) -> BaseIndex {
    let count = section.iter().filter(|&&b| b == 0).count() + 1;
    let cap = (count * 2).next_power_of_two().max(16);
    let mut ix = BaseIndex {
        strs: section,
        slots: vec![EMPTY; cap],
    };
    let mask = cap - 1;
    let mut off = 0usize;
    while off < ix.strs.len() {
        let s = ix.at(off as u32);
        let len = s.len();
        let mut i = str_hash(s) as usize & mask;
        while let Some(&o) = ix.slots.get(i) {
            if o == EMPTY {
                if let Some(slot) = ix.slots.get_mut(i) {
                    *slot = off as u32;
                }
                break;
            }
            if ix.at(o) == ix.at(off as u32) {
                break; // an earlier string has these bytes
            }
            i = (i + 1) & mask;
        }
        off += len + 1;
    }
    ix
}

/// Calls `f` on each string slot of one record, in libbpf's order
/// ([`btf::format::str_slots`]).
#[inline]
fn str_slots_mut(rec: &mut [u32], mut f: impl FnMut(&mut u32)) {
    let info = rec.get(1).copied().unwrap_or(0);
    for i in btf::format::str_slots(info) {
        if let Some(x) = rec.get_mut(i) {
            f(x);
        }
    }
}

/// Dedups the strings of the own types (ids from `start_id`), rewriting their
/// offsets in place, and returns the new own string section.
///
/// `base_len` is the length of the base's string data (`start_str_off`, 0
/// without a base), `base_index` its strings (`None` without a base),
/// `own_strs` the input's own section.
pub(crate) fn dedup_strings(
    t: &mut Table,
    start_id: u32,
    base_len: u32,
    base_index: Option<&BaseIndex>,
    own_strs: &[u8],
) -> Vec<u8> {
    let start = base_len;
    let split = base_index.is_some();
    let n = t.count();
    let chunks: Vec<(u32, u32)> = (start_id..n)
        .step_by(CHUNK)
        .map(|a| (a, a.saturating_add(CHUNK as u32).min(n)))
        .collect();
    let own = |off: u32| -> Option<usize> {
        if off == 0 || off < start {
            None
        } else {
            Some((off - start) as usize)
        }
    };

    // 1. The distinct own offsets in first-use order: one walk over the
    // references with a bitmap of the section (small enough for the cache).
    let mut seen = vec![0u64; own_strs.len().div_ceil(64)];
    let mut order: Vec<u32> = Vec::new();
    for id in start_id..n {
        t.for_each_str_off(id, |_, off| {
            if let Some(rel) = own(off) {
                if let Some(w) = seen.get_mut(rel / 64) {
                    let bit = 1u64 << (rel % 64);
                    if *w & bit == 0 {
                        *w |= bit;
                        order.push(rel as u32);
                    }
                }
            }
        });
    }
    drop(seen);

    // 2. Offsets handed out in that order.
    let mut fin: Vec<u32> = vec![UNSET; own_strs.len()];
    let mut out: Vec<u8> = Vec::new();
    let mut set: FastMap<&[u8], u32> = FastMap::default();
    if !split {
        out.push(0);
        set.insert(&[], 0);
    }
    let mut identity = true;
    for &rel in &order {
        let rel = rel as usize;
        let rest = own_strs.get(rel..).unwrap_or(&[]);
        let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        let s = rest.get(..len).unwrap_or(&[]);
        let v = match base_index.and_then(|b| b.get(s)) {
            Some(b) => b,
            None => *set.entry(s).or_insert_with(|| {
                let o = start + out.len() as u32;
                out.extend_from_slice(s);
                out.push(0);
                o
            }),
        };
        identity &= v == start + rel as u32;
        if let Some(f) = fin.get_mut(rel) {
            *f = v;
        }
    }
    drop(order);
    if identity {
        // Every offset keeps its value (input already deduplicated in
        // first-use order, as libbpf and pahole write it): nothing to rewrite.
        return out;
    }

    // 3. Rewrite, each chunk in its own range of words.
    let Table { words, offs, .. } = t;
    let mut slices: Vec<(&mut [u32], usize, u32, u32)> = Vec::with_capacity(chunks.len());
    let mut rest: &mut [u32] = words.as_mut_slice();
    let mut consumed = 0usize;
    for &(a, b) in &chunks {
        let lo = offs.get(a as usize).copied().unwrap_or(0) as usize;
        let hi = offs
            .get(b as usize)
            .map_or(consumed + rest.len(), |&o| o as usize);
        let skip = lo.saturating_sub(consumed).min(rest.len());
        let tail = std::mem::take(&mut rest);
        let (_, tail) = tail.split_at_mut(skip);
        let take = hi.saturating_sub(lo).min(tail.len());
        let (mine, tail) = tail.split_at_mut(take);
        rest = tail;
        consumed = lo + take;
        slices.push((mine, lo, a, b));
    }
    let offs = &*offs;
    let fin = &fin;
    slices.into_par_iter().for_each(|(words, lo, a, b)| {
        for id in a..b {
            let p = offs
                .get(id as usize)
                .map_or(0, |&o| o as usize)
                .saturating_sub(lo);
            let info = words.get(p + 1).copied().unwrap_or(0);
            let len = record_words(btf::format::info_kind(info), btf::format::info_vlen(info))
                .unwrap_or(3);
            let Some(rec) = words.get_mut(p..p + len) else {
                continue;
            };
            str_slots_mut(rec, |x| {
                if let Some(&v) = own(*x).and_then(|r| fin.get(r)) {
                    *x = v;
                }
            });
        }
    });
    out
}
