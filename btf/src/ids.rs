//! Typed indices: a [`TypeId`] names a type, a [`StrOff`] names a string.
//!
//! They are distinct newtypes so that a type id can never be passed where a string
//! offset is expected (the gimli habit of typed offsets).

use std::fmt;

/// The id of a type. Id 0 is `void`; real types start at 1. In split BTF the ids
/// continue from the base: the first split type has id `base.type_count()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeId(pub u32);

impl TypeId {
    /// The `void` type, id 0.
    pub const VOID: TypeId = TypeId(0);

    /// Whether this is the `void` id.
    #[inline]
    pub fn is_void(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for TypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.0)
    }
}

/// An offset into the string section. Offset 0 is the empty string. In split BTF
/// the offsets continue from the base: offsets at or past the base's string length
/// point into the split BTF's own string section.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StrOff(pub u32);

impl StrOff {
    /// The empty string (offset 0).
    pub const EMPTY: StrOff = StrOff(0);

    /// Whether this names the empty string.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for StrOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "str@{:#x}", self.0)
    }
}
