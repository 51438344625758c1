//! Writing BTF: the mirror of [`crate::read::raw`].
//!
//! The output is the canonical layout: a 24-byte header, the type section right
//! after it, the string section right after that. Parsing then writing a blob
//! in that layout gives back the same bytes.

use crate::btf::{Btf, Endian};
use crate::format::{Header, HEADER_LEN};
use crate::types::{Type, TypeData};

impl Btf {
    /// Writes this BTF (its own part, for split BTF) as a raw blob in its byte order.
    pub fn to_bytes(&self) -> Vec<u8> {
        to_bytes(self, self.endian())
    }
}

/// Serializes the own part of `btf` (all of it for base BTF) in byte order `endian`.
pub fn to_bytes(btf: &Btf, endian: Endian) -> Vec<u8> {
    let types = btf.own_type_slice();
    let strings = btf.own_strings();
    let type_len: usize = types.iter().map(Type::record_size).sum();
    let mut out = Vec::with_capacity(HEADER_LEN as usize + type_len + strings.len());
    Header::canonical(endian, type_len as u32, strings.len() as u32).write(&mut out);
    let mut w = Writer {
        out: &mut out,
        endian,
    };
    for t in types {
        write_type(&mut w, t);
    }
    out.extend_from_slice(strings);
    out
}

/// A canonical blob (header, types, strings) from type-section words and a
/// string section, in byte order `endian`, checking nothing: for tools and
/// tests that make records by hand, broken ones included.
pub fn blob_from_words(endian: Endian, types: &[u32], strings: &[u8]) -> Vec<u8> {
    let type_len = 4 * types.len();
    let mut out = Vec::with_capacity(HEADER_LEN as usize + type_len + strings.len());
    Header::canonical(endian, type_len as u32, strings.len() as u32).write(&mut out);
    let mut w = Writer {
        out: &mut out,
        endian,
    };
    for &v in types {
        w.u32(v);
    }
    out.extend_from_slice(strings);
    out
}

/// Appends one type record to `out` in byte order `endian`.
pub fn write_type_to(out: &mut Vec<u8>, endian: Endian, t: &Type) {
    write_type(&mut Writer { out, endian }, t);
}

/// Appends one type record to `out` as native words (the form btf-dedup and
/// [`crate::read::raw::from_words`] work on).
pub fn write_type_words(out: &mut Vec<u32>, t: &Type) {
    write_type(out, t);
}

/// Where records are written: bytes in a byte order, or native words.
trait Sink {
    fn u32(&mut self, v: u32);
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    endian: Endian,
}

impl Sink for Writer<'_> {
    #[inline]
    fn u32(&mut self, v: u32) {
        match self.endian {
            Endian::Little => self.out.extend_from_slice(&v.to_le_bytes()),
            Endian::Big => self.out.extend_from_slice(&v.to_be_bytes()),
        }
    }
}

impl Sink for Vec<u32> {
    #[inline]
    fn u32(&mut self, v: u32) {
        self.push(v);
    }
}

fn write_type<S: Sink + ?Sized>(w: &mut S, t: &Type) {
    w.u32(t.name_off.0);
    w.u32(t.info());
    w.u32(t.size_or_type());
    match &t.data {
        TypeData::Int(i) => w.u32(i.raw()),
        TypeData::Array(a) => {
            w.u32(a.elem.0);
            w.u32(a.index.0);
            w.u32(a.nelems);
        }
        TypeData::Struct(c) | TypeData::Union(c) => {
            for m in &c.members {
                w.u32(m.name_off.0);
                w.u32(m.ty.0);
                w.u32(m.offset);
            }
        }
        TypeData::Enum(e) => {
            for v in &e.values {
                w.u32(v.name_off.0);
                w.u32(v.val);
            }
        }
        TypeData::Enum64(e) => {
            for v in &e.values {
                w.u32(v.name_off.0);
                w.u32(v.val as u32);
                w.u32((v.val >> 32) as u32);
            }
        }
        TypeData::FuncProto(p) => {
            for q in &p.params {
                w.u32(q.name_off.0);
                w.u32(q.ty.0);
            }
        }
        TypeData::Var(v) => w.u32(v.linkage),
        TypeData::Datasec(d) => {
            for v in &d.vars {
                w.u32(v.ty.0);
                w.u32(v.offset);
                w.u32(v.size);
            }
        }
        TypeData::DeclTag(d) => w.u32(d.component_idx as u32),
        TypeData::Ptr(_)
        | TypeData::Fwd
        | TypeData::Typedef(_)
        | TypeData::Volatile(_)
        | TypeData::Const(_)
        | TypeData::Restrict(_)
        | TypeData::Func(_)
        | TypeData::Float(_)
        | TypeData::TypeTag(_) => {}
    }
}
