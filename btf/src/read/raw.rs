//! The raw BTF format: a header, a type section and a string section.
//!
//! Invariants the parser establishes, so that every later stage may rely on them:
//! - the header is well formed and both sections lie inside the blob;
//! - the string section starts (for base BTF) and ends with NUL;
//! - every type record is complete, of a known kind, with no reserved `info` bits set;
//! - every string offset a type holds names a string (in this BTF or its base);
//! - every type id a type holds is below the total type count.
//!
//! The record checks are [`crate::format`]'s ([`walk_records`], [`check_section_refs`]),
//! the same that btf-dedup's word table applies. It does not check what the
//! kernel's verifier checks beyond that (sizes, loops, member offsets, names):
//! [`crate::verify`] does.

use std::sync::Arc;

use crate::btf::{Btf, Endian};
use crate::error::{Error, Result};
use crate::format::{
    check_section_refs, walk_records, walk_records_lenient, ByteWords, Record, RefBounds, RefMax,
    Words, SPLIT_HINT,
};
pub use crate::format::{Header, HEADER_LEN, MAGIC, VERSION};
use crate::ids::{StrOff, TypeId};
use crate::kind::Kind;
use crate::types::*;

impl Btf {
    /// Parses raw BTF (see [`parse`]).
    pub fn parse(data: &[u8]) -> Result<Btf> {
        parse(data, None)
    }

    /// Parses raw split BTF on `base`.
    pub fn parse_split(data: &[u8], base: Arc<Btf>) -> Result<Btf> {
        parse(data, Some(base))
    }
}

/// Parses a raw BTF blob. With `base`, the blob is split BTF: its ids and string
/// offsets continue from the base's.
pub fn parse(data: &[u8], base: Option<Arc<Btf>>) -> Result<Btf> {
    let h = Header::parse(data)?;
    let (tsec, type_off, strings, str_off) = sections(data, &h);
    build(h.endian, base, &tsec, type_off, strings, str_off)
}

/// The type section (as words) and the string section of a blob whose header
/// `h` was checked ([`Header::parse`] or [`Header::parse_lenient`]: both
/// sections lie in `data`), each with its offset in `data`.
fn sections<'d>(data: &'d [u8], h: &Header) -> (ByteWords<'d>, u64, &'d [u8], u64) {
    let (ts, ss) = (h.type_start() as usize, h.str_start() as usize);
    let tsec = ByteWords::new(&data[ts..ts + h.type_len as usize], h.endian);
    (
        tsec,
        ts as u64,
        &data[ss..ss + h.str_len as usize],
        ss as u64,
    )
}

/// Builds a [`Btf`] from a type section given as native words (as btf-dedup
/// produces it) and a string section, with the same checks as [`parse`].
/// `endian` is the byte order [`Btf::to_bytes`] will write.
pub fn from_words(
    endian: Endian,
    base: Option<Arc<Btf>>,
    types: &[u32],
    strings: &[u8],
) -> Result<Btf> {
    let type_len = 4 * types.len() as u64;
    build(
        endian,
        base,
        types,
        u64::from(HEADER_LEN),
        strings,
        u64::from(HEADER_LEN) + type_len,
    )
}

/// The parser proper: checks the string section, walks and decodes the
/// records, and checks every reference. `type_off` and `str_off` are where
/// the sections start in the input, for errors.
fn build<W: Words + ?Sized>(
    endian: Endian,
    base: Option<Arc<Btf>>,
    tsec: &W,
    type_off: u64,
    strings: &[u8],
    str_off: u64,
) -> Result<Btf> {
    let (start_id, start_str_off) = Btf::own_starts(base.as_deref());
    crate::format::check_str_section(strings, base.is_some(), str_off)?;
    let (types, max) = parse_types(tsec, type_off)?;
    let btf = Btf::from_parts(
        endian,
        base,
        start_id,
        start_str_off,
        strings.to_vec(),
        types,
    )?;
    check_section_refs(tsec, type_off, btf.start_id(), Some(max), &ref_bounds(&btf))?;
    Ok(btf)
}

/// The bounds of `btf`'s references, with the split-BTF hint when it has no
/// base (a module's BTF read alone refers past its own types and strings).
fn ref_bounds(btf: &Btf) -> RefBounds<'static> {
    RefBounds {
        type_count: btf.type_count(),
        str_len: btf.str_len_total(),
        hint: if btf.base().is_none() { SPLIT_HINT } else { "" },
    }
}

/// What [`parse_lenient`] read: BTF to show, and the first thing [`parse`]
/// would have refused in it.
///
/// When [`Lenient::problem`] is `None` the BTF is exactly what [`parse`]
/// returns, with all its invariants. Otherwise only these hold: the header
/// passed libbpf 1.1's checks, the string section is [`parse`]'s, and every
/// record is of a known kind and lies whole in the type section; type ids
/// and string offsets may be out of range (lookups give `None`) and the
/// decoded model drops what the record held in reserved bits, a `vlen` on a
/// kind without trailing records and a FWD's size. Such BTF is for showing
/// (btf-dump's raw, JSON and C output), not for the encoder, dedup or the
/// verifier: [`Lenient::into_checked`] is the way to a [`Btf`] to build on.
#[derive(Debug)]
pub struct Lenient {
    btf: Btf,
    problem: Option<Error>,
}

impl Lenient {
    /// The BTF, to display (see the type's invariants).
    pub fn for_display(&self) -> &Btf {
        &self.btf
    }

    /// The first problem [`parse`] would have refused, if any: the header's,
    /// else the record with the lowest id that breaks a record rule or holds
    /// a reference out of range.
    pub fn problem(&self) -> Option<&Error> {
        self.problem.as_ref()
    }

    /// Rewrites the problem (a reader adds where the blob was found).
    pub(crate) fn map_problem(&mut self, f: impl FnOnce(Error) -> Error) {
        self.problem = self.problem.take().map(f);
    }

    /// The BTF when [`parse`] would have accepted it, else the problem.
    pub fn into_checked(self) -> Result<Btf> {
        match self.problem {
            None => Ok(self.btf),
            Some(e) => Err(e),
        }
    }
}

/// Reads a raw BTF blob as bpftool 7.1 (libbpf 1.1) does, for showing it:
/// what libbpf cannot walk (bad magic, sections outside the blob, a string
/// section that is not NUL-terminated, an unknown kind, a record cut short)
/// is an error, as from [`parse`]; everything else [`parse`] refuses is
/// reported as [`Lenient::problem`] beside the BTF read.
pub fn parse_lenient(data: &[u8], base: Option<Arc<Btf>>) -> Result<Lenient> {
    let (h, header_problem) = Header::parse_lenient(data)?;
    let (tsec, type_off, strings, str_off) = sections(data, &h);
    let (start_id, start_str_off) = Btf::own_starts(base.as_deref());
    crate::format::check_str_section(strings, base.is_some(), str_off)?;
    let mut types = Vec::with_capacity(tsec.len_words() / 4);
    let (_, max, record_problem) = walk_records_lenient(&tsec, 0, type_off, |at| {
        types.push(decode(&Record::new(&tsec, at)));
        Ok(())
    })?;
    let btf = Btf::from_parts(
        h.endian,
        base,
        start_id,
        start_str_off,
        strings.to_vec(),
        types,
    )?;
    let ref_problem =
        check_section_refs(&tsec, type_off, start_id, Some(max), &ref_bounds(&btf)).err();
    // The first problem: the header's, else the record with the lowest id.
    let record_problem = record_problem.map(|(n, e)| {
        let id = start_id.saturating_add(n - 1);
        (id, e.with_type(id))
    });
    let problem = header_problem.or(match (record_problem, ref_problem) {
        (Some((id, e)), Some(r)) => Some(if r.type_id().is_some_and(|r| r < id) {
            r
        } else {
            e
        }),
        (Some((_, e)), None) => Some(e),
        (None, r) => r,
    });
    Ok(Lenient { btf, problem })
}

/// Decodes every record of the type section (checked by [`walk_records`]).
fn parse_types<W: Words + ?Sized>(tsec: &W, file_off: u64) -> Result<(Vec<Type>, RefMax)> {
    // A record is at least 3 words: this bounds the allocation by the input.
    let mut types = Vec::with_capacity(tsec.len_words() / 4);
    let (_, max) = walk_records(tsec, 0, file_off, |at| {
        types.push(decode(&Record::new(tsec, at)));
        Ok(())
    })?;
    Ok((types, max))
}

/// The model of one record that [`walk_records`] accepted.
fn decode<W: Words + ?Sized>(r: &Record<'_, W>) -> Type {
    let sot = r.size_or_type();
    let x = |i: usize| r.extra(i);
    let n = r.vlen() as usize;
    // Entry `i` of `step` words, word `j` of it.
    let e = |i: usize, step: usize, j: usize| r.extra(step * i + j);
    let kind = Kind::from_u8(r.kind()).unwrap_or(Kind::Int);
    let data = match kind {
        Kind::Int => {
            let v = x(0);
            TypeData::Int(Int {
                size: sot,
                encoding: ((v >> 24) & 0x0f) as u8,
                offset: ((v >> 16) & 0xff) as u8,
                bits: (v & 0xff) as u8,
                unused: ((v >> 8) & 0xff) as u8,
            })
        }
        Kind::Ptr => TypeData::Ptr(TypeId(sot)),
        Kind::Array => TypeData::Array(Array {
            elem: TypeId(x(0)),
            index: TypeId(x(1)),
            nelems: x(2),
        }),
        Kind::Struct | Kind::Union => {
            let members = (0..n)
                .map(|i| Member {
                    name_off: StrOff(e(i, 3, 0)),
                    ty: TypeId(e(i, 3, 1)),
                    offset: e(i, 3, 2),
                })
                .collect();
            let comp = Composite { size: sot, members };
            if kind == Kind::Struct {
                TypeData::Struct(comp)
            } else {
                TypeData::Union(comp)
            }
        }
        Kind::Enum => TypeData::Enum(Enum {
            size: sot,
            values: (0..n)
                .map(|i| EnumValue {
                    name_off: StrOff(e(i, 2, 0)),
                    val: e(i, 2, 1),
                })
                .collect(),
        }),
        Kind::Enum64 => TypeData::Enum64(Enum64 {
            size: sot,
            values: (0..n)
                .map(|i| Enum64Value {
                    name_off: StrOff(e(i, 3, 0)),
                    val: u64::from(e(i, 3, 1)) | (u64::from(e(i, 3, 2)) << 32),
                })
                .collect(),
        }),
        Kind::Fwd => TypeData::Fwd,
        Kind::Typedef => TypeData::Typedef(TypeId(sot)),
        Kind::Volatile => TypeData::Volatile(TypeId(sot)),
        Kind::Const => TypeData::Const(TypeId(sot)),
        Kind::Restrict => TypeData::Restrict(TypeId(sot)),
        Kind::TypeTag => TypeData::TypeTag(TypeId(sot)),
        Kind::Func => TypeData::Func(Func {
            proto: TypeId(sot),
            linkage: r.vlen() as u16,
        }),
        Kind::FuncProto => TypeData::FuncProto(FuncProto {
            ret: TypeId(sot),
            params: (0..n)
                .map(|i| Param {
                    name_off: StrOff(e(i, 2, 0)),
                    ty: TypeId(e(i, 2, 1)),
                })
                .collect(),
        }),
        Kind::Var => TypeData::Var(Var {
            ty: TypeId(sot),
            linkage: x(0),
        }),
        Kind::Datasec => TypeData::Datasec(Datasec {
            size: sot,
            vars: (0..n)
                .map(|i| VarSecInfo {
                    ty: TypeId(e(i, 3, 0)),
                    offset: e(i, 3, 1),
                    size: e(i, 3, 2),
                })
                .collect(),
        }),
        Kind::Float => TypeData::Float(Float { size: sot }),
        Kind::DeclTag => TypeData::DeclTag(DeclTag {
            ty: TypeId(sot),
            component_idx: x(0) as i32,
        }),
    };
    Type {
        name_off: StrOff(r.name_off()),
        kind_flag: r.kind_flag(),
        data,
    }
}

/// Checks that every string offset and type id the own types hold is in
/// range: the parser's last invariant, for BTF that was not parsed (the
/// builder checks its result with it). The own types are laid out as words
/// and put through the parser's own check. `hint` ends each message.
pub(crate) fn check_refs(btf: &Btf, hint: &str) -> Result<()> {
    let mut words = Vec::new();
    for t in btf.own_type_slice() {
        crate::write::write_type_words(&mut words, t);
    }
    check_section_refs(
        words.as_slice(),
        0,
        btf.start_id(),
        None,
        &RefBounds {
            type_count: btf.type_count(),
            str_len: btf.str_len_total(),
            hint,
        },
    )
}
