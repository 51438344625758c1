//! [`Btf`]: a parsed type graph with its string table, possibly split on a base.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::MAX_RESOLVE_DEPTH;
use crate::ids::{StrOff, TypeId};
use crate::kind::Kind;
use crate::types::{Type, TypeData};

/// Byte order of a BTF blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Endian {
    /// Little endian (x86, arm64, ...).
    #[default]
    Little,
    /// Big endian (s390x, ...).
    Big,
}

impl Endian {
    /// The byte order of the machine running this code.
    pub fn native() -> Endian {
        if cfg!(target_endian = "big") {
            Endian::Big
        } else {
            Endian::Little
        }
    }
}

/// Where [`Btf::walk_mods`] stopped, and the TYPE_TAGs it passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModWalk {
    /// The first type that is not a modifier (nor, if asked, a typedef).
    pub id: TypeId,
    /// The TYPE_TAG ids passed, in chain order.
    pub type_tags: Vec<TypeId>,
}

/// A BTF type graph: the types, the strings, and for split BTF the base.
///
/// Type ids run from 0 (`void`) to [`Btf::type_count`]` - 1`. For split BTF the
/// ids below [`Btf::start_id`] and the string offsets below
/// [`Btf::start_str_off`] are the base's.
#[derive(Clone, Debug)]
pub struct Btf {
    endian: Endian,
    base: Option<Arc<Btf>>,
    start_id: u32,
    start_str_off: u32,
    strings: Vec<u8>,
    types: Vec<Type>,
}

impl Btf {
    /// Assembles a `Btf` from its parts. `start_id` must be the base's type count
    /// (1 without a base), `start_str_off` the base's string length (0 without).
    pub(crate) fn from_parts(
        endian: Endian,
        base: Option<Arc<Btf>>,
        start_id: u32,
        start_str_off: u32,
        strings: Vec<u8>,
        types: Vec<Type>,
    ) -> Result<Btf> {
        let total = u64::from(start_id) + types.len() as u64;
        if total > u64::from(u32::MAX) {
            return Err(Error::new(format!("too many types: {total}")));
        }
        if u64::from(start_str_off) + strings.len() as u64 > u64::from(u32::MAX) {
            return Err(Error::new("string section too large"));
        }
        Ok(Btf {
            endian,
            base,
            start_id,
            start_str_off,
            strings,
            types,
        })
    }

    /// The byte order the blob was read in (and is written in).
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// Changes the byte order used by [`Btf::to_bytes`].
    pub fn set_endian(&mut self, endian: Endian) {
        self.endian = endian;
    }

    /// The base, for split BTF.
    pub fn base(&self) -> Option<&Arc<Btf>> {
        self.base.as_ref()
    }

    /// The first id of this BTF's own types (1 for base BTF).
    pub fn start_id(&self) -> u32 {
        self.start_id
    }

    /// The first string offset of this BTF's own strings (0 for base BTF).
    pub fn start_str_off(&self) -> u32 {
        self.start_str_off
    }

    /// The number of type ids, `void` and the base's included: one past the last id.
    pub fn type_count(&self) -> u32 {
        self.start_id + self.types.len() as u32
    }

    /// The number of this BTF's own types (without base, without `void`).
    pub fn own_type_count(&self) -> usize {
        self.types.len()
    }

    /// Where the own part of BTF on `base` starts: its first type id and
    /// its first string offset (`(1, 0)` without a base; with one, the
    /// base's type count, which counts void, and its whole string length).
    pub fn own_starts(base: Option<&Btf>) -> (u32, u32) {
        match base {
            Some(b) => (b.type_count(), b.str_len_total()),
            None => (1, 0),
        }
    }

    /// Total string length: base strings plus own strings.
    pub fn str_len_total(&self) -> u32 {
        self.start_str_off + self.strings.len() as u32
    }

    /// This BTF's own string section.
    pub fn own_strings(&self) -> &[u8] {
        &self.strings
    }

    /// This BTF's own types, in id order.
    pub fn own_type_slice(&self) -> &[Type] {
        &self.types
    }

    /// This BTF's own types with their ids.
    pub fn own_types(&self) -> impl ExactSizeIterator<Item = (TypeId, &Type)> + '_ {
        let start = self.start_id;
        self.types
            .iter()
            .enumerate()
            .map(move |(i, t)| (TypeId(start + i as u32), t))
    }

    /// Every type with its id, the base's first; `void` is not included.
    pub fn types(&self) -> impl Iterator<Item = (TypeId, &Type)> + '_ {
        (1..self.type_count())
            .filter_map(move |i| self.type_by_id(TypeId(i)).map(|t| (TypeId(i), t)))
    }

    /// The type with this id; `None` for `void` (id 0) and ids out of range.
    #[inline]
    pub fn type_by_id(&self, id: TypeId) -> Option<&Type> {
        if id.0 >= self.start_id {
            self.types.get((id.0 - self.start_id) as usize)
        } else {
            match &self.base {
                Some(b) => b.type_by_id(id),
                None => None,
            }
        }
    }

    /// The type with this id, or an error naming the id.
    pub fn get(&self, id: TypeId) -> Result<&Type> {
        self.type_by_id(id).ok_or_else(|| {
            Error::new(format!(
                "type id {} is not a type (there are {})",
                id.0,
                self.type_count()
            ))
            .with_type(id.0)
        })
    }

    /// The bytes of the NUL-terminated string at `off` (without the NUL), or
    /// `None` when the offset is out of range.
    #[inline]
    pub fn str_bytes(&self, off: StrOff) -> Option<&[u8]> {
        if off.0 >= self.start_str_off {
            let s = self.strings.get((off.0 - self.start_str_off) as usize..)?;
            let end = memchr0(s)?;
            Some(&s[..end])
        } else {
            self.base.as_ref()?.str_bytes(off)
        }
    }

    /// The string at `off` as UTF-8 (lossy: invalid bytes make it `None`).
    #[inline]
    pub fn str_at(&self, off: StrOff) -> Option<&str> {
        std::str::from_utf8(self.str_bytes(off)?).ok()
    }

    /// The name of a type; `""` for anonymous types, `void` and bad offsets.
    pub fn name_of(&self, id: TypeId) -> &str {
        self.type_by_id(id)
            .and_then(|t| self.str_at(t.name_off))
            .unwrap_or("")
    }

    /// Follows modifiers (CONST, VOLATILE, RESTRICT, TYPE_TAG) and, if
    /// `typedefs`, typedefs; returns the first other type's id. Stops after
    /// 32 steps (a loop) and returns where it stopped.
    pub fn skip_mods(&self, mut id: TypeId, typedefs: bool) -> TypeId {
        for _ in 0..MAX_RESOLVE_DEPTH {
            match self.type_by_id(id).map(|t| &t.data) {
                Some(TypeData::Const(t))
                | Some(TypeData::Volatile(t))
                | Some(TypeData::Restrict(t))
                | Some(TypeData::TypeTag(t)) => id = *t,
                Some(TypeData::Typedef(t)) if typedefs => id = *t,
                _ => return id,
            }
        }
        id
    }

    /// Follows modifiers (CONST, VOLATILE, RESTRICT, TYPE_TAG) and, if
    /// `typedefs`, typedefs, like [`Btf::skip_mods`], and also returns the
    /// TYPE_TAGs passed, in chain order (what kptr and `__user` checks look
    /// at). A chain longer than [`MAX_RESOLVE_DEPTH`] is a loop: an error
    /// naming the start.
    pub fn walk_mods(&self, id: TypeId, typedefs: bool) -> Result<ModWalk> {
        let mut type_tags = Vec::new();
        let mut cur = id;
        for _ in 0..=MAX_RESOLVE_DEPTH {
            match self.type_by_id(cur).map(|t| &t.data) {
                Some(TypeData::TypeTag(t)) => {
                    type_tags.push(cur);
                    cur = *t;
                }
                Some(TypeData::Const(t))
                | Some(TypeData::Volatile(t))
                | Some(TypeData::Restrict(t)) => cur = *t,
                Some(TypeData::Typedef(t)) if typedefs => cur = *t,
                _ => return Ok(ModWalk { id: cur, type_tags }),
            }
        }
        Err(Error::new("modifier chain loops or is longer than MAX_RESOLVE_DEPTH").with_type(id.0))
    }

    /// The size in bytes of a type as the C compiler sees it: follows
    /// modifiers, typedefs and VARs, multiplies arrays. Pointers are
    /// `ptr_size` bytes. Errors on `void`, FUNC, FWD and loops.
    pub fn resolve_size(&self, id: TypeId, ptr_size: u32) -> Result<u64> {
        let mut id = id;
        let mut nelems: u64 = 1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.get(id)?;
            let sz = match &t.data {
                TypeData::Int(i) => u64::from(i.size),
                TypeData::Struct(c) | TypeData::Union(c) => u64::from(c.size),
                TypeData::Enum(e) => u64::from(e.size),
                TypeData::Enum64(e) => u64::from(e.size),
                TypeData::Datasec(d) => u64::from(d.size),
                TypeData::Float(f) => u64::from(f.size),
                TypeData::Ptr(_) => u64::from(ptr_size),
                TypeData::Typedef(t)
                | TypeData::Const(t)
                | TypeData::Volatile(t)
                | TypeData::Restrict(t)
                | TypeData::TypeTag(t) => {
                    id = *t;
                    continue;
                }
                TypeData::Var(v) => {
                    id = v.ty;
                    continue;
                }
                TypeData::Array(a) => {
                    nelems = nelems
                        .checked_mul(u64::from(a.nelems))
                        .filter(|n| *n <= u64::from(u32::MAX))
                        .ok_or_else(|| Error::new("array size overflows u32").with_type(id.0))?;
                    id = a.elem;
                    continue;
                }
                _ => {
                    return Err(
                        Error::new(format!("{} has no size", t.kind().name())).with_type(id.0)
                    );
                }
            };
            return nelems
                .checked_mul(sz)
                .filter(|n| *n <= u64::from(u32::MAX))
                .ok_or_else(|| Error::new("type size overflows u32").with_type(id.0));
        }
        Err(Error::new("type chain too deep or looping").with_type(id.0))
    }

    /// The natural alignment of a type, as libbpf's `btf__align_of` computes it
    /// (packed structs align to 1). `ptr_size` is the pointer size.
    ///
    /// Invariants: each struct or union is computed once per call (memoized),
    /// so the cost is linear in the types reached, however they share
    /// members; the walk keeps its own stack, so nesting depth costs no call
    /// stack; a struct reached again while it is being computed is a loop
    /// (an error), and a chain of modifiers, typedefs and arrays longer than
    /// [`MAX_RESOLVE_DEPTH`] is one too.
    pub fn align_of(&self, id: TypeId, ptr_size: u32) -> Result<u32> {
        /// A struct or union being computed: its next member and the largest
        /// member alignment so far.
        struct Frame<'t> {
            id: TypeId,
            kind_flag: bool,
            comp: &'t crate::types::Composite,
            next: usize,
            max: u32,
        }
        // None: in progress.
        let mut memo: HashMap<TypeId, Option<u32>> = HashMap::new();
        let mut stack: Vec<Frame<'_>> = Vec::new();
        let mut cur = id;
        loop {
            // Descend from `cur` to a known alignment or a new composite.
            let mut known = None;
            let mut steps = 0;
            while known.is_none() {
                if let Some(done) = memo.get(&cur) {
                    known = Some(done.ok_or_else(|| {
                        Error::new("type refers to itself through its members").with_type(cur.0)
                    })?);
                    break;
                }
                steps += 1;
                if steps > MAX_RESOLVE_DEPTH {
                    return Err(Error::new("type chain too deep or looping").with_type(cur.0));
                }
                let t = self.get(cur)?;
                match &t.data {
                    TypeData::Int(crate::types::Int { size, .. })
                    | TypeData::Enum(crate::types::Enum { size, .. })
                    | TypeData::Enum64(crate::types::Enum64 { size, .. })
                    | TypeData::Float(crate::types::Float { size }) => {
                        known = Some((*size).min(ptr_size.max(1)))
                    }
                    TypeData::Ptr(_) => known = Some(ptr_size),
                    TypeData::Typedef(t)
                    | TypeData::Const(t)
                    | TypeData::Volatile(t)
                    | TypeData::Restrict(t)
                    | TypeData::TypeTag(t) => cur = *t,
                    TypeData::Array(a) => cur = a.elem,
                    TypeData::Struct(c) | TypeData::Union(c) => {
                        memo.insert(cur, None);
                        stack.push(Frame {
                            id: cur,
                            kind_flag: t.kind_flag,
                            comp: c,
                            next: 0,
                            max: 1,
                        });
                        break;
                    }
                    _ => {
                        return Err(Error::new(format!("{} has no alignment", t.kind().name()))
                            .with_type(cur.0))
                    }
                }
            }
            // Hand alignments up the stack until a frame needs another member.
            let mut val = known;
            loop {
                let Some(f) = stack.last_mut() else {
                    // The walk started at a leaf or finished its outermost struct.
                    return val.ok_or_else(|| Error::new("no alignment").with_type(id.0));
                };
                let mut packed = false;
                if let (Some(a), Some(m)) = (val.take(), f.comp.members.get(f.next)) {
                    if a == 0 {
                        return Err(Error::new("member with zero alignment").with_type(f.id.0));
                    }
                    f.max = f.max.max(a);
                    // A (non-bitfield) member off its natural alignment means
                    // the struct is packed.
                    packed = m.bitfield_size(f.kind_flag) == 0
                        && m.bit_offset(f.kind_flag) % (8 * a) != 0;
                    f.next += 1;
                }
                if let Some(m) = f.comp.members.get(f.next).filter(|_| !packed) {
                    cur = m.ty;
                    break;
                }
                // So does a size that is not a multiple of the alignment.
                let a = if packed || f.comp.size % f.max != 0 {
                    1
                } else {
                    f.max
                };
                memo.insert(f.id, Some(a));
                stack.pop();
                val = Some(a);
            }
        }
    }

    /// Whether the type is of this kind.
    pub fn is_kind(&self, id: TypeId, kind: Kind) -> bool {
        self.type_by_id(id).is_some_and(|t| t.kind() == kind)
    }

    /// Mutable access to the own types (for tools that rewrite BTF in place).
    pub fn own_types_mut(&mut self) -> &mut Vec<Type> {
        &mut self.types
    }

    /// Splits this BTF into its parts: (endian, base, own strings, own types).
    pub fn into_parts(self) -> (Endian, Option<Arc<Btf>>, Vec<u8>, Vec<Type>) {
        (self.endian, self.base, self.strings, self.types)
    }
}

#[inline]
fn memchr0(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == 0)
}
