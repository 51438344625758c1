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

    /// This kind's row of [`KINDS`].
    #[inline]
    fn row(self) -> &'static KindRow {
        &KINDS[self as usize]
    }

    /// The name bpftool and the kernel print (`"INT"`, `"FUNC_PROTO"`, ...).
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// The name for a raw kind number, `"UNKN"` for 0 and unknown ones.
    pub fn name_of(v: u8) -> &'static str {
        Kind::from_u8(v).map_or("UNKN", Kind::name)
    }

    /// Whether `vlen` counts trailing records (members, params, values, vars).
    pub fn has_vlen_records(self) -> bool {
        self.row().per_vlen != 0
    }

    /// Whether the third word of the record is a size (else a type id or unused).
    pub fn has_size(self) -> bool {
        self.row().has_size
    }

    /// The words a record of this kind has after its three common words,
    /// for `vlen` trailing entries (FUNC's `vlen` is its linkage: none).
    #[inline]
    pub fn trailing_words(self, vlen: u32) -> usize {
        let r = self.row();
        usize::from(r.fixed) + usize::from(r.per_vlen) * vlen as usize
    }

    /// Whether this is a modifier in libbpf's sense (`btf_is_mod`): VOLATILE,
    /// CONST, RESTRICT or TYPE_TAG. TYPEDEF is not one; the kernel's
    /// `btf_type_is_modifier` also counts TYPEDEF: that is
    /// [`Kind::is_modifier_or_typedef`].
    pub fn is_modifier(self) -> bool {
        matches!(
            self,
            Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag
        )
    }

    /// The kernel's `btf_type_is_modifier`: a modifier or TYPEDEF.
    pub fn is_modifier_or_typedef(self) -> bool {
        self.is_modifier() || self == Kind::Typedef
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

/// One row of the kind table: what the record of a kind looks like.
#[derive(Debug)]
struct KindRow {
    name: &'static str,
    /// Trailing words independent of `vlen`.
    fixed: u8,
    /// Trailing words per `vlen` entry (0: `vlen` counts no records).
    per_vlen: u8,
    /// Whether the third word is a size.
    has_size: bool,
}

const fn row(name: &'static str, fixed: u8, per_vlen: u8, has_size: bool) -> KindRow {
    KindRow {
        name,
        fixed,
        per_vlen,
        has_size,
    }
}

/// The kind table, indexed by kind number (row 0, UNKN, is never used for a
/// [`Kind`]): the one place the layout of each kind's record is written down.
static KINDS: [KindRow; 20] = [
    row("UNKN", 0, 0, false),
    row("INT", 1, 0, true),
    row("PTR", 0, 0, false),
    row("ARRAY", 3, 0, false),
    row("STRUCT", 0, 3, true),
    row("UNION", 0, 3, true),
    row("ENUM", 0, 2, true),
    row("FWD", 0, 0, false),
    row("TYPEDEF", 0, 0, false),
    row("VOLATILE", 0, 0, false),
    row("CONST", 0, 0, false),
    row("RESTRICT", 0, 0, false),
    row("FUNC", 0, 0, false),
    row("FUNC_PROTO", 0, 2, false),
    row("VAR", 1, 0, false),
    row("DATASEC", 0, 3, true),
    row("FLOAT", 0, 0, true),
    row("DECL_TAG", 1, 0, false),
    row("TYPE_TAG", 0, 0, false),
    row("ENUM64", 0, 3, true),
];

/// Raw kind numbers, for code that matches on `info` words (the verifier,
/// dedup's word table). Each is its [`Kind`]'s discriminant.
pub mod num {
    use super::Kind;
    /// Kind 0: no type (`void` in the kernel's tables).
    pub const UNKN: u8 = 0;
    /// [`Kind::Int`].
    pub const INT: u8 = Kind::Int as u8;
    /// [`Kind::Ptr`].
    pub const PTR: u8 = Kind::Ptr as u8;
    /// [`Kind::Array`].
    pub const ARRAY: u8 = Kind::Array as u8;
    /// [`Kind::Struct`].
    pub const STRUCT: u8 = Kind::Struct as u8;
    /// [`Kind::Union`].
    pub const UNION: u8 = Kind::Union as u8;
    /// [`Kind::Enum`].
    pub const ENUM: u8 = Kind::Enum as u8;
    /// [`Kind::Fwd`].
    pub const FWD: u8 = Kind::Fwd as u8;
    /// [`Kind::Typedef`].
    pub const TYPEDEF: u8 = Kind::Typedef as u8;
    /// [`Kind::Volatile`].
    pub const VOLATILE: u8 = Kind::Volatile as u8;
    /// [`Kind::Const`].
    pub const CONST: u8 = Kind::Const as u8;
    /// [`Kind::Restrict`].
    pub const RESTRICT: u8 = Kind::Restrict as u8;
    /// [`Kind::Func`].
    pub const FUNC: u8 = Kind::Func as u8;
    /// [`Kind::FuncProto`].
    pub const FUNC_PROTO: u8 = Kind::FuncProto as u8;
    /// [`Kind::Var`].
    pub const VAR: u8 = Kind::Var as u8;
    /// [`Kind::Datasec`].
    pub const DATASEC: u8 = Kind::Datasec as u8;
    /// [`Kind::Float`].
    pub const FLOAT: u8 = Kind::Float as u8;
    /// [`Kind::DeclTag`].
    pub const DECL_TAG: u8 = Kind::DeclTag as u8;
    /// [`Kind::TypeTag`].
    pub const TYPE_TAG: u8 = Kind::TypeTag as u8;
    /// [`Kind::Enum64`].
    pub const ENUM64: u8 = Kind::Enum64 as u8;
    /// The highest known kind.
    pub const MAX: u8 = Kind::MAX;
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
