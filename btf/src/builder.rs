//! [`Builder`]: assembling BTF type by type, with a deduplicated string table.
//!
//! Invariants: string offsets handed out are stable (strings are only appended);
//! adding a string that already exists (in the base or in this builder) returns
//! the existing offset, as libbpf's `btf__add_str` does; type ids are handed out
//! in order from the start id.

use std::collections::HashMap;
use std::sync::Arc;

use crate::btf::{Btf, Endian};
use crate::error::Result;
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
            map: HashMap::new(),
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
            map: HashMap::new(),
        }
    }

    /// A table holding an existing string section, so that lookups find its strings.
    pub fn from_section(start: u32, data: Vec<u8>) -> Self {
        let mut map = HashMap::new();
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
        let off = self.start + self.data.len() as u32;
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

/// Builds a [`Btf`] type by type.
///
/// ```
/// use btf::{Builder, Kind};
/// let mut b = Builder::new();
/// let int = b.add_int("int", 4, btf::types::INT_SIGNED);
/// let ptr = b.add_ptr(int);
/// let s = b.add_struct("pair", 16, &[("a", int, 0), ("p", ptr, 64)]);
/// let btf = b.finish().unwrap();
/// assert_eq!(btf.get(s).unwrap().kind(), Kind::Struct);
/// assert_eq!(btf.name_of(s), "pair");
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    endian: Endian,
    base: Option<Arc<Btf>>,
    base_names: Option<NameIndexOwned>,
    start_id: u32,
    strings: StringTable,
    types: Vec<Type>,
}

/// Base string lookup for split builders: string bytes to offset.
#[derive(Clone, Debug)]
struct NameIndexOwned(HashMap<Box<[u8]>, u32>);

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

    /// Adds a string (or finds it, in the base or here) and returns its offset.
    /// The empty string is always offset 0.
    pub fn add_str(&mut self, s: &str) -> StrOff {
        self.add_str_bytes(s.as_bytes())
    }

    /// [`Builder::add_str`] for raw bytes (no NUL inside).
    pub fn add_str_bytes(&mut self, s: &[u8]) -> StrOff {
        if s.is_empty() {
            return StrOff::EMPTY;
        }
        if let Some(b) = &self.base_names {
            if let Some(&o) = b.0.get(s) {
                return StrOff(o);
            }
        }
        self.strings.add(s)
    }

    /// Adds a type and returns its id.
    pub fn add_type(&mut self, t: Type) -> TypeId {
        let id = self.next_id();
        self.types.push(t);
        id
    }

    /// The types added so far (own part).
    pub fn types(&self) -> &[Type] {
        &self.types
    }

    /// Mutable access to the types added so far.
    pub fn types_mut(&mut self) -> &mut [Type] {
        &mut self.types
    }

    /// Adds an INT of `size` bytes with `encoding` (`INT_SIGNED`, `INT_CHAR`, `INT_BOOL`).
    pub fn add_int(&mut self, name: &str, size: u32, encoding: u8) -> TypeId {
        let n = self.add_str(name);
        self.add_type(Type::named(
            n,
            TypeData::Int(Int {
                size,
                encoding,
                offset: 0,
                bits: (size * 8).min(255) as u8,
                unused: 0,
            }),
        ))
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

    /// Adds a STRUCT with `(name, type, bit offset)` members (no bitfields).
    pub fn add_struct(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let c = self.composite(size, members);
        let n = self.add_str(name);
        self.add_type(Type::named(n, TypeData::Struct(c)))
    }

    /// Adds a UNION with `(name, type, bit offset)` members.
    pub fn add_union(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let c = self.composite(size, members);
        let n = self.add_str(name);
        self.add_type(Type::named(n, TypeData::Union(c)))
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

    /// Adds an ENUM of `size` bytes with `(name, value)` enumerators.
    pub fn add_enum(
        &mut self,
        name: &str,
        size: u32,
        signed: bool,
        values: &[(&str, i64)],
    ) -> TypeId {
        let values = values
            .iter()
            .map(|&(n, v)| EnumValue {
                name_off: self.add_str(n),
                val: v as u32,
            })
            .collect();
        let n = self.add_str(name);
        let mut t = Type::named(n, TypeData::Enum(Enum { size, values }));
        t.kind_flag = signed;
        self.add_type(t)
    }

    /// Adds a FWD for a struct, or a union if `union`.
    pub fn add_fwd(&mut self, name: &str, union: bool) -> TypeId {
        let n = self.add_str(name);
        let mut t = Type::named(n, TypeData::Fwd);
        t.kind_flag = union;
        self.add_type(t)
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

    /// Adds a FUNC_PROTO returning `ret` with `(name, type)` params.
    pub fn add_func_proto(&mut self, ret: TypeId, params: &[(&str, TypeId)]) -> TypeId {
        let params = params
            .iter()
            .map(|&(n, ty)| Param {
                name_off: self.add_str(n),
                ty,
            })
            .collect();
        self.add_type(Type::new(TypeData::FuncProto(FuncProto { ret, params })))
    }

    /// Adds a FUNC `name` with prototype `proto` and `linkage`.
    pub fn add_func(&mut self, name: &str, proto: TypeId, linkage: u16) -> TypeId {
        let n = self.add_str(name);
        self.add_type(Type::named(n, TypeData::Func(Func { proto, linkage })))
    }

    /// Adds a VAR `name` of type `ty`.
    pub fn add_var(&mut self, name: &str, ty: TypeId, linkage: u32) -> TypeId {
        let n = self.add_str(name);
        self.add_type(Type::named(n, TypeData::Var(Var { ty, linkage })))
    }

    /// Adds a FLOAT of `size` bytes.
    pub fn add_float(&mut self, name: &str, size: u32) -> TypeId {
        let n = self.add_str(name);
        self.add_type(Type::named(n, TypeData::Float(Float { size })))
    }

    /// Adds a DECL_TAG `value` on `ty` (component -1 for the whole type).
    pub fn add_decl_tag(&mut self, value: &str, ty: TypeId, component_idx: i32) -> TypeId {
        let n = self.add_str(value);
        self.add_type(Type::named(
            n,
            TypeData::DeclTag(DeclTag { ty, component_idx }),
        ))
    }

    /// Adds a TYPE_TAG `value` on `ty`.
    pub fn add_type_tag(&mut self, value: &str, ty: TypeId) -> TypeId {
        let n = self.add_str(value);
        self.add_type(Type::named(n, TypeData::TypeTag(ty)))
    }

    /// Finishes the BTF, checking that every id and string offset is in range.
    pub fn finish(self) -> Result<Btf> {
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
