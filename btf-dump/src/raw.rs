//! Output format `raw`: one line per type (plus one per member, enumerator,
//! parameter or section variable), byte for byte what `bpftool btf dump file F`
//! (bpftool 7.1) prints.
//!
//! The format of each kind (names are `'(anon)'` for string offset 0):
//!
//! ```text
//! [1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED
//! [2] PTR '(anon)' type_id=1                      (also CONST, VOLATILE, RESTRICT, TYPEDEF, TYPE_TAG)
//! [3] ARRAY '(anon)' type_id=1 index_type_id=1 nr_elems=4
//! [4] STRUCT 's' size=8 vlen=2                    (also UNION)
//!     'a' type_id=1 bits_offset=0
//!     'b' type_id=1 bits_offset=32 bitfield_size=3  (bitfield_size only when non-zero)
//! [5] ENUM 'e' encoding=UNSIGNED size=4 vlen=1    (SIGNED: values printed as i32)
//!     'A' val=0
//! [6] ENUM64 'e' encoding=SIGNED size=8 vlen=1    (values as i64 with LL, or u64 with ULL)
//!     'A' val=-1LL
//! [7] FWD 'f' fwd_kind=struct                     (union when kind_flag)
//! [8] FUNC 'f' type_id=9 linkage=static           (static, global, extern, (unknown))
//! [9] FUNC_PROTO '(anon)' ret_type_id=1 vlen=1
//!     'x' type_id=1
//! [10] VAR 'v' type_id=1, linkage=global          (note bpftool's comma)
//! [11] DATASEC '.data' size=4 vlen=1
//!     type_id=10 offset=0 size=4 (VAR 'v')
//! [12] FLOAT 'double' size=8
//! [13] DECL_TAG 't' type_id=8 component_idx=-1
//! ```
//!
//! For split BTF only the split types are printed, their ids continuing from
//! the base's.
//!
//! The writer formats numbers by hand into one buffer that is flushed in large
//! blocks; nothing is allocated per line.

use std::io::{self, Write};

use btf::types::linkage;
use btf::{Btf, StrOff, Type, TypeData, TypeId};

/// Dumps `btf` (its own types for split BTF) as `bpftool btf dump file F format raw` does.
pub fn dump(btf: &Btf, out: &mut dyn Write) -> io::Result<()> {
    let mut o = Out::new(out);
    for (id, t) in btf.own_types() {
        dump_type(btf, &mut o, id, t);
        o.maybe_flush()?;
    }
    o.flush()
}

fn dump_type(btf: &Btf, o: &mut Out<'_>, id: TypeId, t: &Type) {
    let kf = t.kind_flag;
    o.byte(b'[');
    o.u64(u64::from(id.0));
    o.bytes(b"] ");
    o.str(t.kind().name());
    o.bytes(b" '");
    o.bytes(name_bytes(btf, t.name_off));
    o.byte(b'\'');
    match &t.data {
        TypeData::Int(i) => {
            o.bytes(b" size=");
            o.u64(u64::from(i.size));
            o.bytes(b" bits_offset=");
            o.u64(u64::from(i.offset));
            o.bytes(b" nr_bits=");
            o.u64(u64::from(i.bits));
            o.bytes(b" encoding=");
            o.str(int_encoding(i.encoding));
        }
        TypeData::Ptr(r)
        | TypeData::Const(r)
        | TypeData::Volatile(r)
        | TypeData::Restrict(r)
        | TypeData::Typedef(r)
        | TypeData::TypeTag(r) => {
            o.bytes(b" type_id=");
            o.u64(u64::from(r.0));
        }
        TypeData::Array(a) => {
            o.bytes(b" type_id=");
            o.u64(u64::from(a.elem.0));
            o.bytes(b" index_type_id=");
            o.u64(u64::from(a.index.0));
            o.bytes(b" nr_elems=");
            o.u64(u64::from(a.nelems));
        }
        TypeData::Struct(c) | TypeData::Union(c) => {
            o.bytes(b" size=");
            o.u64(u64::from(c.size));
            o.bytes(b" vlen=");
            o.u64(c.members.len() as u64);
            for m in &c.members {
                o.bytes(b"\n\t'");
                o.bytes(name_bytes(btf, m.name_off));
                o.bytes(b"' type_id=");
                o.u64(u64::from(m.ty.0));
                o.bytes(b" bits_offset=");
                o.u64(u64::from(m.bit_offset(kf)));
                let sz = m.bitfield_size(kf);
                if sz != 0 {
                    o.bytes(b" bitfield_size=");
                    o.u64(u64::from(sz));
                }
            }
        }
        TypeData::Enum(e) => {
            enum_head(o, kf, e.size, e.values.len());
            for v in &e.values {
                o.bytes(b"\n\t'");
                o.bytes(name_bytes(btf, v.name_off));
                o.bytes(b"' val=");
                if kf {
                    o.i64(i64::from(v.val as i32));
                } else {
                    o.u64(u64::from(v.val));
                }
            }
        }
        TypeData::Enum64(e) => {
            enum_head(o, kf, e.size, e.values.len());
            for v in &e.values {
                o.bytes(b"\n\t'");
                o.bytes(name_bytes(btf, v.name_off));
                o.bytes(b"' val=");
                if kf {
                    o.i64(v.val as i64);
                    o.bytes(b"LL");
                } else {
                    o.u64(v.val);
                    o.bytes(b"ULL");
                }
            }
        }
        TypeData::Fwd => {
            o.bytes(if kf {
                b" fwd_kind=union"
            } else {
                b" fwd_kind=struct"
            });
        }
        TypeData::Func(f) => {
            o.bytes(b" type_id=");
            o.u64(u64::from(f.proto.0));
            o.bytes(b" linkage=");
            o.str(linkage_name(u32::from(f.linkage)));
        }
        TypeData::FuncProto(p) => {
            o.bytes(b" ret_type_id=");
            o.u64(u64::from(p.ret.0));
            o.bytes(b" vlen=");
            o.u64(p.params.len() as u64);
            for q in &p.params {
                o.bytes(b"\n\t'");
                o.bytes(name_bytes(btf, q.name_off));
                o.bytes(b"' type_id=");
                o.u64(u64::from(q.ty.0));
            }
        }
        TypeData::Var(v) => {
            o.bytes(b" type_id=");
            o.u64(u64::from(v.ty.0));
            o.bytes(b", linkage=");
            o.str(linkage_name(v.linkage));
        }
        TypeData::Datasec(d) => {
            o.bytes(b" size=");
            o.u64(u64::from(d.size));
            o.bytes(b" vlen=");
            o.u64(d.vars.len() as u64);
            for v in &d.vars {
                o.bytes(b"\n\ttype_id=");
                o.u64(u64::from(v.ty.0));
                o.bytes(b" offset=");
                o.u64(u64::from(v.offset));
                o.bytes(b" size=");
                o.u64(u64::from(v.size));
                // bpftool annotates every in-range id; id 0 is `void`, kind 0.
                if v.ty.0 < btf.type_count() {
                    let (kind, name) = match btf.type_by_id(v.ty) {
                        Some(vt) => (vt.kind().name(), name_bytes(btf, vt.name_off)),
                        None => ("UNKNOWN", &b"(anon)"[..]),
                    };
                    o.bytes(b" (");
                    o.str(kind);
                    o.bytes(b" '");
                    o.bytes(name);
                    o.bytes(b"')");
                }
            }
        }
        TypeData::Float(f) => {
            o.bytes(b" size=");
            o.u64(u64::from(f.size));
        }
        TypeData::DeclTag(d) => {
            o.bytes(b" type_id=");
            o.u64(u64::from(d.ty.0));
            o.bytes(b" component_idx=");
            o.i64(i64::from(d.component_idx));
        }
    }
    o.byte(b'\n');
}

fn enum_head(o: &mut Out<'_>, signed: bool, size: u32, vlen: usize) {
    o.bytes(if signed {
        b" encoding=SIGNED size="
    } else {
        b" encoding=UNSIGNED size="
    });
    o.u64(u64::from(size));
    o.bytes(b" vlen=");
    o.u64(vlen as u64);
}

/// A name as bpftool prints it: `(anon)` for offset 0, `(invalid)` for an
/// offset that names no string (the parser rejects those, so only for BTF
/// built by hand).
pub(crate) fn name_bytes(btf: &Btf, off: StrOff) -> &[u8] {
    if off.is_empty() {
        b"(anon)"
    } else {
        btf.str_bytes(off).unwrap_or(b"(invalid)")
    }
}

/// bpftool's name of an INT encoding: exactly one of the bits, or none.
pub(crate) fn int_encoding(enc: u8) -> &'static str {
    match enc {
        0 => "(none)",
        1 => "SIGNED",
        2 => "CHAR",
        4 => "BOOL",
        _ => "UNKN",
    }
}

/// bpftool's name of a FUNC or VAR linkage.
pub(crate) fn linkage_name(l: u32) -> &'static str {
    match l {
        linkage::STATIC => "static",
        linkage::GLOBAL => "global",
        linkage::EXTERN => "extern",
        _ => "(unknown)",
    }
}

/// The size at which [`Out::maybe_flush`] hands the buffer to the writer.
const FLUSH_AT: usize = 1 << 16;

/// A byte buffer in front of a writer, with hand-written integer formatting.
///
/// Invariant: the buffer holds only bytes not yet written; `maybe_flush` writes
/// it out once it holds [`FLUSH_AT`] bytes or more, `flush` always.
pub(crate) struct Out<'a> {
    buf: Vec<u8>,
    w: &'a mut dyn Write,
}

impl<'a> Out<'a> {
    pub(crate) fn new(w: &'a mut dyn Write) -> Self {
        Out {
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            w,
        }
    }

    #[inline]
    pub(crate) fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    #[inline]
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    #[inline]
    pub(crate) fn str(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// Appends `v` in decimal.
    #[inline]
    pub(crate) fn u64(&mut self, v: u64) {
        put_u64(&mut self.buf, v);
    }

    /// Appends `v` in decimal, with a `-` when negative.
    #[inline]
    pub(crate) fn i64(&mut self, v: i64) {
        if v < 0 {
            self.buf.push(b'-');
        }
        self.u64(v.unsigned_abs());
    }

    /// Writes the buffer out when it is large enough.
    #[inline]
    pub(crate) fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes the buffer out and flushes the writer.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        self.w.flush()
    }
}

/// Appends `v` in decimal to `buf` (no allocation; shared with the C dumper).
#[inline]
pub(crate) fn put_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}
