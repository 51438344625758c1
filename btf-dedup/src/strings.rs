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
//! Invariant used for speed: the result for an offset depends only on the
//! offset, so it is computed once per distinct offset (`cache`), and the
//! first-use order only depends on the sequence of distinct offsets.

use crate::cands::FastMap;
use crate::flat::Table;

const UNSET: u32 = u32::MAX;

/// The first offset of each whole string of `section` (offsets from `start`).
fn whole_strings(section: &[u8], start: u32) -> FastMap<&[u8], u32> {
    let mut map: FastMap<&[u8], u32> = FastMap::default();
    let mut off = 0usize;
    while off < section.len() {
        let rest = section.get(off..).unwrap_or(&[]);
        let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        map.entry(rest.get(..len).unwrap_or(&[]))
            .or_insert(start + off as u32);
        off += len + 1;
    }
    map
}

/// Dedups the strings of the own types (ids from `start_id`), rewriting their
/// offsets in place, and returns the new own string section.
///
/// `base_strs` is the whole string data of the base (`start_str_off` bytes,
/// empty without a base), `own_strs` the input's own section.
pub(crate) fn dedup_strings(
    t: &mut Table,
    start_id: u32,
    base_strs: &[u8],
    own_strs: &[u8],
    split: bool,
) -> Vec<u8> {
    let start = base_strs.len() as u32;
    let base_index = if split {
        whole_strings(base_strs, 0)
    } else {
        FastMap::default()
    };
    let mut out: Vec<u8> = Vec::new();
    let mut set: FastMap<&[u8], u32> = FastMap::default();
    if !split {
        out.push(0);
        set.insert(&[], 0);
    }
    let mut cache = vec![UNSET; own_strs.len()];
    let mut fixes: Vec<(usize, u32)> = Vec::new();
    for id in start_id..t.count() {
        fixes.clear();
        t.for_each_str_off(id, |at, off| {
            if off == 0 || off < start {
                return;
            }
            let rel = (off - start) as usize;
            let Some(slot) = cache.get_mut(rel) else {
                return;
            };
            if *slot == UNSET {
                let rest = own_strs.get(rel..).unwrap_or(&[]);
                let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                let s = rest.get(..len).unwrap_or(&[]);
                *slot = match base_index.get(s) {
                    Some(&b) => b,
                    None => *set.entry(s).or_insert_with(|| {
                        let o = start + out.len() as u32;
                        out.extend_from_slice(s);
                        out.push(0);
                        o
                    }),
                };
            }
            fixes.push((at, *slot));
        });
        for &(at, v) in &fixes {
            t.set_w(at, v);
        }
    }
    out
}
