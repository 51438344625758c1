//! The raw BTF format: a header, a type section and a string section.
//!
//! Invariants the parser establishes, so that every later stage may rely on them:
//! - the header is well formed and both sections lie inside the blob;
//! - the string section starts (for base BTF) and ends with NUL;
//! - every type record is complete, of a known kind, with no reserved `info` bits set;
//! - every string offset a type holds names a string (in this BTF or its base);
//! - every type id a type holds is below the total type count.
//!
//! It does not check what the kernel's verifier checks beyond that (sizes, loops,
//! member offsets, names): [`crate::verify`] does.

use std::sync::Arc;

use crate::btf::{Btf, Endian};
use crate::error::{Error, Result};
use crate::ids::{StrOff, TypeId};
use crate::kind::Kind;
use crate::types::*;

/// The BTF magic number, `0xeB9F`.
pub const MAGIC: u16 = 0xeb9f;
/// The BTF version this crate reads and writes.
pub const VERSION: u8 = 1;
/// The size of the header this crate knows.
pub const HEADER_LEN: u32 = 24;

/// The BTF header, as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// A bounds-checked little reader over a byte slice in a given byte order.
#[derive(Clone, Copy)]
pub(crate) struct Cursor<'a> {
    pub data: &'a [u8],
    pub endian: Endian,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub fn u32_at(&self, off: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(match self.endian {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        })
    }
}

impl Header {
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
            [a, b] => {
                return Err(Error::at(
                    0,
                    format!(
                        "bad BTF magic {a:#04x} {b:#04x}, expected 0xeB9F in either byte order"
                    ),
                ))
            }
        };
        let c = Cursor { data, endian };
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

/// Parses a raw BTF blob. With `base`, the blob is split BTF: its ids and string
/// offsets continue from the base's.
pub fn parse(data: &[u8], base: Option<Arc<Btf>>) -> Result<Btf> {
    let h = Header::parse(data)?;
    let hdr = h.hdr_len as usize;
    let str_start = hdr + h.str_off as usize;
    let strings = &data[str_start..str_start + h.str_len as usize];
    let (start_id, start_str_off) = match &base {
        Some(b) => (b.type_count(), b.str_len_total()),
        None => (1, 0),
    };
    if base.is_none() || !strings.is_empty() {
        if base.is_none() && strings.first() != Some(&0) {
            return Err(Error::at(
                str_start as u64,
                "string section must start with an empty string (NUL byte); split BTF? pass its base",
            ));
        }
        if strings.last() != Some(&0) {
            return Err(Error::at(
                (str_start + strings.len()).saturating_sub(1) as u64,
                "string section must end with a NUL byte",
            ));
        }
    }
    let type_start = hdr + h.type_off as usize;
    let tsec = &data[type_start..type_start + h.type_len as usize];
    let types = parse_types(tsec, h.endian, type_start)?;
    let btf = Btf::from_parts(
        h.endian,
        base,
        start_id,
        start_str_off,
        strings.to_vec(),
        types,
    )?;
    let split_hint = if btf.base().is_none() {
        " (split BTF? pass its base)"
    } else {
        ""
    };
    check_refs(&btf, split_hint)?;
    Ok(btf)
}

fn parse_types(tsec: &[u8], endian: Endian, file_off: usize) -> Result<Vec<Type>> {
    let c = Cursor { data: tsec, endian };
    // A record is at least 12 bytes: this bounds the allocation by the input.
    let mut types = Vec::with_capacity(tsec.len() / 16);
    let mut off = 0usize;
    while off < tsec.len() {
        let id_hint = types.len() as u32 + 1;
        let at = |o: usize| (file_off + o) as u64;
        let trunc = |o: usize, what: &str| {
            Error::at(at(o), format!("type section truncated in {what} of type #{id_hint} (counting from the section start)"))
        };
        let name_off = c.u32_at(off).ok_or_else(|| trunc(off, "the header"))?;
        let info = c.u32_at(off + 4).ok_or_else(|| trunc(off, "the header"))?;
        let sot = c.u32_at(off + 8).ok_or_else(|| trunc(off, "the header"))?;
        let kind_raw = ((info >> 24) & 0x1f) as u8;
        let vlen = info & 0xffff;
        let kflag = info >> 31 != 0;
        let reserved = info & 0x60ff_0000;
        let kind = Kind::from_u8(kind_raw).ok_or_else(|| {
            Error::at(
                at(off + 4),
                format!("unknown BTF kind {kind_raw} in type #{id_hint} (info {info:#010x}); kinds 1..=19 are known"),
            )
        })?;
        if reserved != 0 {
            return Err(Error::at(
                at(off + 4),
                format!(
                    "reserved info bits {reserved:#010x} set in type #{id_hint} (info {info:#010x}): \
                     a newer BTF format with wider kind/vlen fields is not supported"
                ),
            ));
        }
        if vlen != 0 && !kind.has_vlen_records() && kind != Kind::Func {
            return Err(Error::at(
                at(off + 4),
                format!(
                    "{} type #{id_hint} has vlen {vlen}, expected 0",
                    kind.name()
                ),
            ));
        }
        let mut p = off + 12;
        let vlen_us = vlen as usize;
        let need = |p: usize, n: usize| -> Result<()> {
            if p.checked_add(n).is_some_and(|e| e <= tsec.len()) {
                Ok(())
            } else {
                Err(trunc(p, "the trailing records"))
            }
        };
        let w = |o: usize| c.u32_at(o).unwrap_or(0);
        let data = match kind {
            Kind::Int => {
                need(p, 4)?;
                let v = w(p);
                p += 4;
                if v & 0xf000_0000 != 0 {
                    return Err(Error::at(
                        at(p - 4),
                        format!("INT type #{id_hint} has reserved encoding bits set ({v:#010x})"),
                    ));
                }
                TypeData::Int(Int {
                    size: sot,
                    encoding: ((v >> 24) & 0x0f) as u8,
                    offset: ((v >> 16) & 0xff) as u8,
                    bits: (v & 0xff) as u8,
                    unused: ((v >> 8) & 0xff) as u8,
                })
            }
            Kind::Ptr => TypeData::Ptr(TypeId(sot)),
            Kind::Array => {
                need(p, 12)?;
                let a = Array {
                    elem: TypeId(w(p)),
                    index: TypeId(w(p + 4)),
                    nelems: w(p + 8),
                };
                p += 12;
                TypeData::Array(a)
            }
            Kind::Struct | Kind::Union => {
                need(p, 12 * vlen_us)?;
                let members = (0..vlen_us)
                    .map(|i| {
                        let q = p + 12 * i;
                        Member {
                            name_off: StrOff(w(q)),
                            ty: TypeId(w(q + 4)),
                            offset: w(q + 8),
                        }
                    })
                    .collect();
                p += 12 * vlen_us;
                let comp = Composite { size: sot, members };
                if kind == Kind::Struct {
                    TypeData::Struct(comp)
                } else {
                    TypeData::Union(comp)
                }
            }
            Kind::Enum => {
                need(p, 8 * vlen_us)?;
                let values = (0..vlen_us)
                    .map(|i| EnumValue {
                        name_off: StrOff(w(p + 8 * i)),
                        val: w(p + 8 * i + 4),
                    })
                    .collect();
                p += 8 * vlen_us;
                TypeData::Enum(Enum { size: sot, values })
            }
            Kind::Enum64 => {
                need(p, 12 * vlen_us)?;
                let values = (0..vlen_us)
                    .map(|i| {
                        let q = p + 12 * i;
                        Enum64Value {
                            name_off: StrOff(w(q)),
                            val: u64::from(w(q + 4)) | (u64::from(w(q + 8)) << 32),
                        }
                    })
                    .collect();
                p += 12 * vlen_us;
                TypeData::Enum64(Enum64 { size: sot, values })
            }
            Kind::Fwd => {
                if sot != 0 {
                    return Err(Error::at(
                        at(off + 8),
                        format!("FWD type #{id_hint} has a non-zero size/type word {sot}"),
                    ));
                }
                TypeData::Fwd
            }
            Kind::Typedef => TypeData::Typedef(TypeId(sot)),
            Kind::Volatile => TypeData::Volatile(TypeId(sot)),
            Kind::Const => TypeData::Const(TypeId(sot)),
            Kind::Restrict => TypeData::Restrict(TypeId(sot)),
            Kind::TypeTag => TypeData::TypeTag(TypeId(sot)),
            Kind::Func => TypeData::Func(Func {
                proto: TypeId(sot),
                linkage: vlen as u16,
            }),
            Kind::FuncProto => {
                need(p, 8 * vlen_us)?;
                let params = (0..vlen_us)
                    .map(|i| Param {
                        name_off: StrOff(w(p + 8 * i)),
                        ty: TypeId(w(p + 8 * i + 4)),
                    })
                    .collect();
                p += 8 * vlen_us;
                TypeData::FuncProto(FuncProto {
                    ret: TypeId(sot),
                    params,
                })
            }
            Kind::Var => {
                need(p, 4)?;
                let v = Var {
                    ty: TypeId(sot),
                    linkage: w(p),
                };
                p += 4;
                TypeData::Var(v)
            }
            Kind::Datasec => {
                need(p, 12 * vlen_us)?;
                let vars = (0..vlen_us)
                    .map(|i| {
                        let q = p + 12 * i;
                        VarSecInfo {
                            ty: TypeId(w(q)),
                            offset: w(q + 4),
                            size: w(q + 8),
                        }
                    })
                    .collect();
                p += 12 * vlen_us;
                TypeData::Datasec(Datasec { size: sot, vars })
            }
            Kind::Float => TypeData::Float(Float { size: sot }),
            Kind::DeclTag => {
                need(p, 4)?;
                let d = DeclTag {
                    ty: TypeId(sot),
                    component_idx: w(p) as i32,
                };
                p += 4;
                TypeData::DeclTag(d)
            }
        };
        types.push(Type {
            name_off: StrOff(name_off),
            kind_flag: kflag,
            data,
        });
        off = p;
    }
    Ok(types)
}

/// Checks that every string offset and type id the own types hold is in
/// range (the parser's last invariant; the builder checks its result with it
/// too). `hint` ends each message.
pub(crate) fn check_refs(btf: &Btf, hint: &str) -> Result<()> {
    let total = btf.type_count();
    let str_total = btf.str_len_total();
    for (id, t) in btf.own_types() {
        let mut err = None;
        t.for_each_str_off(|s| {
            if err.is_none() && s.0 >= str_total {
                err = Some(Error::new(format!(
                    "{} name offset {} is past the string section ({str_total} bytes){hint}",
                    t.kind().name(),
                    s.0
                )));
            }
        });
        t.for_each_type_id(|r| {
            if err.is_none() && r.0 >= total {
                err = Some(Error::new(format!(
                    "{} refers to type id {} but there are only {} types{hint}",
                    t.kind().name(),
                    r.0,
                    total
                )));
            }
        });
        if let Some(e) = err {
            return Err(e.with_type(id.0));
        }
    }
    Ok(())
}
