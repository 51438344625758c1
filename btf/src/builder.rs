//! [`Builder`]: assembling BTF type by type, with a deduplicated string table.
//!
//! Invariants:
//! - string offsets handed out are stable (strings are only appended); adding a
//!   string that already exists (in the base or in this builder) returns the
//!   existing offset, as libbpf's `btf__add_str` does;
//! - type ids are handed out in order from the start id, one per `add_*` call,
//!   even when the call records an error (so later ids stay what the caller
//!   expects);
//! - the `add_*` helpers never fail on the spot: a value that does not fit its
//!   record (an enumerator too big for the enum, a FUNC linkage past 16 bits, a
//!   bit offset past 24 bits in a bitfield struct, a string holding a NUL) is
//!   recorded, and [`Builder::finish`] returns the first such error, naming the
//!   type id;
//! - [`Builder::finish`] hands out only BTF the parser reads back to the same
//!   types: every record's fields fit their bits (vlen at most 65,535, INT
//!   encoding in 4 bits), both sections fit the header's 32-bit sizes, and every
//!   type id and string offset is in range (the parser's own check). Whether the
//!   kernel accepts the BTF is a further question: [`crate::verify`] answers it.

use crate::hash::FastMap as HashMap;
use std::sync::Arc;

use crate::btf::{Btf, Endian};
use crate::error::{Error, Result};
use crate::ids::{StrOff, TypeId};
use crate::types::*;

/// A string table that deduplicates as it grows. Offsets start at `start` (the
/// base's string length for split BTF); the first own string is `""` at offset 0
/// for base BTF.
#[derive(Clone, Debug)]
pub struct StringTable {
    start: u32,
    data: Vec<u8>,
    map: HashMap<Box<[u8]>, u32>,
}

impl StringTable {
    /// An empty table for base BTF: holds `""` at offset 0.
    pub fn new() -> Self {
        let mut t = StringTable {
            start: 0,
            data: Vec::new(),
            map: HashMap::default(),
        };
        t.data.push(0);
        t.map.insert(Box::from(&b""[..]), 0);
        t
    }

    /// An empty table whose offsets start at `start` (split BTF).
    pub fn new_split(start: u32) -> Self {
        StringTable {
            start,
            data: Vec::new(),
            map: HashMap::default(),
        }
    }

    /// A table holding an existing string section, so that lookups find its strings.
    pub fn from_section(start: u32, data: Vec<u8>) -> Self {
        let mut map = HashMap::default();
        let mut off = 0usize;
        while off < data.len() {
            let end = data[off..]
                .iter()
                .position(|&b| b == 0)
                .map_or(data.len(), |p| off + p);
            map.entry(Box::from(&data[off..end]))
                .or_insert(start + off as u32);
            off = end + 1;
        }
        StringTable { start, data, map }
    }

    /// The offset of `s`, adding it if absent.
    pub fn add(&mut self, s: &[u8]) -> StrOff {
        if let Some(&o) = self.map.get(s) {
            return StrOff(o);
        }
        // Saturates past 4 GiB: `Builder::finish` then reports the section too big.
        let off = u32::try_from(u64::from(self.start) + self.data.len() as u64).unwrap_or(u32::MAX);
        self.data.extend_from_slice(s);
        self.data.push(0);
        self.map.insert(Box::from(s), off);
        StrOff(off)
    }

    /// The offset of `s` if present.
    pub fn find(&self, s: &[u8]) -> Option<StrOff> {
        self.map.get(s).map(|&o| StrOff(o))
    }

    /// The raw section bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// Consumes the table, returning the section bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.data
    }
}

impl Default for StringTable {
    fn default() -> Self {
        StringTable::new()
    }
}

/// The largest `vlen` a record can hold (16 bits of `info`): members,
/// enumerators, parameters, DATASEC variables, or FUNC's linkage.
pub const MAX_VLEN: u32 = 0xffff;

/// The largest bit offset a member of a bitfield (`kind_flag`) STRUCT/UNION can
/// have: 24 bits, the top 8 of the offset word hold the bitfield size.
pub const MAX_BITFIELD_OFFSET: u32 = 0x00ff_ffff;

/// Builds a [`Btf`] type by type.
///
/// Every kind has a helper (`add_int` .. `add_enum64`); [`Builder::add_type`]
/// takes any [`Type`] as is. The helpers check that their values fit the
/// record; a value that does not makes [`Builder::finish`] fail with an error
/// naming the type id (the helper still returns the id the type would have).
///
/// ```
/// use btf::{Builder, Kind};
/// use btf::types::{linkage, INT_SIGNED};
/// let mut b = Builder::new();
/// let int = b.add_int("int", 4, INT_SIGNED);
/// let ptr = b.add_ptr(int);
/// let s = b.add_struct("pair", 16, &[("a", int, 0), ("p", ptr, 64)]);
/// let bits = b.add_bitfield_struct("flags", 4, &[("lo", int, 0, 3), ("hi", int, 3, 29)]);
/// b.add_enum("e", 1, true, &[("MINUS", -128), ("PLUS", 127)]);
/// b.add_enum64("e64", 8, false, &[("ALL", u64::MAX.into())]);
/// let proto = b.add_func_proto_variadic(int, &[("fmt", ptr)]);
/// b.add_func("printk", proto, linkage::EXTERN);
/// let btf = b.finish().unwrap();
/// assert_eq!(btf.get(s).unwrap().kind(), Kind::Struct);
/// assert!(btf.get(bits).unwrap().kind_flag);
/// assert_eq!(btf.name_of(s), "pair");
///
/// // A value that does not fit is an error at `finish`, naming the type.
/// let mut b = Builder::new();
/// let e = b.add_enum("small", 1, false, &[("TOO_BIG", 256)]);
/// let err = b.finish().unwrap_err();
/// assert_eq!(err.type_id(), Some(e.0));
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    endian: Endian,
    base: Option<Arc<Btf>>,
    base_names: Option<NameIndexOwned>,
    start_id: u32,
    strings: StringTable,
    types: Vec<Type>,
    /// The first value that did not fit, reported by `finish`.
    error: Option<Error>,
}

/// Base string lookup for split builders: string bytes to offset.
#[derive(Clone, Debug)]
struct NameIndexOwned(HashMap<Box<[u8]>, u32>);

/// The range of values an enumerator of a `size`-byte enum can hold, given its
/// signedness and the record's width in bits (32 for ENUM, 64 for ENUM64).
fn enum_range(size: u32, signed: bool, record_bits: u32) -> (i128, i128) {
    let bits = (size * 8).min(record_bits);
    if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

impl Builder {
    /// A builder for base BTF, little endian.
    pub fn new() -> Self {
        Builder {
            endian: Endian::Little,
            base: None,
            base_names: None,
            start_id: 1,
            strings: StringTable::new(),
            types: Vec::new(),
            error: None,
        }
    }

    /// A builder for split BTF on `base`: ids and string offsets continue from
    /// the base's, and strings the base has are not added again.
    pub fn new_split(base: Arc<Btf>) -> Self {
        let table = StringTable::from_section(0, all_strings(&base));
        Builder {
            endian: base.endian(),
            start_id: base.type_count(),
            strings: StringTable::new_split(base.str_len_total()),
            base_names: Some(NameIndexOwned(table.map)),
            base: Some(base),
            types: Vec::new(),
            error: None,
        }
    }

    /// A builder that starts from a copy of `btf` (its own part; the same base).
    pub fn from_btf(btf: &Btf) -> Self {
        let mut b = match btf.base() {
            Some(base) => Builder::new_split(base.clone()),
            None => Builder::new(),
        };
        b.endian = btf.endian();
        b.strings = StringTable::from_section(btf.start_str_off(), btf.own_strings().to_vec());
        b.types = btf.own_type_slice().to_vec();
        b
    }

    /// Sets the byte order of the result.
    pub fn set_endian(&mut self, endian: Endian) {
        self.endian = endian;
    }

    /// The id the next added type will get.
    pub fn next_id(&self) -> TypeId {
        TypeId(self.start_id + self.types.len() as u32)
    }

    /// The first error a helper recorded (what [`Builder::finish`] will
    /// return), if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Records `msg` as an error about the type `id` (the first one is kept).
    fn fail(&mut self, id: Option<TypeId>, msg: String) {
        if self.error.is_none() {
            let e = Error::new(msg);
            self.error = Some(match id {
                Some(id) => e.with_type(id.0),
                None => e,
            });
        }
    }

    /// Adds a string (or finds it, in the base or here) and returns its offset.
    /// The empty string is always offset 0.
    pub fn add_str(&mut self, s: &str) -> StrOff {
        self.add_str_bytes(s.as_bytes())
    }

    /// [`Builder::add_str`] for raw bytes. A NUL inside `s` cannot be
    /// represented (the string would read back shorter): [`Builder::finish`]
    /// then fails.
    pub fn add_str_bytes(&mut self, s: &[u8]) -> StrOff {
        if s.is_empty() {
            return StrOff::EMPTY;
        }
        if let Some(pos) = s.iter().position(|&c| c == 0) {
            let next = self.next_id();
            self.fail(
                None,
                format!(
                    "string {:?} (added before type [{}]) holds a NUL byte at {pos}: \
                     BTF strings are NUL-terminated",
                    String::from_utf8_lossy(s),
                    next.0
                ),
            );
        }
        if let Some(b) = &self.base_names {
            if let Some(&o) = b.0.get(s) {
                return StrOff(o);
            }
        }
        self.strings.add(s)
    }

    /// Adds a type as is and returns its id ([`Builder::finish`] checks it).
    pub fn add_type(&mut self, t: Type) -> TypeId {
        let id = self.next_id();
        self.types.push(t);
        id
    }

    /// Adds a type with `kind_flag` set as given.
    fn add_flagged(&mut self, name_off: StrOff, kind_flag: bool, data: TypeData) -> TypeId {
        self.add_type(Type {
            name_off,
            kind_flag,
            data,
        })
    }

    /// The types added so far (own part).
    pub fn types(&self) -> &[Type] {
        &self.types
    }

    /// Mutable access to the types added so far.
    pub fn types_mut(&mut self) -> &mut [Type] {
        &mut self.types
    }

    /// Adds an INT of `size` bytes with `encoding` (`INT_SIGNED`, `INT_CHAR`,
    /// `INT_BOOL`), all `size * 8` bits used (at most 255).
    pub fn add_int(&mut self, name: &str, size: u32, encoding: u8) -> TypeId {
        let bits = size.saturating_mul(8).min(255) as u8;
        self.add_int_bits(name, size, encoding, 0, bits)
    }

    /// Adds an INT of `size` bytes whose value is `bits` bits from bit `offset`.
    /// `encoding` has 4 bits in the record.
    pub fn add_int_bits(
        &mut self,
        name: &str,
        size: u32,
        encoding: u8,
        offset: u8,
        bits: u8,
    ) -> TypeId {
        let n = self.add_str(name);
        let id = self.add_type(Type::named(
            n,
            TypeData::Int(Int {
                size,
                encoding,
                offset,
                bits,
                unused: 0,
            }),
        ));
        if encoding > 0xf {
            self.fail(
                Some(id),
                format!("INT '{name}' encoding {encoding:#x} does not fit the record's 4 bits"),
            );
        }
        id
    }

    /// Adds a PTR to `to`.
    pub fn add_ptr(&mut self, to: TypeId) -> TypeId {
        self.add_type(Type::new(TypeData::Ptr(to)))
    }

    /// Adds an ARRAY of `nelems` `elem`s indexed by `index`.
    pub fn add_array(&mut self, elem: TypeId, index: TypeId, nelems: u32) -> TypeId {
        self.add_type(Type::new(TypeData::Array(Array {
            elem,
            index,
            nelems,
        })))
    }

    /// Adds a STRUCT with `(name, type, bit offset)` members (no bitfields:
    /// `kind_flag` clear, the offset word is the bit offset).
    pub fn add_struct(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let c = self.composite(size, members);
        let n = self.add_str(name);
        let id = self.add_type(Type::named(n, TypeData::Struct(c)));
        self.check_vlen(id, "STRUCT", name, "members", members.len());
        id
    }

    /// Adds a UNION with `(name, type, bit offset)` members (no bitfields).
    pub fn add_union(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let c = self.composite(size, members);
        let n = self.add_str(name);
        let id = self.add_type(Type::named(n, TypeData::Union(c)));
        self.check_vlen(id, "UNION", name, "members", members.len());
        id
    }

    /// Adds a STRUCT with `kind_flag` set, whose members are
    /// `(name, type, bit offset, bitfield size)`: each offset word is
    /// `bitfield_size << 24 | bit_offset` (bitfield size 0: not a bitfield).
    /// A bit offset past [`MAX_BITFIELD_OFFSET`] is an error.
    pub fn add_bitfield_struct(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, TypeId, u32, u8)],
    ) -> TypeId {
        self.bitfield_composite(false, name, size, members)
    }

    /// [`Builder::add_bitfield_struct`] for a UNION.
    pub fn add_bitfield_union(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, TypeId, u32, u8)],
    ) -> TypeId {
        self.bitfield_composite(true, name, size, members)
    }

    fn bitfield_composite(
        &mut self,
        union: bool,
        name: &str,
        size: u32,
        members: &[(&str, TypeId, u32, u8)],
    ) -> TypeId {
        let ms: Vec<Member> = members
            .iter()
            .map(|&(n, ty, off, bits)| Member {
                name_off: self.add_str(n),
                ty,
                offset: (u32::from(bits) << 24) | (off & MAX_BITFIELD_OFFSET),
            })
            .collect();
        let n = self.add_str(name);
        let c = Composite { size, members: ms };
        let (data, kind) = if union {
            (TypeData::Union(c), "UNION")
        } else {
            (TypeData::Struct(c), "STRUCT")
        };
        let id = self.add_flagged(n, true, data);
        self.check_vlen(id, kind, name, "members", members.len());
        if let Some((i, &(m, _, off, _))) = members
            .iter()
            .enumerate()
            .find(|(_, m)| m.2 > MAX_BITFIELD_OFFSET)
        {
            self.fail(
                Some(id),
                format!(
                    "{kind} '{name}' member #{i} '{m}' at bit {off}: a bitfield (kind_flag) \
                     {kind} holds bit offsets up to {MAX_BITFIELD_OFFSET} (24 bits)"
                ),
            );
        }
        id
    }

    fn composite(&mut self, size: u32, members: &[(&str, TypeId, u32)]) -> Composite {
        let members = members
            .iter()
            .map(|&(n, ty, offset)| Member {
                name_off: self.add_str(n),
                ty,
                offset,
            })
            .collect();
        Composite { size, members }
    }

    /// Records an error when `n` records do not fit the 16-bit `vlen`.
    fn check_vlen(&mut self, id: TypeId, kind: &str, name: &str, what: &str, n: usize) {
        if n > MAX_VLEN as usize {
            self.fail(
                Some(id),
                format!("{kind} '{name}' has {n} {what}: vlen holds at most {MAX_VLEN}"),
            );
        }
    }

    /// Checks an enum's size (1, 2, 4 or 8 bytes) and that every value fits
    /// it with the signedness given, and the record's 32 (ENUM) or 64 (ENUM64) bits.
    fn check_enum(
        &mut self,
        id: TypeId,
        kind: &str,
        name: &str,
        size: u32,
        signed: bool,
        values: impl Iterator<Item = (usize, i128)>,
    ) {
        let record_bits = if kind == "ENUM64" { 64 } else { 32 };
        if !matches!(size, 1 | 2 | 4 | 8) {
            self.fail(
                Some(id),
                format!("{kind} '{name}' has size {size}, expected 1, 2, 4 or 8"),
            );
            return;
        }
        let (lo, hi) = enum_range(size, signed, record_bits);
        for (i, v) in values {
            if v < lo || v > hi {
                let sign = if signed { "signed" } else { "unsigned" };
                let hint = if kind == "ENUM" && (v < -(1i128 << 31) || v > i128::from(u32::MAX)) {
                    " (use add_enum64 for 64-bit values)"
                } else {
                    ""
                };
                self.fail(
                    Some(id),
                    format!(
                        "{kind} '{name}' enumerator #{i} value {v} does not fit a {sign} \
                         {size}-byte enum ({lo}..={hi}){hint}"
                    ),
                );
                return;
            }
        }
    }

    /// Adds an ENUM of `size` bytes (1, 2, 4 or 8) with `(name, value)`
    /// enumerators; `signed` sets `kind_flag`. Each value must fit the size and
    /// signedness, and the record's 32 bits (a signed value in `i32`, an
    /// unsigned one in `u32`): otherwise [`Builder::finish`] fails; 64-bit
    /// values need [`Builder::add_enum64`].
    pub fn add_enum(
        &mut self,
        name: &str,
        size: u32,
        signed: bool,
        values: &[(&str, i64)],
    ) -> TypeId {
        let vals = values
            .iter()
            .map(|&(n, v)| EnumValue {
                name_off: self.add_str(n),
                val: v as u32,
            })
            .collect();
        let n = self.add_str(name);
        let id = self.add_flagged(n, signed, TypeData::Enum(Enum { size, values: vals }));
        self.check_vlen(id, "ENUM", name, "enumerators", values.len());
        let it = values
            .iter()
            .enumerate()
            .map(|(i, &(_, v))| (i, i128::from(v)));
        self.check_enum(id, "ENUM", name, size, signed, it);
        id
    }

    /// Adds an ENUM64 of `size` bytes (1, 2, 4 or 8) with `(name, value)`
    /// enumerators; `signed` sets `kind_flag`. Values are `i128` so that both
    /// `i64::MIN` and `u64::MAX` can be given; each must fit the size and
    /// signedness, otherwise [`Builder::finish`] fails.
    pub fn add_enum64(
        &mut self,
        name: &str,
        size: u32,
        signed: bool,
        values: &[(&str, i128)],
    ) -> TypeId {
        let vals = values
            .iter()
            .map(|&(n, v)| Enum64Value {
                name_off: self.add_str(n),
                val: v as u64,
            })
            .collect();
        let n = self.add_str(name);
        let id = self.add_flagged(n, signed, TypeData::Enum64(Enum64 { size, values: vals }));
        self.check_vlen(id, "ENUM64", name, "enumerators", values.len());
        let it = values.iter().enumerate().map(|(i, &(_, v))| (i, v));
        self.check_enum(id, "ENUM64", name, size, signed, it);
        id
    }

    /// Adds a FWD for a struct, or a union if `union` (`kind_flag`).
    pub fn add_fwd(&mut self, name: &str, union: bool) -> TypeId {
        let n = self.add_str(name);
        self.add_flagged(n, union, TypeData::Fwd)
    }

    /// Adds a TYPEDEF `name` of `to`.
    pub fn add_typedef(&mut self, name: &str, to: TypeId) -> TypeId {
        let n = self.add_str(name);
        self.add_type(Type::named(n, TypeData::Typedef(to)))
    }

    /// Adds a CONST of `to`.
    pub fn add_const(&mut self, to: TypeId) -> TypeId {
        self.add_type(Type::new(TypeData::Const(to)))
    }

    /// Adds a VOLATILE of `to`.
    pub fn add_volatile(&mut self, to: TypeId) -> TypeId {
        self.add_type(Type::new(TypeData::Volatile(to)))
    }

    /// Adds a RESTRICT of `to`.
    pub fn add_restrict(&mut self, to: TypeId) -> TypeId {
        self.add_type(Type::new(TypeData::Restrict(to)))
    }

    /// Adds a FUNC_PROTO returning `ret` with `(name, type)` params (a last
    /// `("", TypeId::VOID)` is C's `...`; see [`Builder::add_func_proto_variadic`]).
    pub fn add_func_proto(&mut self, ret: TypeId, params: &[(&str, TypeId)]) -> TypeId {
        let ps = params
            .iter()
            .map(|&(n, ty)| Param {
                name_off: self.add_str(n),
                ty,
            })
            .collect();
        let id = self.add_type(Type::new(TypeData::FuncProto(FuncProto {
            ret,
            params: ps,
        })));
        self.check_vlen(id, "FUNC_PROTO", "(anon)", "parameters", params.len());
        id
    }

    /// Adds a FUNC_PROTO returning `ret` with `(name, type)` params followed by
    /// `...` (an unnamed parameter of type `void`).
    pub fn add_func_proto_variadic(&mut self, ret: TypeId, params: &[(&str, TypeId)]) -> TypeId {
        let mut all = params.to_vec();
        all.push(("", TypeId::VOID));
        self.add_func_proto(ret, &all)
    }

    /// Adds a FUNC `name` with prototype `proto` and `linkage` (one of
    /// [`linkage`]; any value is written as is, but FUNC stores it in the
    /// 16-bit `vlen`: a larger one makes [`Builder::finish`] fail).
    pub fn add_func(&mut self, name: &str, proto: TypeId, linkage: u32) -> TypeId {
        let n = self.add_str(name);
        let id = self.add_type(Type::named(
            n,
            TypeData::Func(Func {
                proto,
                linkage: linkage.min(MAX_VLEN) as u16,
            }),
        ));
        if linkage > MAX_VLEN {
            self.fail(
                Some(id),
                format!(
                    "FUNC '{name}' linkage {linkage} does not fit the 16-bit vlen field \
                     (at most {MAX_VLEN})"
                ),
            );
        }
        id
    }

    /// Adds a VAR `name` of type `ty` with `linkage` (one of [`linkage`],
    /// written as is: the record's word is 32 bits).
    pub fn add_var(&mut self, name: &str, ty: TypeId, linkage: u32) -> TypeId {
        let n = self.add_str(name);
        self.add_type(Type::named(n, TypeData::Var(Var { ty, linkage })))
    }

    /// Adds a DATASEC `name` of `size` bytes holding `(var, offset, size)`
    /// entries (the VARs, or FUNCs for `.ksyms`).
    pub fn add_datasec(&mut self, name: &str, size: u32, vars: &[(TypeId, u32, u32)]) -> TypeId {
        let n = self.add_str(name);
        let vs = vars
            .iter()
            .map(|&(ty, offset, size)| VarSecInfo { ty, offset, size })
            .collect();
        let id = self.add_type(Type::named(
            n,
            TypeData::Datasec(Datasec { size, vars: vs }),
        ));
        self.check_vlen(id, "DATASEC", name, "variables", vars.len());
        id
    }

    /// Adds a FLOAT of `size` bytes.
    pub fn add_float(&mut self, name: &str, size: u32) -> TypeId {
        let n = self.add_str(name);
        self.add_type(Type::named(n, TypeData::Float(Float { size })))
    }

    /// Adds a DECL_TAG `value` on `ty` (component -1 for the whole type, else
    /// the member or parameter index), `kind_flag` clear: a
    /// `btf_decl_tag("value")`.
    pub fn add_decl_tag(&mut self, value: &str, ty: TypeId, component_idx: i32) -> TypeId {
        self.decl_tag(value, ty, component_idx, false)
    }

    /// Adds a DECL_TAG with `kind_flag` set: `value` is an attribute
    /// (`__attribute__((value))`), libbpf's `btf__add_decl_attr`. Kernels
    /// before 6.13 reject the flag.
    pub fn add_decl_attr(&mut self, value: &str, ty: TypeId, component_idx: i32) -> TypeId {
        self.decl_tag(value, ty, component_idx, true)
    }

    fn decl_tag(&mut self, value: &str, ty: TypeId, component_idx: i32, attr: bool) -> TypeId {
        let n = self.add_str(value);
        let id = self.add_flagged(n, attr, TypeData::DeclTag(DeclTag { ty, component_idx }));
        if component_idx < -1 {
            self.fail(
                Some(id),
                format!(
                    "DECL_TAG '{value}' component_idx {component_idx}: expected -1 (the \
                     whole type) or a member/parameter index"
                ),
            );
        }
        id
    }

    /// Adds a TYPE_TAG `value` on `ty`, `kind_flag` clear: a `btf_type_tag("value")`.
    pub fn add_type_tag(&mut self, value: &str, ty: TypeId) -> TypeId {
        let n = self.add_str(value);
        self.add_type(Type::named(n, TypeData::TypeTag(ty)))
    }

    /// Adds a TYPE_TAG with `kind_flag` set: `value` is a type attribute,
    /// libbpf's `btf__add_type_attr`. Kernels before 6.13 reject the flag.
    pub fn add_type_attr(&mut self, value: &str, ty: TypeId) -> TypeId {
        let n = self.add_str(value);
        self.add_flagged(n, true, TypeData::TypeTag(ty))
    }

    /// Checks that every own record's fields fit their bits, whatever way the
    /// types were added ([`Builder::add_type`], [`Builder::types_mut`]).
    fn check_records(&self) -> Result<()> {
        let mut type_len: u64 = 0;
        for (i, t) in self.types.iter().enumerate() {
            let id = self.start_id + i as u32;
            let bad = |msg: String| Err(Error::new(msg).with_type(id));
            let kind = t.kind().name();
            let n = match &t.data {
                TypeData::Struct(c) | TypeData::Union(c) => c.members.len(),
                TypeData::Enum(e) => e.values.len(),
                TypeData::Enum64(e) => e.values.len(),
                TypeData::FuncProto(p) => p.params.len(),
                TypeData::Datasec(d) => d.vars.len(),
                _ => 0,
            };
            if n > MAX_VLEN as usize {
                return bad(format!(
                    "{kind} has {n} trailing records: vlen holds at most {MAX_VLEN}"
                ));
            }
            if let TypeData::Int(x) = &t.data {
                if x.encoding > 0xf {
                    return bad(format!(
                        "INT encoding {:#x} does not fit the record's 4 bits",
                        x.encoding
                    ));
                }
            }
            type_len += t.record_size() as u64;
        }
        if type_len > u64::from(u32::MAX) {
            return Err(Error::new(format!(
                "type section of {type_len} bytes does not fit the header's 32-bit length"
            )));
        }
        let str_len = self.strings.bytes().len() as u64;
        let str_end = u64::from(self.strings.start) + str_len;
        if str_end > u64::from(u32::MAX) || type_len + str_len > u64::from(u32::MAX) {
            return Err(Error::new(format!(
                "string section of {str_len} bytes (ending at offset {str_end}) does not fit \
                 the header's 32-bit offsets"
            )));
        }
        Ok(())
    }

    /// Finishes the BTF. Fails, naming the type id, when a helper recorded a
    /// value that does not fit, when a record's fields do not fit their bits
    /// (vlen past 65,535, INT encoding past 4 bits), when a section does not
    /// fit the header's 32-bit sizes, or when a type id or string offset is
    /// out of range. What it returns writes bytes that parse back to the same
    /// types.
    pub fn finish(self) -> Result<Btf> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.check_records()?;
        let start_str_off = self.base.as_ref().map_or(0, |b| b.str_len_total());
        let btf = Btf::from_parts(
            self.endian,
            self.base,
            self.start_id,
            start_str_off,
            self.strings.into_bytes(),
            self.types,
        )?;
        // The parser's range checks: hand out only BTF that would parse again.
        crate::read::raw::check_refs(&btf, "")?;
        Ok(btf)
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

/// The whole string section of `btf`, base strings first.
fn all_strings(btf: &Btf) -> Vec<u8> {
    let mut v = match btf.base() {
        Some(b) => all_strings(b),
        None => Vec::new(),
    };
    v.extend_from_slice(btf.own_strings());
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Kind;

    fn int(b: &mut Builder) -> TypeId {
        b.add_int("int", 4, INT_SIGNED)
    }

    /// `finish` fails naming `id`, with a message containing `what`.
    fn fails_on(b: Builder, id: TypeId, what: &str) {
        let e = b.finish().expect_err("finish must fail");
        assert_eq!(e.type_id(), Some(id.0), "{e}");
        assert!(e.to_string().contains(what), "{e}");
    }

    #[test]
    fn built_btf_parses_back_to_the_same_types() {
        let mut b = Builder::new();
        let i = int(&mut b);
        let p = b.add_ptr(i);
        b.add_restrict(p);
        b.add_bitfield_struct("bf", 8, &[("a", i, 0, 3), ("b", i, 3, 5), ("c", i, 32, 0)]);
        b.add_bitfield_union("bu", 4, &[("a", i, 0, 1), ("b", i, 0, 0)]);
        b.add_enum("s1", 1, true, &[("LO", -128), ("HI", 127)]);
        b.add_enum("u2", 2, false, &[("HI", 65535)]);
        b.add_enum("u8", 8, false, &[("HI", i64::from(u32::MAX))]);
        b.add_enum64("s64", 8, true, &[("LO", i128::from(i64::MIN)), ("M1", -1)]);
        b.add_enum64("u64", 8, false, &[("HI", i128::from(u64::MAX))]);
        b.add_enum64("u4", 4, false, &[("HI", i128::from(u32::MAX))]);
        let fp = b.add_func_proto_variadic(i, &[("x", i)]);
        let f = b.add_func("f", fp, linkage::EXTERN);
        let v = b.add_var("v", i, linkage::GLOBAL);
        b.add_datasec(".data", 4, &[(v, 0, 4)]);
        b.add_decl_attr("attr", f, 0);
        b.add_type_attr("tattr", i);
        let btf = b.finish().unwrap();
        let bytes = btf.to_bytes();
        let back = Btf::parse(&bytes).unwrap();
        assert_eq!(back.own_type_slice(), btf.own_type_slice());
        assert_eq!(back.to_bytes(), bytes);
        let t = back.type_by_id(TypeId(4)).unwrap();
        assert!(t.kind_flag);
        let m = &t.members().unwrap()[1];
        assert_eq!((m.bit_offset(true), m.bitfield_size(true)), (3, 5));
        let proto = back.type_by_id(fp).unwrap();
        let TypeData::FuncProto(pp) = &proto.data else {
            panic!("not a proto")
        };
        assert_eq!(pp.params.last().map(|p| p.ty), Some(TypeId::VOID));
        assert_eq!(back.type_by_id(f).unwrap().vlen(), linkage::EXTERN);
    }

    #[test]
    fn enumerators_must_fit_size_and_signedness() {
        for (size, signed, v) in [
            (1, false, 256),
            (1, false, -1),
            (1, true, 128),
            (1, true, -129),
            (2, true, 32768),
            (4, true, i64::from(u32::MAX)),
            (4, false, i64::from(u32::MAX) + 1),
            (8, false, 1 << 32),
            (8, true, i64::from(i32::MIN) - 1),
        ] {
            let mut b = Builder::new();
            let e = b.add_enum("e", size, signed, &[("OK", 0), ("BAD", v)]);
            fails_on(b, e, "enumerator #1");
        }
        let mut b = Builder::new();
        let e = b.add_enum("e", 8, false, &[("BIG", 1 << 40)]);
        fails_on(b, e, "add_enum64");
        let mut b = Builder::new();
        let e = b.add_enum("e", 3, false, &[]);
        fails_on(b, e, "size 3");
        for (size, signed, v) in [
            (8, false, -1),
            (8, false, i128::from(u64::MAX) + 1),
            (8, true, i128::from(u64::MAX)),
            (4, false, 1 << 32),
            (1, true, -129),
        ] {
            let mut b = Builder::new();
            let e = b.add_enum64("e", size, signed, &[("BAD", v)]);
            fails_on(b, e, "enumerator #0");
        }
    }

    #[test]
    fn vlen_past_16_bits_is_an_error() {
        let mut b = Builder::new();
        let i = int(&mut b);
        let members: Vec<(&str, TypeId, u32)> = (0..=MAX_VLEN).map(|k| ("", i, k * 32)).collect();
        let s = b.add_struct("big", (MAX_VLEN + 1) * 4, &members);
        fails_on(b, s, "65536 members");
        // Exactly 65,535 is fine.
        let mut b = Builder::new();
        int(&mut b);
        b.add_struct("max", MAX_VLEN * 4, &members[..MAX_VLEN as usize]);
        let btf = b.finish().unwrap();
        assert_eq!(Btf::parse(&btf.to_bytes()).unwrap().type_count(), 3);
        // Records added as is, or changed afterwards, are checked too.
        let mut b = Builder::new();
        let e = b.add_enum("e", 4, false, &[]);
        if let TypeData::Enum(en) = &mut b.types_mut()[0].data {
            en.values = vec![
                EnumValue {
                    name_off: StrOff::EMPTY,
                    val: 0
                };
                70_000
            ];
        }
        fails_on(b, e, "70000 trailing records");
        let mut b = Builder::new();
        let params = vec![("", TypeId::VOID); 65_536];
        let fp = b.add_func_proto(TypeId::VOID, &params);
        fails_on(b, fp, "parameters");
        let mut b = Builder::new();
        let vars = vec![(TypeId::VOID, 0, 0); 65_536];
        let d = b.add_datasec(".data", 0, &vars);
        fails_on(b, d, "variables");
    }

    #[test]
    fn out_of_range_fields_are_errors() {
        let mut b = Builder::new();
        let fp = b.add_func_proto(TypeId::VOID, &[]);
        let f = b.add_func("f", fp, 0x1_0000);
        fails_on(b, f, "16-bit vlen");
        let mut b = Builder::new();
        let i = int(&mut b);
        let s = b.add_bitfield_struct("s", 4, &[("a", i, 1 << 24, 1)]);
        fails_on(b, s, "24 bits");
        let mut b = Builder::new();
        let i = b.add_int("odd", 4, 0x10);
        fails_on(b, i, "4 bits");
        let mut b = Builder::new();
        let i = int(&mut b);
        let mut t = Type::new(TypeData::Int(Int {
            size: 4,
            encoding: 0x20,
            offset: 0,
            bits: 32,
            unused: 0,
        }));
        t.name_off = b.add_str("raw");
        let raw = b.add_type(t);
        assert_ne!(raw, i);
        fails_on(b, raw, "4 bits");
        let mut b = Builder::new();
        let i = int(&mut b);
        let d = b.add_decl_tag("t", i, -2);
        fails_on(b, d, "component_idx -2");
        // Dangling ids: the parser's own range check, naming the type.
        let mut b = Builder::new();
        let p = b.add_ptr(TypeId(7));
        fails_on(b, p, "type id 7");
        // The first error wins, and later ids are still handed out in order.
        let mut b = Builder::new();
        let e = b.add_enum("e", 1, false, &[("X", 300)]);
        let next = b.add_ptr(TypeId(99));
        assert_eq!(next.0, e.0 + 1);
        assert!(b.error().is_some());
        fails_on(b, e, "300");
    }

    #[test]
    fn strings_with_nul_are_errors() {
        let mut b = Builder::new();
        b.add_str_bytes(b"a\0b");
        let e = b.finish().unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
    }

    #[test]
    fn every_kind_has_a_helper() {
        let mut b = Builder::new();
        let i = int(&mut b);
        let p = b.add_ptr(i);
        b.add_array(i, i, 2);
        b.add_struct("s", 4, &[("a", i, 0)]);
        b.add_union("u", 4, &[("a", i, 0)]);
        b.add_enum("e", 4, false, &[("A", 1)]);
        b.add_fwd("f", false);
        b.add_typedef("t", i);
        b.add_volatile(i);
        b.add_const(i);
        b.add_restrict(p);
        let fp = b.add_func_proto(i, &[]);
        b.add_func("fn", fp, linkage::STATIC);
        let v = b.add_var("v", i, linkage::STATIC);
        b.add_datasec(".bss", 4, &[(v, 0, 4)]);
        b.add_float("float", 4);
        b.add_decl_tag("d", i, -1);
        b.add_type_tag("tt", i);
        b.add_enum64("e64", 8, true, &[("A", -1)]);
        let btf = b.finish().unwrap();
        let kinds: Vec<Kind> = btf.types().map(|(_, t)| t.kind()).collect();
        for k in 1..=Kind::MAX {
            assert!(kinds.contains(&Kind::from_u8(k).unwrap()), "kind {k}");
        }
    }
}
