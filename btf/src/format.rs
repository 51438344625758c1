//! The raw BTF format, defined once: the constants, the header, the `info`
//! word, the size of every record and where its type ids and string offsets
//! sit, and a checked walk over a type section.
//!
//! Everything that reads or writes raw records goes through this module: the
//! parser ([`crate::read::raw`]), the writer ([`crate::write`]), the verifier
//! ([`crate::verify`]) and btf-dedup's word table. Neither the reader nor the
//! writer depends on the other; both depend on this layer.
//!
//! A type section is seen as words ([`Words`]): either bytes in a byte order
//! ([`ByteWords`], zero-copy over the blob) or native `u32`s (`[u32]`, the
//! form dedup rewrites in place). A record is addressed by the index of its
//! first word.
//!
//! Invariants of [`walk_records`], on which every reader relies:
//! - each record it reports lies whole inside the section, trailing records
//!   included ([`record_words`] of its kind and `vlen`);
//! - its kind is one of 1..=19 ([`crate::Kind`]) and no reserved `info` bit
//!   ([`INFO_RESERVED`]) is set;
//! - a kind without trailing records other than FUNC has `vlen` 0; an INT has
//!   no reserved encoding bits; a FWD has a zero size/type word;
//! - the [`RefMax`] it returns bounds every type id ([`type_slots`]) and
//!   string offset ([`str_slots`]) of the records it walked, so a range check
//!   ([`check_ref_ranges`]) scans again only to name an offender.

use crate::btf::Endian;
use crate::error::{Error, Result};
use crate::kind::Kind;

/// The BTF magic number, `0xeb9f` (libbpf's and the kernel's `BTF_MAGIC`).
pub const MAGIC: u16 = 0xeb9f;
/// The BTF version this crate reads and writes.
pub const VERSION: u8 = 1;
/// The size of the header this crate knows.
pub const HEADER_LEN: u32 = 24;
/// Words in a record's common part: `name_off`, `info`, `size`/`type`.
pub const HEAD_WORDS: usize = 3;
/// Bits of `info` that no kind uses: bits 16..24 and 29..31.
pub const INFO_RESERVED: u32 = 0x60ff_0000;
/// The one hint a reader adds to an error that split BTF read without its
/// base would cause (strings that do not start with the empty string,
/// references past the blob's own types or strings).
pub const SPLIT_HINT: &str =
    " (split BTF, e.g. a module's? give its base: btf-dump -B, bpftool -B)";
/// How many links a walk along a type chain follows before it decides the
/// chain loops (the kernel's and libbpf's `MAX_RESOLVE_DEPTH`).
pub const MAX_RESOLVE_DEPTH: u32 = 32;

/// The raw kind number of an `info` word (5 bits).
#[inline]
pub fn info_kind(info: u32) -> u8 {
    ((info >> 24) & 0x1f) as u8
}

/// The `vlen` of an `info` word (16 bits).
#[inline]
pub fn info_vlen(info: u32) -> u32 {
    info & 0xffff
}

/// The `kind_flag` of an `info` word.
#[inline]
pub fn info_kflag(info: u32) -> bool {
    info >> 31 != 0
}

/// Packs an `info` word. `vlen` must fit 16 bits: a larger one spills into
/// the kind bits, which [`check_record`] then rejects.
#[inline]
pub fn make_info(kind: Kind, vlen: u32, kind_flag: bool) -> u32 {
    (u32::from(kind_flag) << 31) | (u32::from(kind.as_u8()) << 24) | vlen
}

/// Words in a whole record of raw kind `kind` with `vlen`, the common part
/// included, or `None` for 0 (UNKN) and unknown kinds. The one record-size
/// function of the workspace (from [`Kind::trailing_words`]).
#[inline]
pub fn record_words(kind: u8, vlen: u32) -> Option<usize> {
    Kind::from_u8(kind).map(|k| HEAD_WORDS + k.trailing_words(vlen))
}

/// Where in a record (word indices from its start) the values of one sort
/// sit: up to two fixed words, then one word per `vlen` entry.
#[derive(Clone, Debug)]
pub struct Slots {
    fixed: [u8; 2],
    nfixed: u8,
    i: u8,
    base: usize,
    step: usize,
    n: usize,
    j: usize,
}

impl Slots {
    fn new(fixed: &[u8], base: usize, step: usize, n: usize) -> Slots {
        let mut f = [0u8; 2];
        f[..fixed.len()].copy_from_slice(fixed);
        Slots {
            fixed: f,
            nfixed: fixed.len() as u8,
            i: 0,
            base,
            step,
            n,
            j: 0,
        }
    }
}

impl Iterator for Slots {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.i < self.nfixed {
            self.i += 1;
            return Some(usize::from(self.fixed[usize::from(self.i) - 1]));
        }
        if self.j < self.n {
            self.j += 1;
            return Some(self.base + self.step * (self.j - 1));
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.nfixed - self.i) + (self.n - self.j);
        (n, Some(n))
    }
}

impl ExactSizeIterator for Slots {}

/// The words of a record with this `info` that hold string offsets, in
/// libbpf's order: the name, then each member, enumerator or parameter name.
#[inline]
pub fn str_slots(info: u32) -> Slots {
    let v = info_vlen(info) as usize;
    match Kind::from_u8(info_kind(info)) {
        Some(Kind::Struct | Kind::Union | Kind::Enum64) => Slots::new(&[0], 3, 3, v),
        Some(Kind::Enum | Kind::FuncProto) => Slots::new(&[0], 3, 2, v),
        _ => Slots::new(&[0], 0, 0, 0),
    }
}

/// The words of a record with this `info` that hold type ids, in libbpf's
/// order (`btf_type_visit_type_ids`).
#[inline]
pub fn type_slots(info: u32) -> Slots {
    use Kind::*;
    let v = info_vlen(info) as usize;
    match Kind::from_u8(info_kind(info)) {
        Some(Ptr | Typedef | Volatile | Const | Restrict | Func | Var | DeclTag | TypeTag) => {
            Slots::new(&[2], 0, 0, 0)
        }
        Some(Array) => Slots::new(&[3, 4], 0, 0, 0),
        Some(Struct | Union) => Slots::new(&[], 4, 3, v),
        Some(FuncProto) => Slots::new(&[2], 4, 2, v),
        Some(Datasec) => Slots::new(&[], 3, 3, v),
        _ => Slots::new(&[], 0, 0, 0),
    }
}

/// A sequence of 32-bit words: the view every record reader works on.
pub trait Words {
    /// The number of whole words.
    fn len_words(&self) -> usize;
    /// Word `i`, or `None` past the end.
    fn word(&self, i: usize) -> Option<u32>;
}

impl Words for [u32] {
    #[inline]
    fn len_words(&self) -> usize {
        self.len()
    }
    #[inline]
    fn word(&self, i: usize) -> Option<u32> {
        self.get(i).copied()
    }
}

/// Bytes read as words in a byte order, without copying.
#[derive(Clone, Copy, Debug)]
pub struct ByteWords<'a> {
    /// The bytes (a trailing partial word is not a word).
    pub data: &'a [u8],
    /// Their byte order.
    pub endian: Endian,
}

impl<'a> ByteWords<'a> {
    /// A view of `data` in byte order `endian`.
    pub fn new(data: &'a [u8], endian: Endian) -> Self {
        ByteWords { data, endian }
    }

    /// The word at byte offset `off` (any alignment), or `None` past the end.
    #[inline]
    pub fn u32_at(&self, off: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(match self.endian {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        })
    }
}

impl Words for ByteWords<'_> {
    #[inline]
    fn len_words(&self) -> usize {
        self.data.len() / 4
    }
    #[inline]
    fn word(&self, i: usize) -> Option<u32> {
        self.u32_at(i.checked_mul(4)?)
    }
}

/// One record of a type section, borrowed from its [`Words`].
#[derive(Clone, Copy, Debug)]
pub struct Record<'w, W: Words + ?Sized> {
    words: &'w W,
    at: usize,
}

impl<'w, W: Words + ?Sized> Record<'w, W> {
    /// The record whose first word is `words[at]` (not checked: use the
    /// indices [`walk_records`] reports).
    #[inline]
    pub fn new(words: &'w W, at: usize) -> Self {
        Record { words, at }
    }

    /// Index of the record's first word.
    #[inline]
    pub fn at(&self) -> usize {
        self.at
    }

    /// Word `i` of the record (0 past the end of the section).
    #[inline]
    pub fn w(&self, i: usize) -> u32 {
        self.words.word(self.at + i).unwrap_or(0)
    }

    /// The name's string offset.
    #[inline]
    pub fn name_off(&self) -> u32 {
        self.w(0)
    }

    /// The `info` word.
    #[inline]
    pub fn info(&self) -> u32 {
        self.w(1)
    }

    /// The raw kind.
    #[inline]
    pub fn kind(&self) -> u8 {
        info_kind(self.info())
    }

    /// `vlen`.
    #[inline]
    pub fn vlen(&self) -> u32 {
        info_vlen(self.info())
    }

    /// `kind_flag`.
    #[inline]
    pub fn kind_flag(&self) -> bool {
        info_kflag(self.info())
    }

    /// The size-or-type word.
    #[inline]
    pub fn size_or_type(&self) -> u32 {
        self.w(2)
    }

    /// Word `i` of the trailing data.
    #[inline]
    pub fn extra(&self, i: usize) -> u32 {
        self.w(HEAD_WORDS + i)
    }

    /// Length of the whole record in words (3 for an unknown kind).
    #[inline]
    pub fn len_words(&self) -> usize {
        record_words(self.kind(), self.vlen()).unwrap_or(HEAD_WORDS)
    }

    /// Calls `f(word index in the section, string offset)` for each string
    /// offset, in [`str_slots`] order.
    #[inline]
    pub fn for_each_str_off(&self, mut f: impl FnMut(usize, u32)) {
        for i in str_slots(self.info()) {
            f(self.at + i, self.w(i));
        }
    }

    /// Calls `f(word index in the section, type id)` for each type id, in
    /// [`type_slots`] order.
    #[inline]
    pub fn for_each_type_ref(&self, mut f: impl FnMut(usize, u32)) {
        for i in type_slots(self.info()) {
            f(self.at + i, self.w(i));
        }
    }

    /// The largest string offset and type id of the record.
    #[inline]
    pub fn ref_max(&self) -> RefMax {
        let info = self.info();
        let mut m = RefMax::default();
        for i in str_slots(info) {
            m.str_off = m.str_off.max(self.w(i));
        }
        for i in type_slots(info) {
            m.type_id = m.type_id.max(self.w(i));
        }
        m
    }
}

/// The largest string offset and type id some records hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefMax {
    /// Largest string offset.
    pub str_off: u32,
    /// Largest type id.
    pub type_id: u32,
}

impl RefMax {
    /// The larger of both fields.
    pub fn merge(self, o: RefMax) -> RefMax {
        RefMax {
            str_off: self.str_off.max(o.str_off),
            type_id: self.type_id.max(o.type_id),
        }
    }
}

/// Checks the record that starts at word `at` of `words` (see the module's
/// invariants) and returns its length in words. `n` is its position in the
/// section, counted from 1, and `file_off` the byte offset of word 0 in the
/// input; both only name the record in errors.
pub fn check_record<W: Words + ?Sized>(
    words: &W,
    at: usize,
    n: u32,
    file_off: u64,
) -> Result<usize> {
    let len = record_extent(words, at, n, file_off)?;
    check_record_fields(words, at, n, file_off)?;
    Ok(len)
}

/// The part of [`check_record`] without which no reader can go on: the
/// record's kind is known and the record lies whole inside the section.
/// Returns its length in words (libbpf's `btf_parse_type_sec` walks with
/// exactly these checks).
pub fn record_extent<W: Words + ?Sized>(
    words: &W,
    at: usize,
    n: u32,
    file_off: u64,
) -> Result<usize> {
    let pos = |w: usize| word_pos(file_off, w);
    let trunc = |w: usize, what: &str| {
        Error::at(
            pos(w),
            format!(
                "type section truncated in {what} of type #{n} (counting from the section start)"
            ),
        )
    };
    let (Some(_), Some(info), Some(_)) = (words.word(at), words.word(at + 1), words.word(at + 2))
    else {
        return Err(trunc(at, "the header"));
    };
    let k = info_kind(info);
    let vlen = info_vlen(info);
    let Some(kind) = Kind::from_u8(k) else {
        return Err(Error::at(
            pos(at + 1),
            format!(
                "unknown BTF kind {k} in type #{n} (info {info:#010x}); kinds 1..=19 are known"
            ),
        ));
    };
    let len = HEAD_WORDS + kind.trailing_words(vlen);
    match at.checked_add(len) {
        Some(end) if end <= words.len_words() => Ok(len),
        _ => Err(trunc(at + HEAD_WORDS, "the trailing records")),
    }
}

/// The byte offset of word `w` for errors, `file_off` being that of word 0.
/// `walk` passes a base that wrapped below zero (the offset of its first
/// word minus four bytes per word before it): the sum wraps back.
fn word_pos(file_off: u64, w: usize) -> u64 {
    file_off.wrapping_add(4 * w as u64)
}

/// The part of [`check_record`] that a reader could do without (a dump shows
/// such a record as bpftool does): no reserved `info` bit, `vlen` 0 where a
/// kind has no trailing records, no reserved INT encoding bit, a zero FWD
/// size. The record must have passed [`record_extent`].
pub fn check_record_fields<W: Words + ?Sized>(
    words: &W,
    at: usize,
    n: u32,
    file_off: u64,
) -> Result<()> {
    let pos = |w: usize| word_pos(file_off, w);
    let info = words.word(at + 1).unwrap_or(0);
    let sot = words.word(at + 2).unwrap_or(0);
    let vlen = info_vlen(info);
    let Some(kind) = Kind::from_u8(info_kind(info)) else {
        return Ok(());
    };
    let reserved = info & INFO_RESERVED;
    if reserved != 0 {
        return Err(Error::at(
            pos(at + 1),
            format!(
                "reserved info bits {reserved:#010x} set in type #{n} (info {info:#010x}): \
                 a newer BTF format with wider kind/vlen fields is not supported"
            ),
        ));
    }
    if vlen != 0 && !kind.has_vlen_records() && kind != Kind::Func {
        return Err(Error::at(
            pos(at + 1),
            format!("{} type #{n} has vlen {vlen}, expected 0", kind.name()),
        ));
    }
    match kind {
        Kind::Int => {
            let v = words.word(at + 3).unwrap_or(0);
            if v & 0xf000_0000 != 0 {
                return Err(Error::at(
                    pos(at + 3),
                    format!("INT type #{n} has reserved encoding bits set ({v:#010x})"),
                ));
            }
        }
        Kind::Fwd if sot != 0 => {
            return Err(Error::at(
                pos(at + 2),
                format!("FWD type #{n} has a non-zero size/type word {sot}"),
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Walks the records of the type section `words[first..]`, checking each
/// ([`check_record`]) and calling `f(word index)` for each, in order.
/// `file_off` is the byte offset of `words[first]` in the input, for errors.
/// Returns the number of records and the largest references they hold.
pub fn walk_records<W: Words + ?Sized>(
    words: &W,
    first: usize,
    file_off: u64,
    f: impl FnMut(usize) -> Result<()>,
) -> Result<(u32, RefMax)> {
    walk(words, first, file_off, true, f).map(|(n, max, _)| (n, max))
}

/// [`walk_records`] with only [`record_extent`]'s checks, as libbpf 1.1 walks
/// a type section: a record that fails [`check_record_fields`] is reported
/// to `f` all the same, and the first such failure is returned (with the
/// record's position in the section, counted from 1). Only for readers that
/// show BTF (dumps); the walk's invariants on `info` and the fixed words do
/// not hold for its records.
pub fn walk_records_lenient<W: Words + ?Sized>(
    words: &W,
    first: usize,
    file_off: u64,
    f: impl FnMut(usize) -> Result<()>,
) -> Result<Walked> {
    walk(words, first, file_off, false, f)
}

/// What a walk found: the number of records, the largest references, and
/// (lenient walk only) the first record rule broken, with the record's
/// position in the section counted from 1.
pub type Walked = (u32, RefMax, Option<(u32, Error)>);

/// The walk behind [`walk_records`] (`strict`) and [`walk_records_lenient`].
fn walk<W: Words + ?Sized>(
    words: &W,
    first: usize,
    file_off: u64,
    strict: bool,
    mut f: impl FnMut(usize) -> Result<()>,
) -> Result<Walked> {
    let end = words.len_words();
    let base = file_off.wrapping_sub(4 * first as u64);
    let mut at = first;
    let mut n = 0u32;
    let mut max = RefMax::default();
    let mut problem = None;
    while at < end {
        n = n
            .checked_add(1)
            .ok_or_else(|| Error::new("too many types"))?;
        let len = record_extent(words, at, n, base)?;
        if let Err(e) = check_record_fields(words, at, n, base) {
            if strict {
                return Err(e);
            }
            problem.get_or_insert((n, e));
        }
        max = max.merge(Record::new(words, at).ref_max());
        f(at)?;
        at += len;
    }
    Ok((n, max, problem))
}

/// The bounds a range check compares references with.
#[derive(Clone, Copy, Debug)]
pub struct RefBounds<'h> {
    /// One past the last type id (base types and `void` included).
    pub type_count: u32,
    /// Bytes of strings, the base's included.
    pub str_len: u32,
    /// Appended to each message (such as [`SPLIT_HINT`]).
    pub hint: &'h str,
}

/// Checks that the records at word indices `records` (with their type ids,
/// in order) refer only to types below `bounds.type_count` and strings inside
/// `bounds.str_len`. `max`, when given, is a bound on the records'
/// references ([`walk_records`]): when it is in range nothing is scanned.
/// The first offender (lowest id) is named by its type id and kind.
pub fn check_ref_ranges<W: Words + ?Sized>(
    words: &W,
    records: impl IntoIterator<Item = (u32, usize)>,
    max: Option<RefMax>,
    bounds: &RefBounds<'_>,
) -> Result<()> {
    if max.is_some_and(|m| m.str_off < bounds.str_len && m.type_id < bounds.type_count) {
        return Ok(());
    }
    for (id, at) in records {
        let r = Record::new(words, at);
        if r.ref_max().str_off >= bounds.str_len || r.ref_max().type_id >= bounds.type_count {
            return Err(ref_error(&r, bounds).with_type(id));
        }
    }
    Ok(())
}

/// [`check_ref_ranges`] over a whole type section whose first record is type
/// `first_id`: when `max` (from an earlier [`walk_records`]) is in range
/// nothing is read; else the section is walked again to name the offender.
pub fn check_section_refs<W: Words + ?Sized>(
    words: &W,
    file_off: u64,
    first_id: u32,
    max: Option<RefMax>,
    bounds: &RefBounds<'_>,
) -> Result<()> {
    if max.is_some_and(|m| m.str_off < bounds.str_len && m.type_id < bounds.type_count) {
        return Ok(());
    }
    let mut ats = Vec::new();
    // Only the records' extents matter here: the lenient walk finds them
    // for the lenient reader too.
    walk_records_lenient(words, 0, file_off, |at| {
        ats.push(at);
        Ok(())
    })?;
    let ids = (first_id..).zip(ats);
    check_ref_ranges(words, ids, None, bounds)
}

/// The message for a record with a reference out of `bounds`.
fn ref_error<W: Words + ?Sized>(r: &Record<'_, W>, bounds: &RefBounds<'_>) -> Error {
    let kind = Kind::name_of(r.kind());
    let hint = bounds.hint;
    if let Some(s) = str_slots(r.info())
        .map(|i| r.w(i))
        .find(|&s| s >= bounds.str_len)
    {
        return Error::new(format!(
            "{kind} name offset {s} is past the string section ({} bytes){hint}",
            bounds.str_len
        ));
    }
    let t = type_slots(r.info())
        .map(|i| r.w(i))
        .find(|&t| t >= bounds.type_count)
        .unwrap_or(0);
    Error::new(format!(
        "{kind} refers to type id {t} but there are only {} types{hint}",
        bounds.type_count
    ))
}

/// Checks a string section: base BTF's starts with the empty string, and a
/// non-empty one ends with NUL. `split` says whether it continues a base's;
/// `file_off` is where it starts in the input, for errors.
pub fn check_str_section(strings: &[u8], split: bool, file_off: u64) -> Result<()> {
    if split && strings.is_empty() {
        return Ok(());
    }
    if !split && strings.first() != Some(&0) {
        return Err(Error::at(
            file_off,
            format!("string section must start with an empty string (NUL byte){SPLIT_HINT}"),
        ));
    }
    if strings.last() != Some(&0) {
        return Err(Error::at(
            (file_off + strings.len() as u64).saturating_sub(1),
            "string section must end with a NUL byte",
        ));
    }
    Ok(())
}

/// The message for a blob that does not start with the BTF magic: the two
/// bytes read as libbpf reads them on this (little-endian) layout, spelled
/// as libbpf's `Invalid BTF magic: %x` spells them.
fn bad_magic(a: u8, b: u8) -> Error {
    let m = u16::from_le_bytes([a, b]);
    Error::at(
        0,
        format!("invalid BTF magic: {m:x}, expected eb9f (in either byte order); not BTF"),
    )
}

/// The BTF header, as read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// Byte order of the blob.
    pub endian: Endian,
    /// Version (1).
    pub version: u8,
    /// Flags (0).
    pub flags: u8,
    /// Header length.
    pub hdr_len: u32,
    /// Type section offset, from the end of the header.
    pub type_off: u32,
    /// Type section length.
    pub type_len: u32,
    /// String section offset, from the end of the header.
    pub str_off: u32,
    /// String section length.
    pub str_len: u32,
}

impl Header {
    /// The header of a canonical blob: the types right after a 24-byte
    /// header, the strings right after the types.
    pub fn canonical(endian: Endian, type_len: u32, str_len: u32) -> Header {
        Header {
            endian,
            version: VERSION,
            flags: 0,
            hdr_len: HEADER_LEN,
            type_off: 0,
            type_len,
            str_off: type_len,
            str_len,
        }
    }

    /// Appends the header (`hdr_len` bytes: the known 24, then zeros) to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let put = |out: &mut Vec<u8>, v: u32| match self.endian {
            Endian::Little => out.extend_from_slice(&v.to_le_bytes()),
            Endian::Big => out.extend_from_slice(&v.to_be_bytes()),
        };
        match self.endian {
            Endian::Little => out.extend_from_slice(&MAGIC.to_le_bytes()),
            Endian::Big => out.extend_from_slice(&MAGIC.to_be_bytes()),
        }
        out.push(self.version);
        out.push(self.flags);
        for v in [
            self.hdr_len,
            self.type_off,
            self.type_len,
            self.str_off,
            self.str_len,
        ] {
            put(out, v);
        }
        out.resize(
            out.len() + self.hdr_len.saturating_sub(HEADER_LEN) as usize,
            0,
        );
    }

    /// Byte offset of the type section in the blob.
    pub fn type_start(&self) -> u64 {
        u64::from(self.hdr_len) + u64::from(self.type_off)
    }

    /// Byte offset of the string section in the blob.
    pub fn str_start(&self) -> u64 {
        u64::from(self.hdr_len) + u64::from(self.str_off)
    }

    /// Reads the magic and the fields of the 24-byte header in `raw` in byte
    /// order `endian`, checking nothing (the verifier reads the kernel's
    /// copy of the header this way, then makes the kernel's checks).
    pub fn read_unchecked(raw: &[u8; 24], endian: Endian) -> (u16, Header) {
        let c = ByteWords::new(raw, endian);
        let word = |o: usize| c.u32_at(o).unwrap_or(0);
        let magic = match endian {
            Endian::Little => u16::from_le_bytes([raw[0], raw[1]]),
            Endian::Big => u16::from_be_bytes([raw[0], raw[1]]),
        };
        let h = Header {
            endian,
            version: raw[2],
            flags: raw[3],
            hdr_len: word(4),
            type_off: word(8),
            type_len: word(12),
            str_off: word(16),
            str_len: word(20),
        };
        (magic, h)
    }

    /// Reads the header at the start of `data` with libbpf 1.1's checks only
    /// (`btf_parse_hdr`): the magic in either byte order, 24 bytes of header
    /// in the blob (exactly 24 when the byte order is not the machine's),
    /// `hdr_len` within the blob, the string section within the data after
    /// the header, the type section ending where the strings start or
    /// before, and a 4-byte aligned `type_off`. What [`Header::parse`] would
    /// reject beyond that (version, flags, a short or non-zero extended
    /// header, sections that overlap or leave gaps as the kernel forbids) is
    /// returned as the second value; when the libbpf checks fail too, the
    /// error is [`Header::parse`]'s. Both sections lie inside `data` when
    /// this succeeds. For readers that show BTF, never for building on it.
    pub fn parse_lenient(data: &[u8]) -> Result<(Header, Option<Error>)> {
        let strict = match Header::parse(data) {
            Ok(h) => return Ok((h, None)),
            Err(e) => e,
        };
        Header::libbpf_checks(data)
            .map(|h| (h, Some(strict.clone())))
            .map_err(|_| strict)
    }

    /// libbpf 1.1's `btf_parse_hdr` checks (see [`Header::parse_lenient`]).
    fn libbpf_checks(data: &[u8]) -> Result<Header> {
        if data.len() < HEADER_LEN as usize {
            return Err(Error::at(
                0,
                format!(
                    "BTF header truncated: {} bytes, expected at least 24",
                    data.len()
                ),
            ));
        }
        let endian = match [data[0], data[1]] {
            [0x9f, 0xeb] => Endian::Little,
            [0xeb, 0x9f] => Endian::Big,
            [a, b] => return Err(bad_magic(a, b)),
        };
        let mut raw = [0u8; 24];
        raw.copy_from_slice(&data[..24]);
        let (_, h) = Header::read_unchecked(&raw, endian);
        if endian != Endian::native() && h.hdr_len != HEADER_LEN {
            return Err(Error::at(
                4,
                format!(
                    "BTF header length {} in the other byte order: only 24 can be read (as libbpf)",
                    h.hdr_len
                ),
            ));
        }
        let total = data.len() as u64;
        if u64::from(h.hdr_len) > total {
            return Err(Error::at(
                4,
                format!(
                    "BTF header truncated: {total} bytes, header length says {}",
                    h.hdr_len
                ),
            ));
        }
        let body = total - u64::from(h.hdr_len);
        let (to, tl, so, sl) = (
            u64::from(h.type_off),
            u64::from(h.type_len),
            u64::from(h.str_off),
            u64::from(h.str_len),
        );
        if so + sl > body {
            return Err(Error::at(
                20,
                format!("string section [{so}, {}) runs past the end of the data ({body} bytes after the header)", so + sl),
            ));
        }
        if to + tl > so {
            return Err(Error::at(
                12,
                format!(
                    "type section [{to}, {}) runs into the string section at {so}",
                    to + tl
                ),
            ));
        }
        if to % 4 != 0 {
            return Err(Error::at(
                8,
                format!("type section offset {to} is not 4-byte aligned"),
            ));
        }
        Ok(h)
    }

    /// Reads and checks the header at the start of `data`.
    pub fn parse(data: &[u8]) -> Result<Header> {
        Header::parse_prefix(data, data.len() as u64)
    }

    /// Reads and checks the header from `data`, the first bytes of a blob of
    /// `total` bytes (for readers that stream the rest): `data` must hold the
    /// whole header when the blob has one.
    pub fn parse_prefix(data: &[u8], total: u64) -> Result<Header> {
        if data.len() < 8 {
            return Err(Error::at(
                0,
                format!("BTF header truncated: {total} bytes, expected at least 24"),
            ));
        }
        let endian = match [data[0], data[1]] {
            [0x9f, 0xeb] => Endian::Little,
            [0xeb, 0x9f] => Endian::Big,
            [a, b] => return Err(bad_magic(a, b)),
        };
        let c = ByteWords::new(data, endian);
        let version = data[2];
        let flags = data[3];
        if version != VERSION {
            return Err(Error::at(
                2,
                format!("unsupported BTF version {version}, expected 1"),
            ));
        }
        if flags != 0 {
            return Err(Error::at(
                3,
                format!("unsupported BTF flags {flags:#x}, expected 0"),
            ));
        }
        let hdr_len = c.u32_at(4).unwrap_or(0);
        if hdr_len < HEADER_LEN {
            return Err(Error::at(
                4,
                format!("BTF header length {hdr_len}, expected at least 24"),
            ));
        }
        if total < u64::from(hdr_len) || data.len() < hdr_len as usize {
            return Err(Error::at(
                0,
                format!("BTF header truncated: {total} bytes, header length says {hdr_len}"),
            ));
        }
        if hdr_len > HEADER_LEN {
            // A longer header is only acceptable when the extra part is all zero;
            // non-zero fields belong to a newer format (such as a kind layout section).
            let extra = &data[HEADER_LEN as usize..hdr_len as usize];
            if let Some(pos) = extra.iter().position(|&b| b != 0) {
                return Err(Error::at(
                    u64::from(HEADER_LEN) + pos as u64,
                    format!(
                        "BTF header is {hdr_len} bytes with non-zero fields past the 24 this version knows: \
                         a newer BTF format (layout section?) that btfkit does not support yet"
                    ),
                ));
            }
        }
        let word = |i: usize| c.u32_at(8 + 4 * i).unwrap_or(0);
        let h = Header {
            endian,
            version,
            flags,
            hdr_len,
            type_off: word(0),
            type_len: word(1),
            str_off: word(2),
            str_len: word(3),
        };
        let body = total - u64::from(hdr_len);
        let (to, tl, so, sl) = (
            u64::from(h.type_off),
            u64::from(h.type_len),
            u64::from(h.str_off),
            u64::from(h.str_len),
        );
        if to % 4 != 0 {
            return Err(Error::at(
                8,
                format!("type section offset {to} is not 4-byte aligned"),
            ));
        }
        if to + tl > body {
            return Err(Error::at(
                12,
                format!("type section [{to}, {}) runs past the end of the data ({body} bytes after the header)", to + tl),
            ));
        }
        if so + sl > body {
            return Err(Error::at(
                20,
                format!("string section [{so}, {}) runs past the end of the data ({body} bytes after the header)", so + sl),
            ));
        }
        if to < so + sl && so < to + tl {
            return Err(Error::at(16, "type and string sections overlap"));
        }
        if tl % 4 != 0 {
            return Err(Error::at(
                12,
                format!("type section length {tl} is not a multiple of 4"),
            ));
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A walk whose records start past word 0 at a small file offset (a
    /// table that holds void first, the type section right after a short
    /// header): the error offsets wrap back instead of overflowing.
    #[test]
    fn walk_past_a_prefix_reports_offsets() {
        let bad = make_info(Kind::Int, 0, false) | INFO_RESERVED;
        let words = [0u32, 0, 0, 1, bad, 4, 32];
        let e = walk_records(words.as_slice(), 3, 8, |_| Ok(())).unwrap_err();
        // The record's info word: word 4, 8 + 4 * (4 - 3) bytes in.
        assert!(e.to_string().starts_with("offset 0xc:"), "{e}");
        let words = [0u32, 0, 0, 1, make_info(Kind::Struct, 2, false), 4];
        assert!(walk_records(words.as_slice(), 3, 4, |_| Ok(())).is_err());
    }

    #[test]
    fn record_sizes_and_slots() {
        assert_eq!(record_words(0, 0), None);
        assert_eq!(record_words(20, 0), None);
        assert_eq!(record_words(Kind::Int.as_u8(), 0), Some(4));
        assert_eq!(record_words(Kind::Struct.as_u8(), 2), Some(9));
        assert_eq!(record_words(Kind::Enum.as_u8(), 2), Some(7));
        assert_eq!(record_words(Kind::Func.as_u8(), 1), Some(3));
        let info = make_info(Kind::FuncProto, 2, false);
        assert_eq!(str_slots(info).collect::<Vec<_>>(), [0, 3, 5]);
        assert_eq!(type_slots(info).collect::<Vec<_>>(), [2, 4, 6]);
        let info = make_info(Kind::Array, 0, false);
        assert_eq!(type_slots(info).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(str_slots(info).len(), 1);
    }

    #[test]
    fn walk_checks_records() {
        let int = [0u32, 1 << 24, 4, 32];
        let (n, m) = walk_records(&int[..], 0, 24, |_| Ok(())).unwrap();
        assert_eq!((n, m), (1, RefMax::default()));
        assert!(walk_records(&[0u32, 20 << 24, 0][..], 0, 24, |_| Ok(())).is_err());
        assert!(walk_records(&[0u32, 1 << 24, 4][..], 0, 24, |_| Ok(())).is_err());
        let e = walk_records(&[0u32, (7 << 24), 3][..], 0, 24, |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("FWD type #1"), "{e}");
    }

    #[test]
    fn header_round_trip() {
        let h = Header::canonical(Endian::Big, 16, 5);
        let mut out = Vec::new();
        h.write(&mut out);
        out.resize(24 + 21, 0);
        assert_eq!(Header::parse(&out).unwrap(), h);
    }
}
