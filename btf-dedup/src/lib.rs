//! # btf-dedup: BTF deduplication, byte for byte as libbpf's `btf__dedup`
//!
//! Deduplication merges the types of many compile units into one type graph:
//! equal strings, equal primitive types, equivalent struct/union graphs (with
//! forward declarations resolved), then reference types, and compacts the
//! result. The output is the same bytes as libbpf 1.1's `btf__dedup` followed
//! by `btf__raw_data` on the same input, split BTF included.
//!
//! ```no_run
//! let raw = std::fs::read("vmlinux.btf")?;
//! let out = btf_dedup::dedup_raw(&raw, None, &btf_dedup::Options::default())?;
//! std::fs::write("vmlinux.dedup.btf", out)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See `docs/parts/dedup.md` for the passes, the invariants and how the work
//! is split over threads.

#![deny(missing_docs)]

mod cands;
mod engine;
mod flat;
mod strings;

use std::sync::Arc;

use btf::read::raw::Header;
use btf::{Btf, Endian, Error, Result};

use crate::flat::{words_of, Table};

/// Options of a dedup run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// libbpf's `force_collisions` (a testing option that puts every type in
    /// one hash bucket). It cannot change libbpf's result, as candidates are
    /// still told apart by their full hash, and is accepted for symmetry.
    pub force_collisions: bool,
}

/// The input of a dedup run: its types (base first) and strings.
struct Input {
    table: Table,
    start_id: u32,
    base_strs: Vec<u8>,
    own_strs: Vec<u8>,
    /// The input's header bytes (kept in the output, as libbpf does), in native order fields.
    header: Header,
    header_extra: Vec<u8>,
}

/// Appends the types and strings of `btf` (its base's first) to `table` and `strs`.
fn push_btf(btf: &Btf, table: &mut Table, strs: &mut Vec<u8>) -> Result<()> {
    if let Some(b) = btf.base() {
        push_btf(b, table, strs)?;
    }
    let mut bytes = Vec::new();
    for t in btf.own_type_slice() {
        btf::write::write_type_to(&mut bytes, Endian::Little, t);
    }
    table.push_section(&words_of(&bytes, false), 0)?;
    strs.extend_from_slice(btf.own_strings());
    Ok(())
}

fn input_from_raw(data: &[u8], base: Option<&Btf>) -> Result<Input> {
    let h = Header::parse(data)?;
    let big = h.endian == Endian::Big;
    let hdr = h.hdr_len as usize;
    let mut table = Table::new();
    let mut base_strs = Vec::new();
    if let Some(b) = base {
        push_btf(b, &mut table, &mut base_strs)?;
    }
    let start_id = table.count();
    let str_start = hdr + h.str_off as usize;
    let own_strs = data
        .get(str_start..str_start + h.str_len as usize)
        .ok_or_else(|| Error::at(20, "string section out of bounds"))?;
    if base.is_none() || !own_strs.is_empty() {
        if base.is_none() && own_strs.first() != Some(&0) {
            return Err(Error::at(
                str_start as u64,
                "string section must start with an empty string (NUL byte)",
            ));
        }
        if own_strs.last() != Some(&0) {
            return Err(Error::at(
                (str_start + own_strs.len()).saturating_sub(1) as u64,
                "string section must end with a NUL byte",
            ));
        }
    }
    let type_start = hdr + h.type_off as usize;
    let tsec = data
        .get(type_start..type_start + h.type_len as usize)
        .ok_or_else(|| Error::at(12, "type section out of bounds"))?;
    table.push_section(&words_of(tsec, big), type_start as u64)?;
    let str_total = u32::try_from(base_strs.len() + own_strs.len())
        .map_err(|_| Error::new("string sections too large"))?;
    table.check_refs(start_id, str_total)?;
    Ok(Input {
        table,
        start_id,
        base_strs,
        own_strs: own_strs.to_vec(),
        header_extra: data.get(24..hdr).unwrap_or(&[]).to_vec(),
        header: h,
    })
}

/// Deduplicates raw BTF. `data` is a raw BTF blob; with `base`, it is split
/// BTF on `base` and the result is the deduplicated split part. Returns the
/// raw blob libbpf's `btf__raw_data` would give after `btf__dedup`.
pub fn dedup_raw(data: &[u8], base: Option<&Btf>, opts: &Options) -> Result<Vec<u8>> {
    let input = input_from_raw(data, base)?;
    run(input, opts)
}

/// Deduplicates `btf` (its own part, for split BTF; the base stays as it
/// is) and returns the result as a new [`Btf`] on the same base.
pub fn dedup(btf: &Btf, opts: &Options) -> Result<Btf> {
    let base = btf.base().cloned();
    let raw = btf.to_bytes();
    let out = dedup_raw(&raw, base.as_deref(), opts)?;
    match base {
        Some(b) => Btf::parse_split(&out, b),
        None => Btf::parse(&out),
    }
}

/// [`dedup`] for any container [`btf::parse_any`] reads (raw, ELF `.BTF`,
/// zstd): the raw blob is taken out and deduplicated.
pub fn dedup_any(data: &[u8], base: Option<&Arc<Btf>>, opts: &Options) -> Result<Vec<u8>> {
    let raw = btf::read::raw_btf_bytes(data)?;
    dedup_raw(&raw, base.map(|b| &**b), opts)
}

fn run(input: Input, _opts: &Options) -> Result<Vec<u8>> {
    let Input {
        table,
        start_id,
        base_strs,
        own_strs,
        header,
        header_extra,
    } = input;
    let split = start_id > 1;
    let mut d = engine::Dedup::new(table, start_id);
    d.prep();
    let strs = strings::dedup_strings(&mut d.t, start_id, &base_strs, &own_strs, split);
    d.prim_types()?;
    d.struct_types()?;
    d.resolve_fwds()?;
    d.ref_types()?;
    let (words, _n) = d.compact_remap()?;
    Ok(write_out(&header, &header_extra, &words, &strs))
}

fn write_out(h: &Header, extra: &[u8], words: &[u32], strs: &[u8]) -> Vec<u8> {
    let big = h.endian == Endian::Big;
    let type_len = (words.len() * 4) as u32;
    let mut out = Vec::with_capacity(h.hdr_len as usize + 4 * words.len() + strs.len());
    let put32 = |out: &mut Vec<u8>, v: u32| {
        if big {
            out.extend_from_slice(&v.to_be_bytes())
        } else {
            out.extend_from_slice(&v.to_le_bytes())
        }
    };
    if big {
        out.extend_from_slice(&btf::read::raw::MAGIC.to_be_bytes());
    } else {
        out.extend_from_slice(&btf::read::raw::MAGIC.to_le_bytes());
    }
    out.push(h.version);
    out.push(h.flags);
    put32(&mut out, h.hdr_len);
    put32(&mut out, h.type_off);
    put32(&mut out, type_len);
    put32(&mut out, type_len);
    put32(&mut out, strs.len() as u32);
    out.extend_from_slice(extra);
    for &w in words {
        put32(&mut out, w);
    }
    out.extend_from_slice(strs);
    out
}
