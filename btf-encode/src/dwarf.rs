//! One compile unit read the way pahole 1.24's dwarf_loader reads it: a table
//! of types numbered from 1 in the order pahole assigns them, the functions
//! in its function table's order, and the variables in its tag table's order.
//!
//! Invariants (they decide the type order of the output, and so its bytes):
//! - A type gets its number when its DIE is *finished*: the types nested in a
//!   struct, a union or a function body are numbered before it, in DIE order;
//!   a pointer's `btf_type_tag` annotations are numbered before the pointer,
//!   first annotation first.
//! - Every DIE pahole counts as a type is in the table, including kinds BTF
//!   cannot encode (the encoder then fails, as pahole does).
//! - References are DIE offsets until [`Cu::resolve`] turns them into table
//!   numbers; a reference to a DIE that is not a type of this unit becomes 0.

use std::mem::MaybeUninit;

use btf::hash::FastMap as HashMap;

use btf::{Error, Result};
use gimli::{constants as dw, AttributeValue, DebuggingInformationEntry, Reader};

/// A name as the DWARF holds it (bytes borrowed from `.debug_str` or the
/// DIE), `None` when the DIE has none.
pub type Name<'a> = Option<Str<'a>>;

/// A string of the input: its bytes, or a `.debug_str` string known by
/// where it starts, its end found only when someone asks for its bytes.
/// Most names repeat from unit to unit and the encoder knows them by their
/// `.debug_str` offset, so most are never scanned for their NUL at all.
///
/// Invariant: a lazy string's slice runs from its first byte to the end of
/// a section whose last byte is NUL, so it holds a terminated string.
#[derive(Clone, Copy, Debug)]
pub struct Str<'a> {
    s: &'a [u8],
    lazy: bool,
}

impl<'a> Str<'a> {
    /// The string of exactly these bytes.
    pub const fn new(s: &'a [u8]) -> Self {
        Str { s, lazy: false }
    }

    /// The string at the start of `tail`, or `None` if `tail` is not a
    /// suffix of its section that ends with NUL (the caller's promise:
    /// `tail` reaches the end of its section).
    fn lazy(tail: &'a [u8]) -> Option<Self> {
        (tail.last() == Some(&0)).then_some(Str {
            s: tail,
            lazy: true,
        })
    }

    /// The string's bytes (without the NUL).
    pub fn bytes(self) -> &'a [u8] {
        if !self.lazy {
            return self.s;
        }
        match std::ffi::CStr::from_bytes_until_nul(self.s) {
            Ok(c) => c.to_bytes(),
            Err(_) => self.s,
        }
    }

    /// Where the string starts (for lookups by address).
    pub fn start(self) -> *const u8 {
        self.s.as_ptr()
    }

    /// Whether the string's end is still unknown (then it is followed by a
    /// NUL in the same section).
    pub fn is_lazy(self) -> bool {
        self.lazy
    }
}

/// The bytes of a name, `None` for none.
pub fn name_bytes(n: Name<'_>) -> Option<&[u8]> {
    n.map(Str::bytes)
}

/// A reference to another DIE, or an already known table number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    /// No type (void).
    None,
    /// The DIE at this `.debug_info` offset.
    Die(usize),
    /// Table number (after resolution, or for type tag chains).
    Id(u32),
}

/// A run of entries of one of a unit's lists ([`Cu::members`],
/// [`Cu::values`], [`Cu::dims`], [`Cu::proto_params`]): the lists of all
/// the unit's types lie end to end in one vector each, so that decoding
/// makes no allocation per struct, enum, array or prototype.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// Moves `items` to the end of `pool`, gives the emptied vector (its
    /// capacity kept) back to `spare` for the next type, and returns where
    /// the items went.
    fn append<T>(pool: &mut Vec<T>, mut items: Vec<T>, spare: &mut Vec<Vec<T>>) -> Span {
        let span = Span {
            start: pool.len() as u32,
            len: items.len() as u32,
        };
        pool.append(&mut items);
        spare.push(items);
        span
    }

    /// The entries of `pool` in the span (none if out of range).
    pub fn of<T>(self, pool: &[T]) -> &[T] {
        let start = self.start as usize;
        pool.get(start..start + self.len as usize).unwrap_or(&[])
    }

    fn of_mut<T>(self, pool: &mut [T]) -> &mut [T] {
        let start = self.start as usize;
        pool.get_mut(start..start + self.len as usize)
            .unwrap_or(&mut [])
    }

    /// The number of entries.
    pub fn len(self) -> usize {
        self.len as usize
    }

    /// No entries.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// Reusable lists for the entries of the type being decoded (one per
/// nesting level in use: a struct's members are collected while the types
/// nested in it add their own).
#[derive(Default)]
struct Scratch<'a> {
    members: Vec<Vec<Member<'a>>>,
    values: Vec<Vec<(Name<'a>, u64)>>,
    dims: Vec<Vec<u32>>,
    params: Vec<Vec<Param<'a>>>,
}

/// One struct/union member.
#[derive(Clone, Debug)]
pub struct Member<'a> {
    /// Name (`None`: anonymous).
    pub name: Name<'a>,
    /// Type.
    pub ty: Ref,
    /// Bit offset as pahole computes it.
    pub bit_offset: u32,
    /// Bitfield size (0: not a bitfield).
    pub bitfield_size: u32,
    /// `DW_TAG_member` (true) or `DW_TAG_inheritance`.
    pub is_member: bool,
    /// A DWARF 2-4 style bitfield without `DW_AT_byte_size`: its byte offset
    /// and `DW_AT_bit_offset`, for [`Cu::resolve`], which needs the size of
    /// the member's type.
    pending: Option<(u32, u32)>,
}

/// A parameter of a function or prototype.
#[derive(Clone, Debug)]
pub struct Param<'a> {
    /// Name.
    pub name: Name<'a>,
    /// Type.
    pub ty: Ref,
    /// `DW_AT_abstract_origin`, when the parameter has no `DW_AT_type`.
    pub origin: Option<usize>,
    /// One of the first parameters the ABI passes in registers, whose
    /// location names another register (pahole 1.25+'s `unexpected_reg`;
    /// only with [`LoadOptions::param_locations`]).
    pub unexpected_reg: bool,
}

/// The kind of a type table entry.
#[derive(Clone, Debug)]
pub enum TypeKind<'a> {
    /// `DW_TAG_base_type`.
    Base {
        /// Name.
        name: Name<'a>,
        /// Size in bits (`DW_AT_byte_size` * 8).
        bits: u64,
        /// `DW_AT_encoding`.
        encoding: u64,
    },
    /// Pointer.
    Ptr,
    /// Const.
    Const,
    /// Volatile.
    Volatile,
    /// Restrict.
    Restrict,
    /// Typedef.
    Typedef(Name<'a>),
    /// A `btf_type_tag` annotation of a pointer.
    TypeTag(&'a [u8]),
    /// Struct, class or union.
    Struct {
        /// Union.
        union: bool,
        /// Name.
        name: Name<'a>,
        /// Size in bytes.
        size: u64,
        /// `DW_AT_declaration`.
        declaration: bool,
        /// Members (and inheritance entries).
        members: Span,
    },
    /// Enumeration.
    Enum {
        /// Name.
        name: Name<'a>,
        /// Size in bits.
        bits: u64,
        /// The underlying type is signed.
        signed: bool,
        /// Enumerators: name and value as libdw gives it.
        values: Span,
    },
    /// Array; the element count of each dimension ([`Cu::dims`]).
    Array(Span),
    /// Subroutine type.
    Proto {
        /// Parameters ([`Cu::proto_params`]).
        params: Span,
        /// `...`.
        varargs: bool,
    },
    /// A type DIE BTF has no kind for (the DWARF tag).
    Unsupported(u16),
}

/// One entry of the type table.
#[derive(Clone, Debug)]
pub struct TypeEntry<'a> {
    /// What it is.
    pub kind: TypeKind<'a>,
    /// `DW_AT_type` (the pointee, element, return type...).
    pub ty: Ref,
    /// `btf_decl_tag` annotations: value and component index.
    pub annots: Vec<(&'a [u8], i32)>,
}

/// A `DW_TAG_subprogram`.
#[derive(Clone, Debug)]
pub struct Function<'a> {
    /// DIE offset.
    pub die: usize,
    /// `DW_AT_name`.
    pub name: Name<'a>,
    /// `DW_AT_declaration`.
    pub declaration: bool,
    /// `DW_AT_external`.
    pub external: bool,
    /// `DW_AT_abstract_origin`.
    pub origin: Option<usize>,
    /// `DW_AT_specification`.
    pub specification: Option<usize>,
    /// Return type.
    pub ret: Ref,
    /// Parameters ([`Cu::fn_params`]).
    pub params: Span,
    /// `...`.
    pub varargs: bool,
    /// `btf_decl_tag` annotations (component -1: the function, else a parameter index).
    pub annots: Vec<(&'a [u8], i32)>,
}

/// A `DW_TAG_variable`.
#[derive(Clone, Debug)]
pub struct Variable<'a> {
    /// DIE offset.
    pub die: usize,
    /// `DW_AT_name`.
    pub name: Name<'a>,
    /// `DW_AT_external`.
    pub external: bool,
    /// `DW_AT_declaration`.
    pub declaration: bool,
    /// `DW_AT_specification`.
    pub specification: Option<usize>,
    /// Address when the location is `DW_OP_addr`/`DW_OP_addrx` (pahole's global scope).
    pub addr: Option<u64>,
    /// A child of the unit DIE (pahole's `top_level`).
    pub top_level: bool,
    /// `DW_AT_artificial`.
    pub artificial: bool,
    /// Type.
    pub ty: Ref,
    /// `btf_decl_tag` annotations.
    pub annots: Vec<(&'a [u8], i32)>,
}

/// A decoded compile unit.
#[derive(Clone, Debug, Default)]
pub struct Cu<'a> {
    /// `.debug_info` offset of the unit.
    pub offset: usize,
    /// `DW_AT_name`.
    pub name: String,
    /// `DW_AT_language`.
    pub language: u64,
    /// Address size.
    pub addr_size: u8,
    /// Type table; entry `i` is type number `i + 1`.
    pub types: Vec<TypeEntry<'a>>,
    /// Functions, in pahole's function table order.
    pub functions: Vec<Function<'a>>,
    /// Variables, in pahole's tag table order.
    pub variables: Vec<Variable<'a>>,
    /// `.debug_info` offset of the first DIE slot `type_ids` covers.
    unit_start: usize,
    /// Type number of the DIE at `unit_start + i`, for the DIEs that are
    /// types of this unit. A map, not a table by offset: a unit's type DIEs
    /// are a small part of its bytes (most are function bodies), and the
    /// map of a few thousand entries stays in cache for the lookups of
    /// every reference, where a table of four bytes per byte did not.
    type_ids: HashMap<u32, u32>,
    /// DIE offset of a parameter (not in a subroutine type) to (name, type).
    params: HashMap<usize, (Name<'a>, Ref)>,
    /// The members of all structs and unions, by [`Span`].
    pub members: Vec<Member<'a>>,
    /// The enumerators of all enums: name and value as libdw gives it.
    pub values: Vec<(Name<'a>, u64)>,
    /// The dimensions of all arrays.
    pub dims: Vec<u32>,
    /// The parameters of all subroutine types.
    pub proto_params: Vec<Param<'a>>,
    /// The parameters of all functions.
    pub fn_params: Vec<Param<'a>>,
}

/// The `DW_TAG_LLVM_annotation` tag (clang).
pub const DW_TAG_LLVM_ANNOTATION: u16 = 0x6000;
/// The `DW_TAG_GNU_annotation` tag (GCC's spelling of the same annotation
/// DIE: `DW_AT_name` `btf_decl_tag` / `btf_type_tag`, `DW_AT_const_value`
/// the string). Read wherever clang's is; pahole 1.24..1.31 know only clang's.
pub const DW_TAG_GNU_ANNOTATION: u16 = 0x6001;

/// An annotation DIE, clang's or GCC's.
fn is_annotation(tag: gimli::DwTag) -> bool {
    tag.0 == DW_TAG_LLVM_ANNOTATION || tag.0 == DW_TAG_GNU_ANNOTATION
}

type R<'a> = gimli::EndianSlice<'a, gimli::RunTimeEndian>;
type Die<'a, 'u> = DebuggingInformationEntry<'u, 'u, R<'a>>;

/// The attributes of one DIE the loader looks at, read in one pass over its
/// attribute list (gimli's `attr` re-parses the list on every lookup). The
/// first occurrence of an attribute wins, as with `attr`.
#[derive(Clone, Copy)]
struct Snap<'a> {
    tag: gimli::DwTag,
    offset: gimli::UnitOffset,
    /// Bit `i` set: slot `i` of `vals` holds the attribute's value.
    present: u32,
    /// Written only where `present` says; the others are never read (no
    /// initialization per DIE: a `Snap` is made for most DIEs).
    vals: [MaybeUninit<AttributeValue<R<'a>>>; SNAP_COUNT],
}

const SNAP_COUNT: usize = 18;
const _: () = assert!(SNAP_COUNT <= 32, "Snap::present has 32 bits");

/// The attributes a [`Snap`] keeps, by slot.
const SNAP_ATTRS: [gimli::DwAt; SNAP_COUNT] = [
    dw::DW_AT_name,
    dw::DW_AT_byte_size,
    dw::DW_AT_encoding,
    dw::DW_AT_type,
    dw::DW_AT_declaration,
    dw::DW_AT_external,
    dw::DW_AT_abstract_origin,
    dw::DW_AT_specification,
    dw::DW_AT_data_member_location,
    dw::DW_AT_data_bit_offset,
    dw::DW_AT_bit_offset,
    dw::DW_AT_bit_size,
    dw::DW_AT_upper_bound,
    dw::DW_AT_count,
    dw::DW_AT_const_value,
    dw::DW_AT_location,
    dw::DW_AT_language,
    dw::DW_AT_artificial,
];

/// Slot + 1 by attribute code (0: not kept), for the codes below 128 (all
/// of [`SNAP_ATTRS`]): one load per attribute read.
const SNAP_SLOTS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < SNAP_COUNT {
        t[SNAP_ATTRS[i].0 as usize] = i as u8 + 1;
        i += 1;
    }
    t
};

#[inline(always)]
fn snap_slot(at: gimli::DwAt) -> Option<usize> {
    match SNAP_SLOTS.get(usize::from(at.0)) {
        Some(&s) if s != 0 => Some(usize::from(s - 1)),
        _ => None,
    }
}

impl<'a> Snap<'a> {
    #[inline(always)]
    fn new(e: &Die<'a, '_>) -> Self {
        let mut snap = Snap::empty(e.tag(), e.offset());
        let mut it = e.attrs();
        while let Ok(Some(a)) = it.next() {
            if let Some(i) = snap_slot(a.name()) {
                if !snap.has_slot(i) {
                    snap.set(i, a.raw_value());
                }
            }
        }
        snap
    }

    fn tag(&self) -> gimli::DwTag {
        self.tag
    }

    fn get(&self, at: gimli::DwAt) -> Option<AttributeValue<R<'a>>> {
        let i = snap_slot(at)?;
        if !self.has_slot(i) {
            return None;
        }
        // SAFETY: `present` has bit `i` only once `set` wrote `vals[i]`
        // (and a `Snap` is never changed after that but by `set`).
        Some(unsafe { self.vals[i].assume_init() })
    }

    #[inline(always)]
    fn empty(tag: gimli::DwTag, offset: gimli::UnitOffset) -> Self {
        Snap {
            tag,
            offset,
            present: 0,
            vals: [MaybeUninit::uninit(); SNAP_COUNT],
        }
    }

    #[inline(always)]
    fn has_slot(&self, i: usize) -> bool {
        self.present & (1 << i) != 0
    }

    #[inline(always)]
    fn set(&mut self, i: usize, v: AttributeValue<R<'a>>) {
        self.vals[i] = MaybeUninit::new(v);
        self.present |= 1 << i;
    }
}

/// A DIE whose abbreviation the [`Walk`] has read, its attributes not yet:
/// [`Walk::attrs`] reads them, the next [`Walk::next_child`] skips them.
#[derive(Clone, Copy)]
struct Head {
    tag: gimli::DwTag,
    offset: gimli::UnitOffset,
    /// The DIE's depth in the unit's tree (the root is 0).
    depth: isize,
}

/// A depth-first reader of a unit's DIEs on gimli's raw entries, reading
/// only the attributes a [`Snap`] keeps and skipping the rest, and whole
/// subtrees nobody asks for, without building their values.
///
/// Invariants:
/// - `raw.next_depth()` is the depth of the entry `raw` reads next; a DIE at
///   depth `d` with children is followed by them at `d + 1` and a null entry
///   that brings the depth back to `d`.
/// - `pending` is the abbreviation of the last DIE returned, while its
///   attributes are unread: exactly one of `attrs` (reads them) or the next
///   `next_child` (skips them) moves `raw` past them.
/// - `next_child(d)` returns the DIEs at depth `d + 1` that follow, skipping
///   deeper entries left unread; it stops (without reading further) at the
///   first entry that is not deeper than `d`, or at the end of the unit (a
///   unit may lack its trailing null entries, as gimli's own tree allows).
struct Walk<'a, 'u> {
    raw: gimli::EntriesRaw<'u, 'u, R<'a>>,
    header: &'u gimli::UnitHeader<R<'a>>,
    pending: Option<(gimli::UnitOffset, &'u gimli::Abbreviation)>,
}

impl<'a, 'u> Walk<'a, 'u> {
    fn err(&self, e: gimli::Error, at: gimli::UnitOffset) -> Error {
        let off = at.to_debug_info_offset(self.header).map_or(at.0, |o| o.0);
        gerr(e, &format!("DIE at .debug_info offset {off:#x}"))
    }

    fn skip_pending(&mut self) -> Result<()> {
        if let Some((at, ab)) = self.pending.take() {
            if let Err(e) = self.raw.skip_attributes(ab.attributes()) {
                return Err(self.err(e, at));
            }
        }
        Ok(())
    }

    /// The next child of the DIE at depth `parent` (see the invariants).
    fn next_child(&mut self, parent: isize) -> Result<Option<Head>> {
        self.skip_pending()?;
        loop {
            let depth = self.raw.next_depth();
            if depth <= parent || self.raw.is_empty() {
                return Ok(None);
            }
            let offset = self.raw.next_offset();
            let ab = match self.raw.read_abbreviation() {
                Ok(Some(ab)) => ab,
                Ok(None) => continue,
                Err(e) => return Err(self.err(e, offset)),
            };
            self.pending = Some((offset, ab));
            if depth == parent + 1 {
                return Ok(Some(Head {
                    tag: ab.tag(),
                    offset,
                    depth,
                }));
            }
            self.skip_pending()?;
        }
    }

    /// The kept attributes of `h`, the DIE `next_child` returned last,
    /// into `snap` (written in place: a `Snap` is too big to move around
    /// for every DIE).
    #[inline(always)]
    fn attrs(&mut self, h: &Head, snap: &mut Snap<'a>) -> Result<()> {
        let ab = match self.pending.take() {
            Some((at, ab)) if at == h.offset => ab,
            _ => {
                return Err(Error::new(format!(
                    "internal: attributes of the DIE at unit offset {:#x} read out of order",
                    h.offset.0
                )))
            }
        };
        *snap = Snap::empty(h.tag, h.offset);
        let specs = ab.attributes();
        // Runs of attributes nobody reads are skipped in one call (gimli
        // adds up the fixed sizes without decoding).
        let mut unread = 0;
        for (i, spec) in specs.iter().enumerate() {
            let Some(slot) = snap_slot(spec.name()) else {
                continue;
            };
            if snap.has_slot(slot) {
                continue;
            }
            let read = self
                .raw
                .skip_attributes(&specs[unread..i])
                .and_then(|()| self.raw.read_attribute(*spec));
            match read {
                Ok(a) => snap.set(slot, a.raw_value()),
                Err(e) => return Err(self.err(e, h.offset)),
            }
            unread = i + 1;
        }
        if let Err(e) = self.raw.skip_attributes(&specs[unread..]) {
            return Err(self.err(e, h.offset));
        }
        Ok(())
    }
}

/// The operations of an expression: each one's opcode and, for
/// `DW_OP_entry_value`, its sub-expression. `None` if it does not parse.
fn ops_of(r: R<'_>, enc: gimli::Encoding) -> Option<Vec<(u8, Option<R<'_>>)>> {
    let mut out = Vec::new();
    let mut rest = r;
    while !gimli::Reader::is_empty(&rest) {
        let atom = *rest.slice().first()?;
        let op = gimli::Operation::parse(&mut rest, enc).ok()?;
        let sub = match op {
            gimli::Operation::EntryValue { expression } => Some(expression),
            _ => None,
        };
        out.push((atom, sub));
        if out.len() > 64 {
            return None;
        }
    }
    Some(out)
}

/// Limits the nesting the decoder follows (crafted input).
const MAX_DEPTH: usize = 512;

/// Decoding context for one unit.
struct Ctx<'a, 'd> {
    dwarf: &'d gimli::Dwarf<R<'a>>,
    unit: &'d gimli::Unit<R<'a>>,
    skip_decl_tag: bool,
    skip_type_tag: bool,
    param_locations: bool,
    /// The DWARF register numbers of the parameters the ABI passes in
    /// registers, in order (pahole's `register_params`).
    register_params: &'static [u8],
    walk: Walk<'a, 'd>,
    scratch: Scratch<'a>,
    cu: Cu<'a>,
}

/// What a processed DIE became.
enum Made<'a> {
    Type(TypeEntry<'a>),
    Function(Function<'a>),
    Variable(Variable<'a>),
    Nothing,
}

fn gerr(e: gimli::Error, what: &str) -> Error {
    match e {
        gimli::Error::UnknownAbbreviation(code) => Error::new(format!(
            "bad DWARF ({what}): abbreviation code {code} is not in the unit's .debug_abbrev table"
        )),
        e => Error::new(format!("bad DWARF ({what}): {e}")),
    }
}

/// Options that change what the loader keeps.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    /// `--skip_encoding_btf_decl_tag`.
    pub skip_decl_tag: bool,
    /// `--skip_encoding_btf_type_tag`.
    pub skip_type_tag: bool,
    /// Read the locations of the register parameters of functions
    /// ([`Param::unexpected_reg`]).
    pub param_locations: bool,
    /// The DWARF register numbers of the register parameters (x86-64:
    /// `[5, 4, 1, 2, 8, 9]`; see [`register_params`]).
    pub register_params: &'static [u8],
}

/// pahole's `arch__nr_register_params` / `register_params` by ELF machine:
/// the DWARF register numbers holding the first parameters.
pub fn register_params(machine: u16) -> &'static [u8] {
    use object::elf;
    match machine {
        elf::EM_X86_64 => &[5, 4, 1, 2, 8, 9],
        elf::EM_S390 => &[2, 3, 4, 5, 6],
        elf::EM_ARM
        | elf::EM_AARCH64
        | elf::EM_RISCV
        | elf::EM_LOONGARCH
        | elf::EM_PPC
        | elf::EM_PPC64 => &[0, 1, 2, 3, 4, 5, 6, 7],
        _ => &[],
    }
}

/// Decodes one unit. Returns `None` for units pahole skips (skeleton and
/// partial units).
///
/// `spare`: an emptied unit ([`Cu::recycle`]) whose tables' memory the new
/// one reuses.
pub fn decode_unit<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    unit: &gimli::Unit<R<'a>>,
    opts: LoadOptions,
    spare: Option<Cu<'a>>,
) -> Result<Option<Cu<'a>>> {
    let mut ctx = Ctx {
        dwarf,
        unit,
        skip_decl_tag: opts.skip_decl_tag,
        skip_type_tag: opts.skip_type_tag,
        param_locations: opts.param_locations,
        register_params: opts.register_params,
        walk: Walk {
            raw: unit
                .entries_raw(None)
                .map_err(|e| gerr(e, "unit entries"))?,
            header: &unit.header,
            pending: None,
        },
        scratch: Scratch::default(),
        cu: Cu {
            unit_start: unit
                .header
                .offset()
                .as_debug_info_offset()
                .map(|o| o.0)
                .unwrap_or(0),
            addr_size: unit.header.address_size(),
            ..spare.map(Cu::recycle).unwrap_or_default()
        },
    };
    let root = ctx.walk.next_child(-1)?;
    let Some(root) = root else {
        return Err(Error::new(format!(
            "unit at .debug_info offset {:#x}: no DIE",
            ctx.cu.unit_start
        )));
    };
    let tag = root.tag;
    if tag == dw::DW_TAG_skeleton_unit || tag == dw::DW_TAG_partial_unit {
        return Ok(None);
    }
    if tag != dw::DW_TAG_compile_unit && tag != dw::DW_TAG_type_unit {
        return Err(Error::new(format!(
            "unit at .debug_info offset {:#x}: expected DW_TAG_compile_unit, got {tag}",
            ctx.cu.unit_start
        )));
    }
    let mut re = Snap::empty(root.tag, root.offset);
    ctx.walk.attrs(&root, &mut re)?;
    ctx.cu.language = ctx.numeric(&re, dw::DW_AT_language);
    ctx.cu.name = ctx
        .string_bytes(&re, dw::DW_AT_name)
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    while let Some(child) = ctx.walk.next_child(root.depth)? {
        let made = ctx.process(child, 0)?;
        ctx.add(made);
    }
    Ok(Some(ctx.cu))
}

impl<'a> Ctx<'a, '_> {
    fn die_offset(&self, e: &Snap<'a>) -> usize {
        e.offset
            .to_debug_info_offset(&self.unit.header)
            .map(|o| o.0)
            .unwrap_or(0)
    }

    /// pahole's `attr_numeric`: the data forms zero-extended (`sdata` as its
    /// two's complement), flags, addresses; anything else 0.
    fn numeric(&self, e: &Snap<'a>, at: gimli::DwAt) -> u64 {
        match e.get(at) {
            Some(v) => match v {
                AttributeValue::Data1(v) => u64::from(v),
                AttributeValue::Data2(v) => u64::from(v),
                AttributeValue::Data4(v) => u64::from(v),
                AttributeValue::Data8(v) => v,
                AttributeValue::Sdata(v) => v as u64,
                AttributeValue::Udata(v) => v,
                AttributeValue::Flag(f) => u64::from(f),
                AttributeValue::Addr(v) => v,
                _ => 0,
            },
            _ => 0,
        }
    }

    fn has(&self, e: &Snap<'a>, at: gimli::DwAt) -> bool {
        e.get(at).is_some()
    }

    /// A name: `.debug_str` strings lazily ([`Str`]) when the section ends
    /// with NUL, else as [`Self::string_bytes`] finds them.
    fn string(&self, e: &Snap<'a>, at: gimli::DwAt) -> Name<'a> {
        let v = e.get(at)?;
        let offset = match v {
            AttributeValue::DebugStrRef(o) => o,
            AttributeValue::DebugStrOffsetsIndex(i) => {
                self.dwarf.string_offset(self.unit, i).ok()?
            }
            _ => return self.string_bytes(e, at).map(Str::new),
        };
        let sec = gimli::Section::reader(&self.dwarf.debug_str).slice();
        match Str::lazy(sec.get(offset.0..)?) {
            Some(s) => Some(s),
            None => self.string_bytes(e, at).map(Str::new),
        }
    }

    fn string_bytes(&self, e: &Snap<'a>, at: gimli::DwAt) -> Option<&'a [u8]> {
        // `.debug_str` strings found with a word-at-a-time NUL search (gimli
        // scans byte by byte); the other forms through gimli. Same bytes,
        // and `None` where gimli finds no terminating NUL.
        let offset = match e.get(at)? {
            AttributeValue::String(s) => return Some(s.slice()),
            AttributeValue::DebugStrRef(o) => o,
            AttributeValue::DebugStrOffsetsIndex(i) => {
                self.dwarf.string_offset(self.unit, i).ok()?
            }
            v => return self.dwarf.attr_string(self.unit, v).ok().map(|s| s.slice()),
        };
        let sec = gimli::Section::reader(&self.dwarf.debug_str).slice();
        let rest = sec.get(offset.0..)?;
        std::ffi::CStr::from_bytes_until_nul(rest)
            .ok()
            .map(|c| c.to_bytes())
    }

    fn reference(&self, e: &Snap<'a>, at: gimli::DwAt) -> Option<usize> {
        match e.get(at)? {
            AttributeValue::UnitRef(o) => o.to_debug_info_offset(&self.unit.header).map(|o| o.0),
            AttributeValue::DebugInfoRef(o) => Some(o.0),
            _ => None,
        }
    }

    fn type_ref(&self, e: &Snap<'a>) -> Ref {
        match self.reference(e, dw::DW_AT_type) {
            Some(o) => Ref::Die(o),
            None => Ref::None,
        }
    }

    /// `DW_AT_data_member_location` / `DW_AT_bit_offset` style offsets.
    fn offset_attr(&self, v: AttributeValue<R<'a>>) -> u64 {
        match v {
            AttributeValue::Data1(v) => u64::from(v),
            AttributeValue::Data2(v) => u64::from(v),
            AttributeValue::Data4(v) => u64::from(v),
            AttributeValue::Data8(v) => v,
            AttributeValue::Sdata(v) => v as u64,
            AttributeValue::Udata(v) => v,
            AttributeValue::Exprloc(gimli::Expression(r)) | AttributeValue::Block(r) => {
                let mut r = r;
                match r.read_u8() {
                    Ok(op) if op == dw::DW_OP_plus_uconst.0 || op == dw::DW_OP_constu.0 => {
                        r.read_uleb128().unwrap_or(0)
                    }
                    _ => u64::MAX,
                }
            }
            _ => 0,
        }
    }

    /// The address of a `DW_OP_addr`/`DW_OP_addrx` location.
    fn location_addr(&self, e: &Snap<'a>) -> Option<u64> {
        let mut r = match e.get(dw::DW_AT_location)? {
            AttributeValue::Exprloc(gimli::Expression(r)) | AttributeValue::Block(r) => r,
            _ => return None,
        };
        let op = r.read_u8().ok()?;
        if op == dw::DW_OP_addr.0 {
            r.read_address(self.unit.header.address_size()).ok()
        } else if op == dw::DW_OP_addrx.0 {
            let idx = r.read_uleb128().ok()?;
            self.dwarf
                .address(self.unit, gimli::DebugAddrIndex(idx as usize))
                .ok()
        } else {
            None
        }
    }

    /// pahole's `parameter__reg` test: whether a parameter that should be
    /// in DWARF register `expected` has a location naming another one. The
    /// register found: `DW_OP_regN` as the first location's only operation,
    /// or `DW_OP_entry_value(DW_OP_regN)` as any location's (a trailing
    /// `DW_OP_stack_value` ignored); the expected one anywhere wins. A
    /// location without a register is "optimized out", not unexpected.
    fn unexpected_reg(&self, e: &Snap<'a>, expected: u8) -> bool {
        let Some(v) = e.get(dw::DW_AT_location) else {
            return false;
        };
        let expected = dw::DW_OP_reg0.0 + expected;
        let enc = self.unit.encoding();
        let mut exprs: Vec<R<'a>> = Vec::new();
        match v {
            AttributeValue::Exprloc(gimli::Expression(r)) | AttributeValue::Block(r) => {
                exprs.push(r)
            }
            AttributeValue::LocationListsRef(o) => {
                self.loc_list(gimli::LocationListsOffset(o.0), &mut exprs)
            }
            AttributeValue::SecOffset(o) => {
                self.loc_list(gimli::LocationListsOffset(o), &mut exprs)
            }
            AttributeValue::DebugLocListsIndex(i) => {
                if let Ok(o) = self.dwarf.locations_offset(self.unit, i) {
                    self.loc_list(o, &mut exprs)
                }
            }
            _ => return false,
        }
        let mut found: Option<u8> = None;
        for (n, r) in exprs.into_iter().enumerate() {
            let Some(ops) = ops_of(r, enc) else {
                continue;
            };
            let mut ops = ops.as_slice();
            if ops.len() > 1 && ops[ops.len() - 1].0 == dw::DW_OP_stack_value.0 {
                ops = &ops[..ops.len() - 1];
            }
            let [(atom, sub)] = ops else {
                continue;
            };
            if (dw::DW_OP_reg0.0..=dw::DW_OP_reg31.0).contains(atom) {
                if n != 0 {
                    continue;
                }
                found = Some(*atom);
                if *atom == expected {
                    return false;
                }
            } else if *atom == dw::DW_OP_entry_value.0 || *atom == dw::DW_OP_GNU_entry_value.0 {
                if let Some(sub) = sub.and_then(|s| ops_of(s, enc)) {
                    if let [(a, _)] = sub.as_slice() {
                        found = Some(*a);
                        if *a == expected {
                            return false;
                        }
                    }
                }
            }
        }
        found.is_some()
    }

    /// The expressions of a location list, in order (a list that cannot be
    /// read gives what was read before the error).
    fn loc_list(&self, off: gimli::LocationListsOffset, out: &mut Vec<R<'a>>) {
        let Ok(mut it) = self.dwarf.locations(self.unit, off) else {
            return;
        };
        // Raw entries: libdw hands out empty ranges too (gimli's `next`
        // skips them), and pahole counts them.
        while let Ok(Some(l)) = it.next_raw() {
            use gimli::RawLocListEntry as E;
            let data = match l {
                E::AddressOrOffsetPair { data, .. }
                | E::StartxEndx { data, .. }
                | E::StartxLength { data, .. }
                | E::OffsetPair { data, .. }
                | E::DefaultLocation { data }
                | E::StartEnd { data, .. }
                | E::StartLength { data, .. } => data,
                E::BaseAddress { .. } | E::BaseAddressx { .. } => continue,
            };
            out.push(data.0);
            if out.len() > 4096 {
                break;
            }
        }
    }

    /// The `btf_decl_tag` of the annotation DIE `h`, if it is one, with
    /// component index `idx`; its attributes read only when decl tags are
    /// kept.
    fn annotation_of(&mut self, h: &Head, idx: i32, out: &mut Vec<(&'a [u8], i32)>) -> Result<()> {
        if self.skip_decl_tag {
            return Ok(());
        }
        let mut e = Snap::empty(h.tag, h.offset);
        self.walk.attrs(h, &mut e)?;
        if self.string_bytes(&e, dw::DW_AT_name) == Some(&b"btf_decl_tag"[..]) {
            let value = self
                .string_bytes(&e, dw::DW_AT_const_value)
                .unwrap_or_default();
            out.push((value, idx));
        }
        Ok(())
    }

    /// Adds what a DIE became to the tables (pahole's `cu__add_tag` /
    /// `cu__table_add_tag`: which one does not change the tables we keep).
    fn add(&mut self, made: Made<'a>) {
        match made {
            Made::Type(t) => {
                self.cu.types.push(t);
            }
            Made::Function(f) => self.cu.functions.push(f),
            Made::Variable(v) => self.cu.variables.push(v),
            Made::Nothing => {}
        }
    }

    fn push_type(&mut self, die: usize, t: TypeEntry<'a>) {
        self.cu.types.push(t);
        let id = self.cu.types.len() as u32;
        self.cu.set_type_id(die, id);
    }

    fn process(&mut self, node: Head, depth: usize) -> Result<Made<'a>> {
        if depth > MAX_DEPTH {
            return Err(Error::new(format!(
                "DWARF nested deeper than {MAX_DEPTH} levels in unit {}",
                self.cu.name
            )));
        }
        let mut e = Snap::empty(node.tag, node.offset);
        self.walk.attrs(&node, &mut e)?;
        let off = self.die_offset(&e);
        let tag = e.tag();
        let made = match tag {
            dw::DW_TAG_base_type => Made::Type(TypeEntry {
                kind: TypeKind::Base {
                    name: self.string(&e, dw::DW_AT_name),
                    bits: self.numeric(&e, dw::DW_AT_byte_size).wrapping_mul(8),
                    encoding: self.numeric(&e, dw::DW_AT_encoding),
                },
                ty: self.type_ref(&e),
                annots: Vec::new(),
            }),
            dw::DW_TAG_const_type | dw::DW_TAG_volatile_type | dw::DW_TAG_restrict_type => {
                let kind = match tag {
                    dw::DW_TAG_const_type => TypeKind::Const,
                    dw::DW_TAG_volatile_type => TypeKind::Volatile,
                    _ => TypeKind::Restrict,
                };
                Made::Type(TypeEntry {
                    kind,
                    ty: self.type_ref(&e),
                    annots: Vec::new(),
                })
            }
            // Debian's pahole 1.24 (with the toolchain backports of 1.24-4,
            // as pahole >= 1.25) keeps no table entry for an unspecified
            // type (binutils' return type of assembly functions): references
            // to it become void.
            dw::DW_TAG_unspecified_type => Made::Nothing,
            dw::DW_TAG_reference_type
            | dw::DW_TAG_ptr_to_member_type
            | dw::DW_TAG_string_type
            | dw::DW_TAG_rvalue_reference_type => Made::Type(TypeEntry {
                kind: TypeKind::Unsupported(tag.0),
                ty: self.type_ref(&e),
                annots: Vec::new(),
            }),
            dw::DW_TAG_imported_declaration | dw::DW_TAG_imported_module => Made::Nothing,
            dw::DW_TAG_imported_unit => {
                return Err(Error::new(format!(
                "DW_TAG_imported_unit at .debug_info offset {off:#x} (not supported, as in pahole)"
            )))
            }
            dw::DW_TAG_pointer_type => {
                let ty = self.type_ref(&e);
                let mut tags: Vec<u32> = Vec::new();
                if !self.skip_type_tag {
                    while let Some(c) = self.walk.next_child(node.depth)? {
                        if !is_annotation(c.tag) {
                            continue;
                        }
                        let mut ce = Snap::empty(c.tag, c.offset);
                        self.walk.attrs(&c, &mut ce)?;
                        let ce = &ce;
                        if self.string_bytes(ce, dw::DW_AT_name) != Some(&b"btf_type_tag"[..]) {
                            continue;
                        }
                        let value = self
                            .string_bytes(ce, dw::DW_AT_const_value)
                            .unwrap_or_default();
                        let coff = self.die_offset(ce);
                        self.push_type(
                            coff,
                            TypeEntry {
                                kind: TypeKind::TypeTag(value),
                                ty: Ref::None,
                                annots: Vec::new(),
                            },
                        );
                        tags.push(self.cu.types.len() as u32);
                    }
                }
                if tags.is_empty() {
                    Made::Type(TypeEntry {
                        kind: TypeKind::Ptr,
                        ty,
                        annots: Vec::new(),
                    })
                } else {
                    // pointer -> last tag -> ... -> first tag -> pointee
                    let first = tags[0];
                    self.cu.types[first as usize - 1].ty = ty;
                    for w in tags.windows(2) {
                        self.cu.types[w[1] as usize - 1].ty = Ref::Id(w[0]);
                    }
                    let last = *tags.last().unwrap_or(&first);
                    Made::Type(TypeEntry {
                        kind: TypeKind::Ptr,
                        ty: Ref::Id(last),
                        annots: Vec::new(),
                    })
                }
            }
            dw::DW_TAG_typedef => {
                let mut annots = Vec::new();
                while let Some(c) = self.walk.next_child(node.depth)? {
                    if is_annotation(c.tag) {
                        self.annotation_of(&c, -1, &mut annots)?;
                    }
                }
                Made::Type(TypeEntry {
                    kind: TypeKind::Typedef(self.string(&e, dw::DW_AT_name)),
                    ty: self.type_ref(&e),
                    annots,
                })
            }
            dw::DW_TAG_structure_type
            | dw::DW_TAG_class_type
            | dw::DW_TAG_interface_type
            | dw::DW_TAG_union_type => {
                let union = tag == dw::DW_TAG_union_type;
                let mut members = self.scratch.members.pop().unwrap_or_default();
                let mut annots = Vec::new();
                let mut member_idx = 0i32;
                while let Some(c) = self.walk.next_child(node.depth)? {
                    match c.tag {
                        dw::DW_TAG_subrange_type
                        | dw::DW_TAG_variant_part
                        | dw::DW_TAG_template_type_parameter
                        | dw::DW_TAG_template_value_parameter
                        | dw::DW_TAG_GNU_formal_parameter_pack
                        | dw::DW_TAG_GNU_template_parameter_pack
                        | dw::DW_TAG_GNU_template_template_param => {}
                        dw::DW_TAG_member | dw::DW_TAG_inheritance => {
                            let mut ce = Snap::empty(c.tag, c.offset);
                            self.walk.attrs(&c, &mut ce)?;
                            members.push(self.member(&ce, union));
                            while let Some(g) = self.walk.next_child(c.depth)? {
                                if is_annotation(g.tag) {
                                    self.annotation_of(&g, member_idx, &mut annots)?;
                                }
                            }
                            member_idx += 1;
                        }
                        t if is_annotation(t) => self.annotation_of(&c, -1, &mut annots)?,
                        _ => {
                            let made = self.process(c, depth + 1)?;
                            self.add(made);
                        }
                    }
                }
                Made::Type(TypeEntry {
                    kind: TypeKind::Struct {
                        union,
                        name: self.string(&e, dw::DW_AT_name),
                        size: self.numeric(&e, dw::DW_AT_byte_size),
                        declaration: self.numeric(&e, dw::DW_AT_declaration) != 0,
                        members: Span::append(
                            &mut self.cu.members,
                            members,
                            &mut self.scratch.members,
                        ),
                    },
                    ty: self.type_ref(&e),
                    annots,
                })
            }
            dw::DW_TAG_enumeration_type => {
                let size = self.numeric(&e, dw::DW_AT_byte_size);
                let bits = if size == 0 { 32 } else { size.wrapping_mul(8) };
                let signed = match self.reference(&e, dw::DW_AT_type) {
                    Some(o) => {
                        let enc = self.encoding_of(o);
                        enc == u64::from(dw::DW_ATE_signed.0)
                            || enc == u64::from(dw::DW_ATE_signed_char.0)
                    }
                    None => false,
                };
                let mut values = self.scratch.values.pop().unwrap_or_default();
                while let Some(c) = self.walk.next_child(node.depth)? {
                    if c.tag != dw::DW_TAG_enumerator {
                        continue;
                    }
                    let mut ce = Snap::empty(c.tag, c.offset);
                    self.walk.attrs(&c, &mut ce)?;
                    let ce = &ce;
                    values.push((
                        self.string(ce, dw::DW_AT_name),
                        self.numeric(ce, dw::DW_AT_const_value),
                    ));
                }
                Made::Type(TypeEntry {
                    kind: TypeKind::Enum {
                        name: self.string(&e, dw::DW_AT_name),
                        bits,
                        signed,
                        values: Span::append(&mut self.cu.values, values, &mut self.scratch.values),
                    },
                    ty: self.type_ref(&e),
                    annots: Vec::new(),
                })
            }
            dw::DW_TAG_array_type => {
                let mut dims = self.scratch.dims.pop().unwrap_or_default();
                while let Some(c) = self.walk.next_child(node.depth)? {
                    if c.tag != dw::DW_TAG_subrange_type {
                        continue;
                    }
                    if dims.len() == 64 {
                        break;
                    }
                    let mut ce = Snap::empty(c.tag, c.offset);
                    self.walk.attrs(&c, &mut ce)?;
                    let ce = &ce;
                    dims.push(self.upper_bound(ce) as u32);
                }
                Made::Type(TypeEntry {
                    kind: TypeKind::Array(Span::append(
                        &mut self.cu.dims,
                        dims,
                        &mut self.scratch.dims,
                    )),
                    ty: self.type_ref(&e),
                    annots: Vec::new(),
                })
            }
            dw::DW_TAG_subroutine_type => {
                let mut params = self.scratch.params.pop().unwrap_or_default();
                let mut varargs = false;
                while let Some(c) = self.walk.next_child(node.depth)? {
                    match c.tag {
                        dw::DW_TAG_subrange_type => {}
                        dw::DW_TAG_formal_parameter => {
                            let mut ce = Snap::empty(c.tag, c.offset);
                            self.walk.attrs(&c, &mut ce)?;
                            params.push(Param {
                                name: self.string(&ce, dw::DW_AT_name),
                                ty: self.type_ref(&ce),
                                origin: None,
                                unexpected_reg: false,
                            })
                        }
                        dw::DW_TAG_unspecified_parameters => varargs = true,
                        _ => {
                            let made = self.process(c, depth + 1)?;
                            self.add(made);
                        }
                    }
                }
                Made::Type(TypeEntry {
                    kind: TypeKind::Proto {
                        params: Span::append(
                            &mut self.cu.proto_params,
                            params,
                            &mut self.scratch.params,
                        ),
                        varargs,
                    },
                    ty: self.type_ref(&e),
                    annots: Vec::new(),
                })
            }
            dw::DW_TAG_subprogram => {
                let mut f = Function {
                    die: off,
                    name: self.string(&e, dw::DW_AT_name),
                    declaration: self.has(&e, dw::DW_AT_declaration),
                    external: self.has(&e, dw::DW_AT_external),
                    origin: self.reference(&e, dw::DW_AT_abstract_origin),
                    specification: self.reference(&e, dw::DW_AT_specification),
                    ret: self.type_ref(&e),
                    params: Span::default(),
                    varargs: false,
                    annots: Vec::new(),
                };
                let mut params = self.scratch.params.pop().unwrap_or_default();
                self.function_body(node, Some((&mut f, &mut params)), depth)?;
                f.params = Span::append(&mut self.cu.fn_params, params, &mut self.scratch.params);
                Made::Function(f)
            }
            dw::DW_TAG_variable => Made::Variable(self.variable(node, &e, depth == 0)?),
            dw::DW_TAG_namespace => {
                while let Some(c) = self.walk.next_child(node.depth)? {
                    let made = self.process(c, depth + 1)?;
                    self.add(made);
                }
                Made::Nothing
            }
            _ => Made::Nothing,
        };
        if let Made::Type(_) = &made {
            // Numbered when added; remember the DIE for references.
            let id = self.cu.types.len() as u32 + 1;
            self.cu.set_type_id(off, id);
        }
        Ok(made)
    }

    fn encoding_of(&self, die: usize) -> u64 {
        let Ok(uo) = gimli::DebugInfoOffset(die)
            .to_unit_offset(&self.unit.header)
            .ok_or(())
        else {
            return 0;
        };
        match self.unit.entry(uo) {
            Ok(e) => self.numeric(&Snap::new(&e), dw::DW_AT_encoding),
            Err(_) => 0,
        }
    }

    fn upper_bound(&self, e: &Snap<'a>) -> u64 {
        let udata = |v: AttributeValue<R<'a>>| -> Option<u64> {
            match v {
                AttributeValue::Data1(v) => Some(u64::from(v)),
                AttributeValue::Data2(v) => Some(u64::from(v)),
                AttributeValue::Data4(v) => Some(u64::from(v)),
                AttributeValue::Data8(v) => Some(v),
                AttributeValue::Sdata(v) => Some(v as u64),
                AttributeValue::Udata(v) => Some(v),
                _ => None,
            }
        };
        if let Some(v) = e.get(dw::DW_AT_upper_bound) {
            return udata(v).map(|v| v.wrapping_add(1)).unwrap_or(0);
        }
        if let Some(v) = e.get(dw::DW_AT_count) {
            return udata(v).unwrap_or(0);
        }
        0
    }

    fn member(&self, e: &Snap<'a>, in_union: bool) -> Member<'a> {
        let _ = in_union;
        let bitfield_size = self.numeric(e, dw::DW_AT_bit_size) as u32;
        let ty = self.type_ref(e);
        let mut pending = None;
        let bit_offset = if let Some(v) = e.get(dw::DW_AT_data_bit_offset) {
            self.offset_attr(v) as u32
        } else {
            let byte_offset = match e.get(dw::DW_AT_data_member_location) {
                Some(v) => self.offset_attr(v),
                _ => 0,
            } as u32;
            let base = byte_offset.wrapping_mul(8);
            if bitfield_size == 0 {
                base
            } else {
                // The storage unit size: DW_AT_byte_size, else the size of the
                // type with typedefs and qualifiers stripped (computed later).
                let byte_size = self.numeric(e, dw::DW_AT_byte_size) as u32;
                let dw_bit_offset = self.numeric(e, dw::DW_AT_bit_offset) as u32;
                if byte_size != 0 {
                    let bit_size = byte_size * 8;
                    base.wrapping_add(
                        bit_size
                            .wrapping_sub(dw_bit_offset)
                            .wrapping_sub(bitfield_size),
                    )
                } else {
                    pending = Some((byte_offset, dw_bit_offset));
                    base
                }
            }
        };
        Member {
            name: self.string(e, dw::DW_AT_name),
            ty,
            bit_offset,
            bitfield_size,
            is_member: e.tag() == dw::DW_TAG_member,
            pending,
        }
    }

    fn variable(&mut self, node: Head, e: &Snap<'a>, top_level: bool) -> Result<Variable<'a>> {
        let declaration = self.has(e, dw::DW_AT_declaration);
        let mut annots = Vec::new();
        while let Some(c) = self.walk.next_child(node.depth)? {
            if is_annotation(c.tag) {
                self.annotation_of(&c, -1, &mut annots)?;
            }
        }
        Ok(Variable {
            die: self.die_offset(e),
            name: self.string(e, dw::DW_AT_name),
            external: self.has(e, dw::DW_AT_external),
            declaration,
            specification: self.reference(e, dw::DW_AT_specification),
            addr: if declaration {
                None
            } else {
                self.location_addr(e)
            },
            ty: self.type_ref(e),
            annots,
            top_level,
            artificial: self.has(e, dw::DW_AT_artificial),
        })
    }

    /// The children of a subprogram, lexical block or inlined subroutine
    /// (pahole's `die__process_function` / `die__process_inline_expansion`).
    fn function_body(
        &mut self,
        node: Head,
        mut f: Option<(&mut Function<'a>, &mut Vec<Param<'a>>)>,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::new(format!(
                "DWARF nested deeper than {MAX_DEPTH} levels in unit {}",
                self.cu.name
            )));
        }
        let mut param_idx = 0i32;
        while let Some(c) = self.walk.next_child(node.depth)? {
            // The tag first: most children of a function body (call sites,
            // their parameters, labels) are skipped without reading their
            // attributes.
            match c.tag {
                dw::DW_TAG_call_site
                | dw::DW_TAG_call_site_parameter
                | dw::DW_TAG_GNU_call_site
                | dw::DW_TAG_GNU_call_site_parameter
                | dw::DW_TAG_dwarf_procedure
                | dw::DW_TAG_template_type_parameter
                | dw::DW_TAG_template_value_parameter
                | dw::DW_TAG_GNU_formal_parameter_pack
                | dw::DW_TAG_GNU_template_parameter_pack
                | dw::DW_TAG_GNU_template_template_param
                | dw::DW_TAG_label => {}
                dw::DW_TAG_formal_parameter => {
                    let mut ce = Snap::empty(c.tag, c.offset);
                    self.walk.attrs(&c, &mut ce)?;
                    let name = self.string(&ce, dw::DW_AT_name);
                    let ty = self.type_ref(&ce);
                    let origin = if ty == Ref::None {
                        self.reference(&ce, dw::DW_AT_abstract_origin)
                    } else {
                        None
                    };
                    let off = self.die_offset(&ce);
                    self.cu.params.insert(off, (name, ty));
                    if let Some((f, params)) = f.as_mut() {
                        while let Some(g) = self.walk.next_child(c.depth)? {
                            if is_annotation(g.tag) {
                                self.annotation_of(&g, param_idx, &mut f.annots)?;
                            }
                        }
                        let unexpected_reg = self.param_locations
                            && usize::try_from(param_idx)
                                .ok()
                                .and_then(|i| self.register_params.get(i))
                                .is_some_and(|&r| self.unexpected_reg(&ce, r));
                        params.push(Param {
                            name,
                            ty,
                            origin,
                            unexpected_reg,
                        });
                    }
                    param_idx += 1;
                }
                dw::DW_TAG_variable => {
                    let mut ce = Snap::empty(c.tag, c.offset);
                    self.walk.attrs(&c, &mut ce)?;
                    let v = self.variable(c, &ce, false)?;
                    self.cu.variables.push(v);
                }
                dw::DW_TAG_unspecified_parameters => {
                    if let Some((f, _)) = f.as_mut() {
                        f.varargs = true;
                    }
                }
                dw::DW_TAG_inlined_subroutine => self.block(c, true, depth + 1)?,
                dw::DW_TAG_lexical_block => self.block(c, false, depth + 1)?,
                t if is_annotation(t) => {
                    if let Some((f, _)) = f.as_mut() {
                        self.annotation_of(&c, -1, &mut f.annots)?;
                    }
                }
                _ => {
                    let made = self.process(c, depth + 1)?;
                    self.add(made);
                }
            }
        }
        Ok(())
    }

    /// A lexical block (processed like a function body without a prototype)
    /// or an inlined subroutine (its parameters are ignored, its variables,
    /// blocks and types kept).
    fn block(&mut self, node: Head, inline: bool, depth: usize) -> Result<()> {
        if !inline {
            return self.function_body(node, None, depth);
        }
        if depth > MAX_DEPTH {
            return Err(Error::new(format!(
                "DWARF nested deeper than {MAX_DEPTH} levels in unit {}",
                self.cu.name
            )));
        }
        while let Some(c) = self.walk.next_child(node.depth)? {
            let tag = c.tag;
            match tag {
                dw::DW_TAG_call_site
                | dw::DW_TAG_call_site_parameter
                | dw::DW_TAG_GNU_call_site
                | dw::DW_TAG_GNU_call_site_parameter
                | dw::DW_TAG_formal_parameter
                | dw::DW_TAG_label => {}
                dw::DW_TAG_lexical_block => self.function_body(c, None, depth + 1)?,
                dw::DW_TAG_inlined_subroutine => self.block(c, true, depth + 1)?,
                _ => {
                    let made = self.process(c, depth + 1)?;
                    self.add(made);
                }
            }
        }
        Ok(())
    }
}

impl<'a> Cu<'a> {
    /// The unit emptied, for the next one to be decoded into: every table
    /// cleared with its memory kept (grown from nothing for each unit, the
    /// tables cost a copy at every doubling).
    pub fn recycle(self) -> Cu<'a> {
        let Cu {
            mut types,
            mut functions,
            mut variables,
            mut type_ids,
            mut params,
            mut members,
            mut values,
            mut dims,
            mut proto_params,
            mut fn_params,
            ..
        } = self;
        types.clear();
        functions.clear();
        variables.clear();
        type_ids.clear();
        params.clear();
        members.clear();
        values.clear();
        dims.clear();
        proto_params.clear();
        fn_params.clear();
        Cu {
            types,
            functions,
            variables,
            type_ids,
            params,
            members,
            values,
            dims,
            proto_params,
            fn_params,
            ..Cu::default()
        }
    }

    /// Records the type number of the DIE at `die` (ignored outside the unit).
    fn set_type_id(&mut self, die: usize, id: u32) {
        if let Some(i) = die
            .checked_sub(self.unit_start)
            .and_then(|i| u32::try_from(i).ok())
        {
            self.type_ids.insert(i, id);
        }
    }

    /// Looks a DIE up as a type of this unit: its number, or 0.
    pub fn type_id(&self, r: Ref) -> u32 {
        match r {
            Ref::None => 0,
            Ref::Id(n) => n,
            Ref::Die(o) => o
                .checked_sub(self.unit_start)
                .and_then(|i| u32::try_from(i).ok())
                .and_then(|i| self.type_ids.get(&i))
                .copied()
                .unwrap_or(0),
        }
    }

    /// pahole's `tag__size` on a type number (0 for void, loops and unknowns).
    pub fn size_of(&self, id: u32) -> u64 {
        let mut id = id;
        let mut mult: u64 = 1;
        for _ in 0..1024 {
            let Some(t) = id.checked_sub(1).and_then(|i| self.types.get(i as usize)) else {
                return 0;
            };
            match &t.kind {
                TypeKind::Base { bits, .. } => return mult.wrapping_mul(bits / 8),
                TypeKind::Ptr => return mult.wrapping_mul(u64::from(self.addr_size)),
                TypeKind::Enum { bits, .. } => return mult.wrapping_mul(bits / 8),
                TypeKind::Struct { size, members, .. } => {
                    let s = if *size == 1 && members.is_empty() {
                        0
                    } else {
                        *size
                    };
                    return mult.wrapping_mul(s);
                }
                TypeKind::Array(dims) => {
                    let n = dims
                        .of(&self.dims)
                        .iter()
                        .fold(1u64, |a, &d| a.wrapping_mul(u64::from(d)));
                    mult = mult.wrapping_mul(n);
                }
                _ => {}
            }
            let next = self.type_id(t.ty);
            if next == 0 {
                return 0;
            }
            id = next;
        }
        0
    }

    /// The type with typedefs and qualifiers stripped.
    fn strip(&self, id: u32) -> u32 {
        let mut id = id;
        for _ in 0..1024 {
            let Some(t) = id.checked_sub(1).and_then(|i| self.types.get(i as usize)) else {
                return id;
            };
            match t.kind {
                TypeKind::Typedef(_)
                | TypeKind::Const
                | TypeKind::Volatile
                | TypeKind::Restrict => {
                    id = self.type_id(t.ty);
                }
                _ => return id,
            }
        }
        id
    }

    /// Finishes the unit after decoding: the bit offsets of bitfields that
    /// needed the size of their type, function names and parameters taken
    /// from their abstract origins, return types of concrete instances.
    pub fn resolve(&mut self) {
        for i in 0..self.types.len() {
            let TypeKind::Struct { members, .. } = &self.types[i].kind else {
                continue;
            };
            let span = *members;
            let mut fixed = Vec::new();
            for (mi, m) in span.of(&self.members).iter().enumerate() {
                let Some((byte_offset, dw_bit_offset)) = m.pending else {
                    continue;
                };
                let t = self.strip(self.type_id(m.ty));
                let mut byte_size = self.size_of(t) as u32;
                if byte_size == 0 {
                    if let Some(TypeKind::Base { bits, .. } | TypeKind::Enum { bits, .. }) = t
                        .checked_sub(1)
                        .and_then(|i| self.types.get(i as usize))
                        .map(|t| &t.kind)
                    {
                        byte_size = (*bits as u32).div_ceil(8) * 8;
                    }
                }
                let base = byte_offset.wrapping_mul(8);
                let off = if byte_size == 0 {
                    base
                } else {
                    base.wrapping_add(
                        (byte_size * 8)
                            .wrapping_sub(dw_bit_offset)
                            .wrapping_sub(m.bitfield_size),
                    )
                };
                fixed.push((mi, off));
            }
            let members = span.of_mut(&mut self.members);
            for (mi, off) in fixed {
                if let Some(m) = members.get_mut(mi) {
                    m.bit_offset = off;
                }
            }
        }
        // Names and return types from abstract origins / specifications,
        // in function table order (as pahole recodes them).
        let mut by_die: HashMap<usize, usize> = HashMap::default();
        for (i, f) in self.functions.iter().enumerate() {
            by_die.insert(f.die, i);
        }
        for i in 0..self.functions.len() {
            if self.functions[i].name.is_none() {
                let src = self.functions[i]
                    .origin
                    .and_then(|o| by_die.get(&o))
                    .or_else(|| self.functions[i].specification.and_then(|s| by_die.get(&s)))
                    .copied();
                if let Some(j) = src {
                    self.functions[i].name = self.functions[j].name;
                }
            }
            for p in self.functions[i].params.of_mut(&mut self.fn_params) {
                if let Some(o) = p.origin {
                    if let Some((name, ty)) = self.params.get(&o) {
                        p.name = *name;
                        p.ty = *ty;
                    }
                }
            }
        }
        for i in 0..self.functions.len() {
            if self.type_id(self.functions[i].ret) != 0 {
                continue;
            }
            if let Some(j) = self.functions[i]
                .origin
                .and_then(|o| by_die.get(&o))
                .copied()
            {
                self.functions[i].ret = Ref::Id(self.type_id(self.functions[j].ret));
            }
        }
    }
}
