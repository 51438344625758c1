//! The type model: one [`Type`] per record of the type section, with one
//! [`TypeData`] variant per BTF kind.
//!
//! The model is lossless for every well-formed record: writing a parsed type back
//! gives the bytes it was read from. The `info` word is derived: kind from the
//! variant, `vlen` from the number of records (or FUNC's linkage), and
//! `kind_flag` from [`Type::kind_flag`].

use crate::ids::{StrOff, TypeId};
use crate::kind::Kind;

/// One BTF type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Type {
    /// The type's name (`StrOff::EMPTY` for anonymous types).
    pub name_off: StrOff,
    /// The `kind_flag` bit of `info`: bitfield member encoding for STRUCT/UNION,
    /// union for FWD, signedness for ENUM/ENUM64, attribute for DECL_TAG/TYPE_TAG.
    pub kind_flag: bool,
    /// The kind-specific part.
    pub data: TypeData,
}

/// The kind-specific part of a type: one variant per BTF kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TypeData {
    /// INT.
    Int(Int),
    /// PTR to the type.
    Ptr(TypeId),
    /// ARRAY.
    Array(Array),
    /// STRUCT.
    Struct(Composite),
    /// UNION.
    Union(Composite),
    /// ENUM (32-bit values).
    Enum(Enum),
    /// FWD: a struct, or a union when `kind_flag` is set.
    Fwd,
    /// TYPEDEF of the type.
    Typedef(TypeId),
    /// VOLATILE modifier of the type.
    Volatile(TypeId),
    /// CONST modifier of the type.
    Const(TypeId),
    /// RESTRICT modifier of the type.
    Restrict(TypeId),
    /// FUNC.
    Func(Func),
    /// FUNC_PROTO.
    FuncProto(FuncProto),
    /// VAR.
    Var(Var),
    /// DATASEC.
    Datasec(Datasec),
    /// FLOAT of `size` bytes.
    Float(Float),
    /// DECL_TAG.
    DeclTag(DeclTag),
    /// TYPE_TAG on the type.
    TypeTag(TypeId),
    /// ENUM64 (64-bit values).
    Enum64(Enum64),
}

/// INT encoding bit: signed.
pub const INT_SIGNED: u8 = 1 << 0;
/// INT encoding bit: char.
pub const INT_CHAR: u8 = 1 << 1;
/// INT encoding bit: bool.
pub const INT_BOOL: u8 = 1 << 2;

/// An INT: `size` bytes, of which `bits` bits from `offset` hold the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Int {
    /// Size in bytes.
    pub size: u32,
    /// `INT_SIGNED | INT_CHAR | INT_BOOL` bits (4 bits in the record).
    pub encoding: u8,
    /// Bit offset (8 bits in the record).
    pub offset: u8,
    /// Number of value bits (8 bits in the record).
    pub bits: u8,
    /// Bits 8..16 of the record, which no field uses and the kernel ignores;
    /// kept so that writing gives back the bytes read (0 in practice).
    pub unused: u8,
}

impl Int {
    /// The packed trailing word: `encoding << 24 | offset << 16 | unused << 8 | bits`.
    pub fn raw(&self) -> u32 {
        (u32::from(self.encoding) << 24)
            | (u32::from(self.offset) << 16)
            | (u32::from(self.unused) << 8)
            | u32::from(self.bits)
    }
}

/// An ARRAY of `nelems` elements of type `elem`, indexed by `index_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Array {
    /// Element type.
    pub elem: TypeId,
    /// Index type (an INT in practice).
    pub index: TypeId,
    /// Number of elements.
    pub nelems: u32,
}

/// A STRUCT or UNION: its size and members.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Composite {
    /// Size in bytes.
    pub size: u32,
    /// The members, in order.
    pub members: Vec<Member>,
}

/// A member of a STRUCT or UNION.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    /// Member name (empty for anonymous members).
    pub name_off: StrOff,
    /// Member type.
    pub ty: TypeId,
    /// The raw offset word: a bit offset, or with the owner's `kind_flag`,
    /// `bitfield_size << 24 | bit_offset`.
    pub offset: u32,
}

impl Member {
    /// Bit offset of the member, given the owner's `kind_flag`.
    #[inline]
    pub fn bit_offset(&self, kind_flag: bool) -> u32 {
        if kind_flag {
            self.offset & 0x00ff_ffff
        } else {
            self.offset
        }
    }

    /// Bitfield size in bits (0: not a bitfield), given the owner's `kind_flag`.
    #[inline]
    pub fn bitfield_size(&self, kind_flag: bool) -> u32 {
        if kind_flag {
            self.offset >> 24
        } else {
            0
        }
    }
}

/// An ENUM: size and 32-bit enumerators (signed when the type's `kind_flag` is set).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Enum {
    /// Size in bytes (1, 2, 4 or 8).
    pub size: u32,
    /// Enumerators in order.
    pub values: Vec<EnumValue>,
}

/// A 32-bit enumerator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnumValue {
    /// Enumerator name.
    pub name_off: StrOff,
    /// Raw value; read it as `i32` when the enum is signed.
    pub val: u32,
}

/// An ENUM64: size and 64-bit enumerators (signed when `kind_flag` is set).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Enum64 {
    /// Size in bytes.
    pub size: u32,
    /// Enumerators in order.
    pub values: Vec<Enum64Value>,
}

/// A 64-bit enumerator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Enum64Value {
    /// Enumerator name.
    pub name_off: StrOff,
    /// Raw value (`val_hi32 << 32 | val_lo32`); read as `i64` when signed.
    pub val: u64,
}

/// FUNC linkage (the `vlen` field of a FUNC, the `linkage` of a VAR).
pub mod linkage {
    /// `static`.
    pub const STATIC: u32 = 0;
    /// Global.
    pub const GLOBAL: u32 = 1;
    /// Extern.
    pub const EXTERN: u32 = 2;
}

/// A FUNC: its prototype and linkage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Func {
    /// The FUNC_PROTO.
    pub proto: TypeId,
    /// Linkage, stored in the `vlen` field (16 bits).
    pub linkage: u16,
}

/// A FUNC_PROTO: return type and parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FuncProto {
    /// Return type (`void` is id 0).
    pub ret: TypeId,
    /// Parameters; a last one with no name and type 0 means `...`.
    pub params: Vec<Param>,
}

/// A parameter of a FUNC_PROTO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    /// Parameter name (may be empty).
    pub name_off: StrOff,
    /// Parameter type (0 for the variadic marker).
    pub ty: TypeId,
}

/// A VAR: type and linkage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var {
    /// The variable's type.
    pub ty: TypeId,
    /// Linkage (see [`linkage`]).
    pub linkage: u32,
}

/// A DATASEC: size and its variables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Datasec {
    /// Section size in bytes (0 until a loader fills it in for `.o` files).
    pub size: u32,
    /// Variables in the section.
    pub vars: Vec<VarSecInfo>,
}

/// One variable of a DATASEC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VarSecInfo {
    /// The VAR (or FUNC, for `.ksyms`).
    pub ty: TypeId,
    /// Offset in the section.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// A FLOAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Float {
    /// Size in bytes (2, 4, 8, 12 or 16).
    pub size: u32,
}

/// A DECL_TAG on `ty` (or its member/param `component_idx`; -1 for the whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeclTag {
    /// The tagged type.
    pub ty: TypeId,
    /// Member or parameter index, or -1 for the type itself.
    pub component_idx: i32,
}

impl TypeData {
    /// This variant's kind.
    pub fn kind(&self) -> Kind {
        match self {
            TypeData::Int(_) => Kind::Int,
            TypeData::Ptr(_) => Kind::Ptr,
            TypeData::Array(_) => Kind::Array,
            TypeData::Struct(_) => Kind::Struct,
            TypeData::Union(_) => Kind::Union,
            TypeData::Enum(_) => Kind::Enum,
            TypeData::Fwd => Kind::Fwd,
            TypeData::Typedef(_) => Kind::Typedef,
            TypeData::Volatile(_) => Kind::Volatile,
            TypeData::Const(_) => Kind::Const,
            TypeData::Restrict(_) => Kind::Restrict,
            TypeData::Func(_) => Kind::Func,
            TypeData::FuncProto(_) => Kind::FuncProto,
            TypeData::Var(_) => Kind::Var,
            TypeData::Datasec(_) => Kind::Datasec,
            TypeData::Float(_) => Kind::Float,
            TypeData::DeclTag(_) => Kind::DeclTag,
            TypeData::TypeTag(_) => Kind::TypeTag,
            TypeData::Enum64(_) => Kind::Enum64,
        }
    }
}

impl Type {
    /// A new type with no name and `kind_flag` clear.
    pub fn new(data: TypeData) -> Self {
        Type {
            name_off: StrOff::EMPTY,
            kind_flag: false,
            data,
        }
    }

    /// A new named type.
    pub fn named(name_off: StrOff, data: TypeData) -> Self {
        Type {
            name_off,
            kind_flag: false,
            data,
        }
    }

    /// This type's kind.
    #[inline]
    pub fn kind(&self) -> Kind {
        self.data.kind()
    }

    /// The `vlen` field: number of trailing records, or FUNC's linkage.
    pub fn vlen(&self) -> u32 {
        match &self.data {
            TypeData::Struct(c) | TypeData::Union(c) => c.members.len() as u32,
            TypeData::Enum(e) => e.values.len() as u32,
            TypeData::Enum64(e) => e.values.len() as u32,
            TypeData::FuncProto(p) => p.params.len() as u32,
            TypeData::Datasec(d) => d.vars.len() as u32,
            TypeData::Func(f) => u32::from(f.linkage),
            _ => 0,
        }
    }

    /// The packed `info` word: `kind_flag << 31 | kind << 24 | vlen`.
    pub fn info(&self) -> u32 {
        crate::format::make_info(self.kind(), self.vlen(), self.kind_flag)
    }

    /// The third word of the record: a size for sized kinds, else a type id (0 for FWD).
    pub fn size_or_type(&self) -> u32 {
        match &self.data {
            TypeData::Int(i) => i.size,
            TypeData::Struct(c) | TypeData::Union(c) => c.size,
            TypeData::Enum(e) => e.size,
            TypeData::Enum64(e) => e.size,
            TypeData::Datasec(d) => d.size,
            TypeData::Float(f) => f.size,
            TypeData::Array(_) | TypeData::Fwd => 0,
            TypeData::Ptr(t)
            | TypeData::Typedef(t)
            | TypeData::Volatile(t)
            | TypeData::Const(t)
            | TypeData::Restrict(t)
            | TypeData::TypeTag(t) => t.0,
            TypeData::Func(f) => f.proto.0,
            TypeData::FuncProto(p) => p.ret.0,
            TypeData::Var(v) => v.ty.0,
            TypeData::DeclTag(d) => d.ty.0,
        }
    }

    /// The size in bytes for sized kinds (INT, STRUCT, UNION, ENUM, ENUM64,
    /// DATASEC, FLOAT), else `None`.
    pub fn size(&self) -> Option<u32> {
        if self.kind().has_size() {
            Some(self.size_or_type())
        } else {
            None
        }
    }

    /// The one type this type refers to, for PTR, TYPEDEF, modifiers, FUNC,
    /// VAR, DECL_TAG and TYPE_TAG (the return type for FUNC_PROTO, the element
    /// type for ARRAY).
    pub fn ref_type(&self) -> Option<TypeId> {
        match &self.data {
            TypeData::Ptr(t)
            | TypeData::Typedef(t)
            | TypeData::Volatile(t)
            | TypeData::Const(t)
            | TypeData::Restrict(t)
            | TypeData::TypeTag(t) => Some(*t),
            TypeData::Func(f) => Some(f.proto),
            TypeData::FuncProto(p) => Some(p.ret),
            TypeData::Var(v) => Some(v.ty),
            TypeData::DeclTag(d) => Some(d.ty),
            TypeData::Array(a) => Some(a.elem),
            _ => None,
        }
    }

    /// Calls `f` on every type id this type refers to, in record order.
    pub fn for_each_type_id(&self, mut f: impl FnMut(TypeId)) {
        match &self.data {
            TypeData::Int(_) | TypeData::Fwd | TypeData::Float(_) => {}
            TypeData::Enum(_) | TypeData::Enum64(_) => {}
            TypeData::Ptr(t)
            | TypeData::Typedef(t)
            | TypeData::Volatile(t)
            | TypeData::Const(t)
            | TypeData::Restrict(t)
            | TypeData::TypeTag(t) => f(*t),
            TypeData::Array(a) => {
                f(a.elem);
                f(a.index);
            }
            TypeData::Struct(c) | TypeData::Union(c) => c.members.iter().for_each(|m| f(m.ty)),
            TypeData::Func(x) => f(x.proto),
            TypeData::FuncProto(p) => {
                f(p.ret);
                p.params.iter().for_each(|p| f(p.ty));
            }
            TypeData::Var(v) => f(v.ty),
            TypeData::Datasec(d) => d.vars.iter().for_each(|v| f(v.ty)),
            TypeData::DeclTag(d) => f(d.ty),
        }
    }

    /// Calls `f` on a mutable reference to every type id this type refers to,
    /// in record order (used to remap ids).
    pub fn for_each_type_id_mut(&mut self, mut f: impl FnMut(&mut TypeId)) {
        match &mut self.data {
            TypeData::Int(_) | TypeData::Fwd | TypeData::Float(_) => {}
            TypeData::Enum(_) | TypeData::Enum64(_) => {}
            TypeData::Ptr(t)
            | TypeData::Typedef(t)
            | TypeData::Volatile(t)
            | TypeData::Const(t)
            | TypeData::Restrict(t)
            | TypeData::TypeTag(t) => f(t),
            TypeData::Array(a) => {
                f(&mut a.elem);
                f(&mut a.index);
            }
            TypeData::Struct(c) | TypeData::Union(c) => {
                c.members.iter_mut().for_each(|m| f(&mut m.ty))
            }
            TypeData::Func(x) => f(&mut x.proto),
            TypeData::FuncProto(p) => {
                f(&mut p.ret);
                p.params.iter_mut().for_each(|p| f(&mut p.ty));
            }
            TypeData::Var(v) => f(&mut v.ty),
            TypeData::Datasec(d) => d.vars.iter_mut().for_each(|v| f(&mut v.ty)),
            TypeData::DeclTag(d) => f(&mut d.ty),
        }
    }

    /// Calls `f` on a mutable reference to every string offset in this type:
    /// its name, then member, enumerator and parameter names in record order.
    pub fn for_each_str_off_mut(&mut self, mut f: impl FnMut(&mut StrOff)) {
        f(&mut self.name_off);
        match &mut self.data {
            TypeData::Struct(c) | TypeData::Union(c) => {
                c.members.iter_mut().for_each(|m| f(&mut m.name_off))
            }
            TypeData::Enum(e) => e.values.iter_mut().for_each(|v| f(&mut v.name_off)),
            TypeData::Enum64(e) => e.values.iter_mut().for_each(|v| f(&mut v.name_off)),
            TypeData::FuncProto(p) => p.params.iter_mut().for_each(|p| f(&mut p.name_off)),
            _ => {}
        }
    }

    /// Calls `f` on every string offset in this type, in the order of
    /// [`Type::for_each_str_off_mut`].
    pub fn for_each_str_off(&self, mut f: impl FnMut(StrOff)) {
        f(self.name_off);
        match &self.data {
            TypeData::Struct(c) | TypeData::Union(c) => {
                c.members.iter().for_each(|m| f(m.name_off))
            }
            TypeData::Enum(e) => e.values.iter().for_each(|v| f(v.name_off)),
            TypeData::Enum64(e) => e.values.iter().for_each(|v| f(v.name_off)),
            TypeData::FuncProto(p) => p.params.iter().for_each(|p| f(p.name_off)),
            _ => {}
        }
    }

    /// The size of this type's record in the type section, in bytes.
    pub fn record_size(&self) -> usize {
        4 * (crate::format::HEAD_WORDS + self.kind().trailing_words(self.vlen()))
    }

    /// The composite's members, for STRUCT and UNION.
    pub fn members(&self) -> Option<&[Member]> {
        match &self.data {
            TypeData::Struct(c) | TypeData::Union(c) => Some(&c.members),
            _ => None,
        }
    }
}
