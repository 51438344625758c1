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
//! See docs/ARCHITECTURE.md, "Deduplication", for the passes, the invariants and how the work
//! is split over threads.

#![deny(missing_docs)]

mod cands;
mod engine;
mod flat;
mod stream;
mod strings;

pub use stream::Stream;

use std::borrow::Cow;
use std::path::Path;

use btf::format::Header;
use btf::{Btf, Endian, Error, Result};

use crate::flat::{append_words, Table};

/// Options of a dedup run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// libbpf's `force_collisions` (a testing option that puts every type in
    /// one hash bucket). It cannot change libbpf's result, as candidates are
    /// still told apart by their full hash, and is accepted for symmetry.
    pub force_collisions: bool,
}

/// The input of a dedup run: its types (base first) and strings.
struct Input<'b> {
    table: Table,
    start_id: u32,
    base: Option<&'b PreparedBase>,
    own_strs: Vec<u8>,
    /// The input's header, kept in the output as libbpf does.
    header: Hdr,
}

/// The input's header, checked by the core's [`Header::parse_prefix`].
type Hdr = Header;

/// Appends the types and strings of `btf` (its base's first) to `table` and `strs`.
fn push_btf(btf: &Btf, table: &mut Table, strs: &mut Vec<u8>) -> Result<()> {
    if let Some(b) = btf.base() {
        push_btf(b, table, strs)?;
    }
    let first = table.words.len();
    for t in btf.own_type_slice() {
        btf::write::write_type_words(&mut table.words, t);
    }
    table.index_from(first, 0)?;
    strs.extend_from_slice(btf.own_strings());
    Ok(())
}

/// A base BTF laid out once as dedup's word table, for many split dedups on
/// it (a kernel's modules on its vmlinux): each run copies the table instead
/// of encoding the base again.
#[derive(Debug)]
pub struct PreparedBase {
    table: Table,
    /// Bytes of the base's strings.
    str_len: u32,
    /// Its whole strings, for the string pass.
    index: strings::BaseIndex,
}

impl PreparedBase {
    /// Lays out `base` (and its own base, if any).
    pub fn new(base: &Btf) -> Result<PreparedBase> {
        let mut table = Table::new();
        let mut strs = Vec::new();
        push_btf(base, &mut table, &mut strs)?;
        let str_len =
            u32::try_from(strs.len()).map_err(|_| Error::new("base string sections too large"))?;
        Ok(PreparedBase {
            table,
            str_len,
            index: strings::whole_strings(strs),
        })
    }

    /// Whether `btf` is this base (same type count and string length).
    fn is(&self, btf: &Btf) -> bool {
        btf.type_count() == self.table.count() && btf.str_len_total() == self.str_len
    }

    /// [`dedup_raw`] of split BTF on this base.
    pub fn dedup_raw(&self, data: &[u8], opts: &Options) -> Result<Vec<u8>> {
        let input = input_from_raw(data, Some(self))?;
        let (h, words, strs) = run(input, opts)?;
        Ok(write_out(&h, &words, &strs))
    }

    /// [`dedup`] of `btf`, split BTF on this base (its base must have this
    /// base's types and strings), without a round trip through bytes.
    pub fn dedup(&self, btf: &Btf, opts: &Options) -> Result<Btf> {
        if !btf.base().is_some_and(|b| self.is(b)) {
            return Err(Error::new(
                "the BTF to deduplicate is not split BTF on the prepared base",
            ));
        }
        dedup_btf(Some(self), Cow::Borrowed(btf), opts)
    }

    /// [`PreparedBase::dedup`] taking the BTF by value (see [`dedup_owned`]).
    pub fn dedup_owned(&self, btf: Btf, opts: &Options) -> Result<Btf> {
        if !btf.base().is_some_and(|b| self.is(b)) {
            return Err(Error::new(
                "the BTF to deduplicate is not split BTF on the prepared base",
            ));
        }
        dedup_btf(Some(self), Cow::Owned(btf), opts)
    }
}

/// Starts an input: the base's types and strings.
fn start_input(base: Option<&PreparedBase>, own_words: usize) -> Table {
    match base {
        Some(b) => b.table.clone_with_capacity(own_words),
        None => {
            let mut t = Table::new();
            t.words.reserve(own_words);
            crate::flat::hint_huge_pages(&mut t.words);
            t
        }
    }
}

/// Finishes an input once the own type words are in the table.
fn finish_input(
    mut table: Table,
    first_word: usize,
    base: Option<&PreparedBase>,
    own_strs: Vec<u8>,
    header: Hdr,
) -> Result<Input<'_>> {
    let split = base.is_some();
    let start_id = table.count();
    btf::format::check_str_section(&own_strs, split, header.str_start())?;
    table.index_from(first_word, header.type_start())?;
    let str_total = u32::try_from(base.map_or(0, |b| b.str_len as usize) + own_strs.len())
        .map_err(|_| Error::new("string sections too large"))?;
    table.check_refs(start_id, str_total)?;
    Ok(Input {
        table,
        start_id,
        base,
        own_strs,
        header,
    })
}

fn input_from_raw<'b>(data: &[u8], base: Option<&'b PreparedBase>) -> Result<Input<'b>> {
    let header = Header::parse(data)?;
    let ts = header.type_start() as usize;
    let tsec = data
        .get(ts..ts + header.type_len as usize)
        .ok_or_else(|| Error::at(12, "type section out of bounds"))?;
    let ss = header.str_start() as usize;
    let own_strs = data
        .get(ss..ss + header.str_len as usize)
        .ok_or_else(|| Error::at(20, "string section out of bounds"))?
        .to_vec();
    let mut table = start_input(base, tsec.len() / 4);
    let first = table.words.len();
    append_words(&mut table.words, tsec, header.endian == Endian::Big);
    finish_input(table, first, base, own_strs, header)
}

/// Reads a raw BTF file without holding all of it in memory: the type
/// section is converted to words chunk by chunk.
fn input_from_raw_file<'b>(
    mut f: std::fs::File,
    total: u64,
    base: Option<&'b PreparedBase>,
    path: &Path,
) -> Result<Input<'b>> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |e: std::io::Error| Error::new(format!("cannot read: {e}")).with_file(path);
    let mut head = vec![0u8; total.min(24) as usize];
    f.read_exact(&mut head).map_err(io)?;
    let hdr_len = if total >= 8 {
        let w = [head[4], head[5], head[6], head[7]];
        if head.first() == Some(&0xeb) {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    } else {
        0
    };
    if u64::from(hdr_len) > 24 && u64::from(hdr_len) <= total {
        let mut more = vec![0u8; hdr_len as usize - 24];
        f.read_exact(&mut more).map_err(io)?;
        head.extend_from_slice(&more);
    }
    let header = Header::parse_prefix(&head, total)?;
    let mut table = start_input(base, header.type_len as usize / 4);
    let first = table.words.len();
    f.seek(SeekFrom::Start(header.type_start())).map_err(io)?;
    let nwords = header.type_len as usize / 4;
    table.words.resize(first + nwords, 0);
    {
        let dst = table.words.get_mut(first..).unwrap_or(&mut []);
        // SAFETY: the byte view covers exactly the memory of `dst` (len * 4
        // bytes of initialized `u32`s, alignment 1 is always satisfied), is
        // the only live reference to it while it exists, and every byte
        // pattern is a valid `u32`.
        let bytes: &mut [u8] =
            unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<u8>(), dst.len() * 4) };
        f.read_exact(bytes).map_err(io)?;
        if header.endian != Endian::native() {
            use rayon::prelude::*;
            dst.par_iter_mut().for_each(|w| *w = w.swap_bytes());
        }
    }
    f.seek(SeekFrom::Start(header.str_start())).map_err(io)?;
    let mut own_strs = vec![0u8; header.str_len as usize];
    f.read_exact(&mut own_strs).map_err(io)?;
    finish_input(table, first, base, own_strs, header)
}

/// Deduplicates raw BTF. `data` is a raw BTF blob; with `base`, it is split
/// BTF on `base` and the result is the deduplicated split part. Returns the
/// raw blob libbpf's `btf__raw_data` would give after `btf__dedup`. For many
/// split BTFs on one base, [`PreparedBase::dedup_raw`] lays the base out once.
pub fn dedup_raw(data: &[u8], base: Option<&Btf>, opts: &Options) -> Result<Vec<u8>> {
    match base {
        Some(b) => PreparedBase::new(b)?.dedup_raw(data, opts),
        None => {
            let (h, words, strs) = run(input_from_raw(data, None)?, opts)?;
            Ok(write_out(&h, &words, &strs))
        }
    }
}

/// Deduplicates `btf` (its own part, for split BTF; the base stays as it
/// is) and returns the result as a new [`Btf`] on the same base, in memory:
/// the types go to dedup's word table and back without bytes in between.
/// The result is the one [`dedup_raw`] gives on `btf.to_bytes()`.
pub fn dedup(btf: &Btf, opts: &Options) -> Result<Btf> {
    match btf.base() {
        Some(b) => PreparedBase::new(b)?.dedup(btf, opts),
        None => dedup_btf(None, Cow::Borrowed(btf), opts),
    }
}

/// [`dedup`] of a [`btf::Builder`]'s types: finishes it and deduplicates.
pub fn dedup_builder(b: btf::Builder, opts: &Options) -> Result<Btf> {
    dedup(&b.finish()?, opts)
}

/// [`dedup`] taking the BTF by value: its model is dropped once its types
/// are in dedup's word table, before the passes run, so the peak memory is
/// the table and the dedup state, not the model besides (the encoder's path
/// for a whole vmlinux).
pub fn dedup_owned(btf: Btf, opts: &Options) -> Result<Btf> {
    match btf.base().cloned() {
        Some(b) => {
            let p = PreparedBase::new(&b)?;
            drop(b);
            p.dedup_owned(btf, opts)
        }
        None => dedup_btf(None, Cow::Owned(btf), opts),
    }
}

/// Deduplicates BTF given as raw parts, without building a model first: the
/// own type records as native words (ids from the base's count + 1), the own
/// string section, the base (for split BTF). This is what an encoder that
/// writes records directly hands over (btf-encode does): the words become
/// dedup's table as they are. The result is [`dedup`]'s on the same BTF.
pub fn dedup_words(
    endian: Endian,
    base: Option<std::sync::Arc<Btf>>,
    words: Vec<u32>,
    strings: Vec<u8>,
    opts: &Options,
) -> Result<Btf> {
    let mut prepared = base.as_deref().map(PreparedBase::new).transpose()?;
    let own_words = words.len();
    let (table, first) = match prepared.as_mut() {
        None => {
            // The table is `void`'s zero record, then the records: the
            // words move in front by three in their own allocation instead
            // of being copied into a new one (a vmlinux's are 100+ MB).
            let mut words = words;
            words.reserve_exact(3);
            words.splice(0..0, [0u32; 3]);
            let mut t = Table::new();
            t.words = words;
            (t, 3)
        }
        Some(p) => {
            // The base laid out here serves this run only: its table is
            // moved into the input and grown, not copied (a copy of a
            // vmlinux base is a few MiB, a sizeable share of a small
            // module's peak).
            let mut t = std::mem::replace(&mut p.table, Table::new());
            t.words.reserve(own_words);
            t.offs.reserve(own_words / 3);
            let first = t.words.len();
            t.words.extend_from_slice(&words);
            drop(words);
            (t, first)
        }
    };
    let header = Header::canonical(endian, (4 * own_words) as u32, strings.len() as u32);
    let input = finish_input(table, first, prepared.as_ref(), strings, header)?;
    let (h, words, strs) = run(input, opts)?;
    btf::read::raw::from_words(h.endian, base, &words, &strs)
}

/// The in-memory path: the own types as words, the passes, the result
/// decoded. An owned `btf` is dropped as soon as its types are words.
fn dedup_btf(base: Option<&PreparedBase>, btf: Cow<'_, Btf>, opts: &Options) -> Result<Btf> {
    let (endian, base_btf) = (btf.endian(), btf.base().cloned());
    let own_words: usize = btf
        .own_type_slice()
        .iter()
        .map(|t| t.record_size() / 4)
        .sum();
    let mut table = start_input(base, own_words);
    let first = table.words.len();
    for t in btf.own_type_slice() {
        btf::write::write_type_words(&mut table.words, t);
    }
    let own_strs = match btf {
        Cow::Owned(b) => b.into_parts().2,
        Cow::Borrowed(b) => b.own_strings().to_vec(),
    };
    let header = Header::canonical(endian, (4 * own_words) as u32, own_strs.len() as u32);
    let input = finish_input(table, first, base, own_strs, header)?;
    let (h, words, strs) = run(input, opts)?;
    btf::read::raw::from_words(h.endian, base_btf, &words, &strs)
}

/// [`dedup_raw`] for any container [`btf::parse_any`] reads (raw, ELF
/// `.BTF`, zstd): the raw blob is taken out and deduplicated.
pub fn dedup_any(data: &[u8], base: Option<&Btf>, opts: &Options) -> Result<Vec<u8>> {
    let raw = btf::read::raw_btf_bytes(data)?;
    dedup_raw(&raw, base, opts)
}

/// Deduplicates the BTF in a file (raw, ELF `.BTF`, zstd). Raw files are
/// read in chunks and the input is released before the passes run, so the
/// peak memory is about the size of the type section plus the dedup state.
pub fn dedup_file(path: &Path, base: Option<&Btf>, opts: &Options) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| Error::new(format!("cannot open: {e}")).with_file(path))?;
    let meta = f
        .metadata()
        .map_err(|e| Error::new(format!("cannot stat: {e}")).with_file(path))?;
    let mut magic = [0u8; 4];
    let n = (&f).take(4).read(&mut magic).unwrap_or(0);
    let container = n == 4 && (btf::read::file::is_zstd(&magic) || btf::read::elf::is_elf(&magic));
    let clock = std::time::Instant::now();
    let prepared = base.map(PreparedBase::new).transpose()?;
    let base = prepared.as_ref();
    let input = if meta.is_file() && !container {
        use std::io::{Seek, SeekFrom};
        let mut f = f;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| Error::new(format!("cannot read: {e}")).with_file(path))?;
        input_from_raw_file(f, meta.len(), base, path)
    } else {
        drop(f);
        let data = btf::read::file::read_file(path)?;
        let raw = btf::read::raw_btf_bytes(&data).map_err(|e| e.with_file(path))?;
        input_from_raw(&raw, base)
    }
    .map_err(|e| e.with_file(path))?;
    if std::env::var_os("BTF_DEDUP_TIMING").is_some_and(|v| v == "1") {
        eprintln!(
            "btf-dedup: read and check: {:.1} ms",
            clock.elapsed().as_secs_f64() * 1e3
        );
    }
    let (h, words, strs) = run(input, opts).map_err(|e| e.with_file(path))?;
    Ok(write_out(&h, &words, &strs))
}

/// The passes; returns the output's header, type words and strings.
fn run(input: Input<'_>, _opts: &Options) -> Result<(Hdr, Vec<u32>, Vec<u8>)> {
    let Input {
        table,
        start_id,
        base,
        own_strs,
        header,
    } = input;
    // BTF_DEDUP_TIMING=1 prints the time of each pass on stderr.
    let timing = std::env::var_os("BTF_DEDUP_TIMING").is_some_and(|v| v == "1");
    let mut clock = std::time::Instant::now();
    let mut lap = |what: &str| {
        if timing {
            eprintln!(
                "btf-dedup: {what}: {:.1} ms",
                clock.elapsed().as_secs_f64() * 1e3
            );
            clock = std::time::Instant::now();
        }
    };
    let mut d = engine::Dedup::new(table, start_id);
    lap("state");
    // libbpf runs prep before the string pass; they touch disjoint data (base
    // types, own strings), and shapes need the deduplicated name offsets.
    let strs = strings::dedup_strings(
        &mut d.t,
        start_id,
        base.map_or(0, |b| b.str_len),
        base.map(|b| &b.index),
        &own_strs,
    );
    lap("strings");
    if base.is_none() {
        // With a base, the shapes of all its structs would cost more than
        // they save on a module's few structs: libbpf's keys alone then
        // (shapes only skip checks that would fail, see `compute_shapes`).
        d.compute_shapes();
    }
    d.prep();
    lap("shapes, prep");
    d.prim_types()?;
    lap("primitive types");
    d.struct_types()?;
    lap("structs and unions");
    d.resolve_fwds()?;
    lap("standalone fwds");
    d.ref_types()?;
    lap("reference types");
    let (words, _n) = d.compact_remap()?;
    drop(d);
    lap("compaction");
    Ok((header, words, strs))
}

fn write_out(h: &Hdr, words: &[u32], strs: &[u8]) -> Vec<u8> {
    let type_len = (words.len() * 4) as u32;
    let mut out = Vec::with_capacity(h.hdr_len as usize + 4 * words.len() + strs.len());
    // libbpf 1.1.2 keeps the input's type_off here although it writes the
    // types right after the header, which makes an invalid blob when the
    // input's type_off was not 0; we write the true offset, 0. The header
    // length, version and flags are the input's, as in libbpf.
    Header {
        type_off: 0,
        type_len,
        str_off: type_len,
        str_len: strs.len() as u32,
        ..*h
    }
    .write(&mut out);
    let big = h.endian == Endian::Big;
    out.extend(words.iter().flat_map(|&w| {
        if big {
            w.to_be_bytes()
        } else {
            w.to_le_bytes()
        }
    }));
    out.extend_from_slice(strs);
    out
}
