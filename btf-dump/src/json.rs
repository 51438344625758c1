//! Output format `json`: what `bpftool -j btf dump file F` (bpftool 7.1)
//! prints, byte for byte for every input bpftool writes valid JSON for.
//!
//! The document is `{"types":[...]}` followed by a newline, compact, one
//! object per type with the keys in bpftool's order: `id`, `kind`, `name`, then
//! the kind's fields (the same as the [`crate::raw`] format, with members,
//! enumerators, parameters and section variables as arrays of objects under
//! `members`, `values`, `params` and `vars`).
//!
//! bpftool's quirks are kept, since the point is to be a drop-in replacement:
//! - an unsigned ENUM's value is the 32-bit value sign-extended to 64 bits and
//!   printed unsigned (`0xffffffff` is `18446744073709551615`); a signed one
//!   is printed as `i32`;
//! - in strings a backslash is written as `\n` (bpftool's escape table maps
//!   `\\` to `\n`).
//!
//! Where bpftool would write invalid JSON this writes valid JSON instead:
//! control characters other than `\t \n \r \f \b` become `\u00XX`, and bytes
//! that are not UTF-8 become U+FFFD.

use std::io::{self, Write};

use btf::{Btf, StrOff, Type, TypeData, TypeId};

use crate::raw::{int_encoding, linkage_name, name_bytes, Out};

/// Dumps `btf` (its own types for split BTF) as `bpftool -j btf dump file F` does.
pub fn dump(btf: &Btf, out: &mut dyn Write) -> io::Result<()> {
    let mut o = Out::new(out);
    o.bytes(b"{\"types\":[");
    for (i, (id, t)) in btf.own_types().enumerate() {
        if i > 0 {
            o.byte(b',');
        }
        dump_type(btf, &mut o, id, t);
        o.maybe_flush()?;
    }
    o.bytes(b"]}\n");
    o.flush()
}

/// Appends `,"key":` (every key but an object's first follows another).
#[inline]
fn key(o: &mut Out<'_>, k: &str) {
    o.bytes(b",\"");
    o.str(k);
    o.bytes(b"\":");
}

#[inline]
fn ufield(o: &mut Out<'_>, k: &str, v: u64) {
    key(o, k);
    o.u64(v);
}

#[inline]
fn ifield(o: &mut Out<'_>, k: &str, v: i64) {
    key(o, k);
    o.i64(v);
}

#[inline]
fn sfield(o: &mut Out<'_>, k: &str, v: &[u8]) {
    key(o, k);
    string(o, v);
}

#[inline]
fn name_field(o: &mut Out<'_>, btf: &Btf, k: &str, off: StrOff) {
    sfield(o, k, name_bytes(btf, off));
}

/// Appends a JSON string with bpftool's escapes (see the module doc).
fn string(o: &mut Out<'_>, s: &[u8]) {
    o.byte(b'"');
    let plain = s
        .iter()
        .all(|&b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x80);
    if plain {
        o.bytes(s);
    } else {
        let text = String::from_utf8_lossy(s);
        for &b in text.as_bytes() {
            match b {
                b'\t' => o.bytes(b"\\t"),
                b'\n' | b'\\' => o.bytes(b"\\n"),
                b'\r' => o.bytes(b"\\r"),
                0x0c => o.bytes(b"\\f"),
                0x08 => o.bytes(b"\\b"),
                b'"' => o.bytes(b"\\\""),
                0..=0x1f => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    o.bytes(b"\\u00");
                    o.byte(HEX[usize::from(b >> 4)]);
                    o.byte(HEX[usize::from(b & 15)]);
                }
                _ => o.byte(b),
            }
        }
    }
    o.byte(b'"');
}

fn dump_type(btf: &Btf, o: &mut Out<'_>, id: TypeId, t: &Type) {
    let kf = t.kind_flag;
    o.bytes(b"{\"id\":");
    o.u64(u64::from(id.0));
    sfield(o, "kind", t.kind().name().as_bytes());
    name_field(o, btf, "name", t.name_off);
    match &t.data {
        TypeData::Int(i) => {
            ufield(o, "size", u64::from(i.size));
            ufield(o, "bits_offset", u64::from(i.offset));
            ufield(o, "nr_bits", u64::from(i.bits));
            sfield(o, "encoding", int_encoding(i.encoding).as_bytes());
        }
        TypeData::Ptr(r)
        | TypeData::Const(r)
        | TypeData::Volatile(r)
        | TypeData::Restrict(r)
        | TypeData::Typedef(r)
        | TypeData::TypeTag(r) => ufield(o, "type_id", u64::from(r.0)),
        TypeData::Array(a) => {
            ufield(o, "type_id", u64::from(a.elem.0));
            ufield(o, "index_type_id", u64::from(a.index.0));
            ufield(o, "nr_elems", u64::from(a.nelems));
        }
        TypeData::Struct(c) | TypeData::Union(c) => {
            ufield(o, "size", u64::from(c.size));
            ufield(o, "vlen", c.members.len() as u64);
            key(o, "members");
            o.byte(b'[');
            for (i, m) in c.members.iter().enumerate() {
                if i > 0 {
                    o.byte(b',');
                }
                o.bytes(b"{\"name\":");
                string(o, name_bytes(btf, m.name_off));
                ufield(o, "type_id", u64::from(m.ty.0));
                ufield(o, "bits_offset", u64::from(m.bit_offset(kf)));
                let sz = m.bitfield_size(kf);
                if sz != 0 {
                    ufield(o, "bitfield_size", u64::from(sz));
                }
                o.byte(b'}');
            }
            o.byte(b']');
        }
        TypeData::Enum(e) => {
            enum_head(o, kf, e.size, e.values.len());
            for (i, v) in e.values.iter().enumerate() {
                enum_value_head(o, btf, i, v.name_off);
                // The record's value is an s32; bpftool widens it to 64 bits
                // (sign-extending) and prints it signed or unsigned.
                let wide = i64::from(v.val as i32);
                if kf {
                    o.i64(wide);
                } else {
                    o.u64(wide as u64);
                }
                o.byte(b'}');
            }
            o.byte(b']');
        }
        TypeData::Enum64(e) => {
            enum_head(o, kf, e.size, e.values.len());
            for (i, v) in e.values.iter().enumerate() {
                enum_value_head(o, btf, i, v.name_off);
                if kf {
                    o.i64(v.val as i64);
                } else {
                    o.u64(v.val);
                }
                o.byte(b'}');
            }
            o.byte(b']');
        }
        TypeData::Fwd => sfield(
            o,
            "fwd_kind",
            if kf { &b"union"[..] } else { &b"struct"[..] },
        ),
        TypeData::Func(f) => {
            ufield(o, "type_id", u64::from(f.proto.0));
            sfield(o, "linkage", linkage_name(u32::from(f.linkage)).as_bytes());
        }
        TypeData::FuncProto(p) => {
            ufield(o, "ret_type_id", u64::from(p.ret.0));
            ufield(o, "vlen", p.params.len() as u64);
            key(o, "params");
            o.byte(b'[');
            for (i, q) in p.params.iter().enumerate() {
                if i > 0 {
                    o.byte(b',');
                }
                o.bytes(b"{\"name\":");
                string(o, name_bytes(btf, q.name_off));
                ufield(o, "type_id", u64::from(q.ty.0));
                o.byte(b'}');
            }
            o.byte(b']');
        }
        TypeData::Var(v) => {
            ufield(o, "type_id", u64::from(v.ty.0));
            sfield(o, "linkage", linkage_name(v.linkage).as_bytes());
        }
        TypeData::Datasec(d) => {
            ufield(o, "size", u64::from(d.size));
            ufield(o, "vlen", d.vars.len() as u64);
            key(o, "vars");
            o.byte(b'[');
            for (i, v) in d.vars.iter().enumerate() {
                if i > 0 {
                    o.byte(b',');
                }
                o.bytes(b"{\"type_id\":");
                o.u64(u64::from(v.ty.0));
                ufield(o, "offset", u64::from(v.offset));
                ufield(o, "size", u64::from(v.size));
                o.byte(b'}');
            }
            o.byte(b']');
        }
        TypeData::Float(f) => ufield(o, "size", u64::from(f.size)),
        TypeData::DeclTag(d) => {
            ufield(o, "type_id", u64::from(d.ty.0));
            ifield(o, "component_idx", i64::from(d.component_idx));
        }
    }
    o.byte(b'}');
}

fn enum_head(o: &mut Out<'_>, signed: bool, size: u32, vlen: usize) {
    sfield(
        o,
        "encoding",
        if signed {
            &b"SIGNED"[..]
        } else {
            &b"UNSIGNED"[..]
        },
    );
    ufield(o, "size", u64::from(size));
    ufield(o, "vlen", vlen as u64);
    key(o, "values");
    o.byte(b'[');
}

/// Appends `{"name":"...","val":` for the `i`-th enumerator.
fn enum_value_head(o: &mut Out<'_>, btf: &Btf, i: usize, name: StrOff) {
    if i > 0 {
        o.byte(b',');
    }
    o.bytes(b"{\"name\":");
    string(o, name_bytes(btf, name));
    o.bytes(b",\"val\":");
}
