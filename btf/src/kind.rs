//! BTF kinds: the 5-bit `kind` field of a type's `info` word.

use std::fmt;

/// A BTF kind (kinds 1 to 19 of `include/uapi/linux/btf.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Kind {
    /// `BTF_KIND_INT`: an integer, with size, encoding, bit offset and bit count.
    Int = 1,
    /// `BTF_KIND_PTR`: a pointer to a type.
    Ptr = 2,
    /// `BTF_KIND_ARRAY`: an array of `nelems` elements.
    Array = 3,
    /// `BTF_KIND_STRUCT`.
    Struct = 4,
    /// `BTF_KIND_UNION`.
    Union = 5,
    /// `BTF_KIND_ENUM`: 32-bit enumerators.
    Enum = 6,
    /// `BTF_KIND_FWD`: a forward declaration of a struct or (kind_flag) a union.
    Fwd = 7,
    /// `BTF_KIND_TYPEDEF`.
    Typedef = 8,
    /// `BTF_KIND_VOLATILE`.
    Volatile = 9,
    /// `BTF_KIND_CONST`.
    Const = 10,
    /// `BTF_KIND_RESTRICT`.
    Restrict = 11,
    /// `BTF_KIND_FUNC`: a function, with its linkage in `vlen`.
    Func = 12,
    /// `BTF_KIND_FUNC_PROTO`: a function prototype.
    FuncProto = 13,
    /// `BTF_KIND_VAR`: a variable.
    Var = 14,
    /// `BTF_KIND_DATASEC`: a data section and its variables.
    Datasec = 15,
    /// `BTF_KIND_FLOAT`.
    Float = 16,
    /// `BTF_KIND_DECL_TAG`: a tag on a declaration or one of its members/params.
    DeclTag = 17,
    /// `BTF_KIND_TYPE_TAG`: a tag on a type.
    TypeTag = 18,
    /// `BTF_KIND_ENUM64`: 64-bit enumerators.
    Enum64 = 19,
}

impl Kind {
    /// The highest kind this crate knows.
    pub const MAX: u8 = 19;

    /// The kind for a raw kind number, or `None` for 0 (UNKN) and unknown kinds.
    pub fn from_u8(v: u8) -> Option<Kind> {
        use Kind::*;
        Some(match v {
            1 => Int,
            2 => Ptr,
            3 => Array,
            4 => Struct,
            5 => Union,
            6 => Enum,
            7 => Fwd,
            8 => Typedef,
            9 => Volatile,
            10 => Const,
            11 => Restrict,
            12 => Func,
            13 => FuncProto,
            14 => Var,
            15 => Datasec,
            16 => Float,
            17 => DeclTag,
            18 => TypeTag,
            19 => Enum64,
            _ => return None,
        })
    }

    /// The raw kind number.
    #[inline]
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The name bpftool and the kernel print (`"INT"`, `"FUNC_PROTO"`, ...).
    pub fn name(self) -> &'static str {
        use Kind::*;
        match self {
            Int => "INT",
            Ptr => "PTR",
            Array => "ARRAY",
            Struct => "STRUCT",
            Union => "UNION",
            Enum => "ENUM",
            Fwd => "FWD",
            Typedef => "TYPEDEF",
            Volatile => "VOLATILE",
            Const => "CONST",
            Restrict => "RESTRICT",
            Func => "FUNC",
            FuncProto => "FUNC_PROTO",
            Var => "VAR",
            Datasec => "DATASEC",
            Float => "FLOAT",
            DeclTag => "DECL_TAG",
            TypeTag => "TYPE_TAG",
            Enum64 => "ENUM64",
        }
    }

    /// The name for a raw kind number, `"UNKN"` for 0 and unknown ones.
    pub fn name_of(v: u8) -> &'static str {
        Kind::from_u8(v).map_or("UNKN", Kind::name)
    }

    /// Whether `vlen` counts trailing records (members, params, values, vars).
    pub fn has_vlen_records(self) -> bool {
        matches!(
            self,
            Kind::Struct
                | Kind::Union
                | Kind::Enum
                | Kind::FuncProto
                | Kind::Datasec
                | Kind::Enum64
        )
    }

    /// Whether the third word of the record is a size (else a type id or unused).
    pub fn has_size(self) -> bool {
        matches!(
            self,
            Kind::Int
                | Kind::Struct
                | Kind::Union
                | Kind::Enum
                | Kind::Datasec
                | Kind::Float
                | Kind::Enum64
        )
    }

    /// Whether this is a modifier: VOLATILE, CONST, RESTRICT or TYPE_TAG.
    pub fn is_modifier(self) -> bool {
        matches!(
            self,
            Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag
        )
    }

    /// Whether this is STRUCT or UNION.
    pub fn is_composite(self) -> bool {
        matches!(self, Kind::Struct | Kind::Union)
    }

    /// Whether this is ENUM or ENUM64.
    pub fn is_any_enum(self) -> bool {
        matches!(self, Kind::Enum | Kind::Enum64)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
