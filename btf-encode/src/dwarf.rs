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

use btf::hash::FastMap as HashMap;

use btf::{Error, Result};
use gimli::{constants as dw, AttributeValue, DebuggingInformationEntry, Reader};

/// A name as the DWARF holds it (bytes borrowed from `.debug_str` or the
/// DIE), `None` when the DIE has none.
pub type Name<'a> = Option<&'a [u8]>;

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
        members: Vec<Member<'a>>,
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
        values: Vec<(Name<'a>, u64)>,
    },
    /// Array; the element count of each dimension.
    Array(Vec<u32>),
    /// Subroutine type.
    Proto {
        /// Parameters.
        params: Vec<Param<'a>>,
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
    /// Parameters.
    pub params: Vec<Param<'a>>,
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
    /// Type number of the DIE at `unit_start + i` (0: not a type of this
    /// unit): a dense table, as DIE offsets of a unit are a small range.
    type_ids: Vec<u32>,
    /// DIE offset of a parameter (not in a subroutine type) to (name, type).
    params: HashMap<usize, (Name<'a>, Ref)>,
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
    vals: [Option<AttributeValue<R<'a>>>; SNAP_COUNT],
}

const SNAP_COUNT: usize = 18;

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
        let mut vals = [None; SNAP_COUNT];
        let mut it = e.attrs();
        while let Ok(Some(a)) = it.next() {
            if let Some(i) = snap_slot(a.name()) {
                if vals[i].is_none() {
                    vals[i] = Some(a.raw_value());
                }
            }
        }
        Snap {
            tag: e.tag(),
            offset: e.offset(),
            vals,
        }
    }

    fn tag(&self) -> gimli::DwTag {
        self.tag
    }

    fn get(&self, at: gimli::DwAt) -> Option<AttributeValue<R<'a>>> {
        snap_slot(at).and_then(|i| self.vals[i])
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
    Error::new(format!("bad DWARF ({what}): {e}"))
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
pub fn decode_unit<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    unit: &gimli::Unit<R<'a>>,
    opts: LoadOptions,
) -> Result<Option<Cu<'a>>> {
    let mut ctx = Ctx {
        dwarf,
        unit,
        skip_decl_tag: opts.skip_decl_tag,
        skip_type_tag: opts.skip_type_tag,
        param_locations: opts.param_locations,
        register_params: opts.register_params,
        cu: Cu {
            unit_start: unit
                .header
                .offset()
                .as_debug_info_offset()
                .map(|o| o.0)
                .unwrap_or(0),
            type_ids: vec![0; unit.header.length_including_self()],
            addr_size: unit.header.address_size(),
            ..Cu::default()
        },
    };
    let unit_off = unit
        .header
        .offset()
        .as_debug_info_offset()
        .map(|o| o.0)
        .unwrap_or(0);
    let mut tree = unit
        .entries_tree(None)
        .map_err(|e| gerr(e, &format!("unit at .debug_info offset {unit_off:#x}")))?;
    let root = tree
        .root()
        .map_err(|e| gerr(e, &format!("unit at .debug_info offset {unit_off:#x}")))?;
    let tag = root.entry().tag();
    if tag == dw::DW_TAG_skeleton_unit || tag == dw::DW_TAG_partial_unit {
        return Ok(None);
    }
    if tag != dw::DW_TAG_compile_unit && tag != dw::DW_TAG_type_unit {
        return Err(Error::new(format!(
            "unit at .debug_info offset {unit_off:#x}: expected DW_TAG_compile_unit, got {tag}"
        )));
    }
    ctx.cu.language = ctx.numeric(&Snap::new(root.entry()), dw::DW_AT_language);
    ctx.cu.name = ctx
        .string(&Snap::new(root.entry()), dw::DW_AT_name)
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let mut children = root.children();
    while let Some(child) = children.next().map_err(|e| gerr(e, "DIE tree"))? {
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

    fn string(&self, e: &Snap<'a>, at: gimli::DwAt) -> Name<'a> {
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

    fn annotation(&self, e: &Snap<'a>, idx: i32, out: &mut Vec<(&'a [u8], i32)>) {
        if self.skip_decl_tag {
            return;
        }
        if self.string(e, dw::DW_AT_name) != Some(&b"btf_decl_tag"[..]) {
            return;
        }
        let value = self.string(e, dw::DW_AT_const_value).unwrap_or_default();
        out.push((value, idx));
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

    fn process(
        &mut self,
        node: gimli::EntriesTreeNode<'_, '_, '_, R<'a>>,
        depth: usize,
    ) -> Result<Made<'a>> {
        if depth > MAX_DEPTH {
            return Err(Error::new(format!(
                "DWARF nested deeper than {MAX_DEPTH} levels in unit {}",
                self.cu.name
            )));
        }
        let e = Snap::new(node.entry());
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
                    let mut ch = node.children();
                    while let Some(c) = ch.next().map_err(|e| gerr(e, "DIE tree"))? {
                        let ce = &Snap::new(c.entry());
                        if !is_annotation(ce.tag()) {
                            continue;
                        }
                        if self.string(ce, dw::DW_AT_name) != Some(&b"btf_type_tag"[..]) {
                            continue;
                        }
                        let value = self.string(ce, dw::DW_AT_const_value).unwrap_or_default();
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
                let mut ch = node.children();
                while let Some(c) = ch.next().map_err(|e| gerr(e, "DIE tree"))? {
                    if is_annotation(c.entry().tag()) {
                        self.annotation(&Snap::new(c.entry()), -1, &mut annots);
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
                let mut members = Vec::new();
                let mut annots = Vec::new();
                let mut member_idx = 0i32;
                let mut ch = node.children();
                while let Some(c) = ch.next().map_err(|e| gerr(e, "DIE tree"))? {
                    let ce = Snap::new(c.entry());
                    match ce.tag() {
                        dw::DW_TAG_subrange_type
                        | dw::DW_TAG_variant_part
                        | dw::DW_TAG_template_type_parameter
                        | dw::DW_TAG_template_value_parameter
                        | dw::DW_TAG_GNU_formal_parameter_pack
                        | dw::DW_TAG_GNU_template_parameter_pack
                        | dw::DW_TAG_GNU_template_template_param => {}
                        dw::DW_TAG_member | dw::DW_TAG_inheritance => {
                            members.push(self.member(&ce, union));
                            let mut gc = c.children();
                            while let Some(g) = gc.next().map_err(|e| gerr(e, "DIE tree"))? {
                                if is_annotation(g.entry().tag()) {
                                    self.annotation(&Snap::new(g.entry()), member_idx, &mut annots);
                                }
                            }
                            member_idx += 1;
                        }
                        t if is_annotation(t) => self.annotation(&ce, -1, &mut annots),
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
                        members,
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
                let mut values = Vec::new();
                let mut ch = node.children();
                while let Some(c) = ch.next().map_err(|e| gerr(e, "DIE tree"))? {
                    let ce = &Snap::new(c.entry());
                    if ce.tag() != dw::DW_TAG_enumerator {
                        continue;
                    }
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
                        values,
                    },
                    ty: self.type_ref(&e),
                    annots: Vec::new(),
                })
            }
            dw::DW_TAG_array_type => {
                let mut dims = Vec::new();
                let mut ch = node.children();
                while let Some(c) = ch.next().map_err(|e| gerr(e, "DIE tree"))? {
                    let ce = &Snap::new(c.entry());
                    if ce.tag() != dw::DW_TAG_subrange_type {
                        continue;
                    }
                    if dims.len() == 64 {
                        break;
                    }
                    dims.push(self.upper_bound(ce) as u32);
                }
                Made::Type(TypeEntry {
                    kind: TypeKind::Array(dims),
                    ty: self.type_ref(&e),
                    annots: Vec::new(),
                })
            }
            dw::DW_TAG_subroutine_type => {
                let mut params = Vec::new();
                let mut varargs = false;
                let mut ch = node.children();
                while let Some(c) = ch.next().map_err(|e| gerr(e, "DIE tree"))? {
                    let ce = Snap::new(c.entry());
                    match ce.tag() {
                        dw::DW_TAG_subrange_type => {}
                        dw::DW_TAG_formal_parameter => params.push(Param {
                            name: self.string(&ce, dw::DW_AT_name),
                            ty: self.type_ref(&ce),
                            origin: None,
                            unexpected_reg: false,
                        }),
                        dw::DW_TAG_unspecified_parameters => varargs = true,
                        _ => {
                            let made = self.process(c, depth + 1)?;
                            self.add(made);
                        }
                    }
                }
                Made::Type(TypeEntry {
                    kind: TypeKind::Proto { params, varargs },
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
                    params: Vec::new(),
                    varargs: false,
                    annots: Vec::new(),
                };
                self.function_body(node, Some(&mut f), depth)?;
                Made::Function(f)
            }
            dw::DW_TAG_variable => Made::Variable(self.variable(node, depth == 0)?),
            dw::DW_TAG_namespace => {
                let mut ch = node.children();
                while let Some(c) = ch.next().map_err(|e| gerr(e, "DIE tree"))? {
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

    fn variable(
        &mut self,
        node: gimli::EntriesTreeNode<'_, '_, '_, R<'a>>,
        top_level: bool,
    ) -> Result<Variable<'a>> {
        let e = Snap::new(node.entry());
        let declaration = self.has(&e, dw::DW_AT_declaration);
        let mut annots = Vec::new();
        let mut ch = node.children();
        while let Some(c) = ch.next().map_err(|e| gerr(e, "DIE tree"))? {
            if is_annotation(c.entry().tag()) {
                self.annotation(&Snap::new(c.entry()), -1, &mut annots);
            }
        }
        Ok(Variable {
            die: self.die_offset(&e),
            name: self.string(&e, dw::DW_AT_name),
            external: self.has(&e, dw::DW_AT_external),
            declaration,
            specification: self.reference(&e, dw::DW_AT_specification),
            addr: if declaration {
                None
            } else {
                self.location_addr(&e)
            },
            ty: self.type_ref(&e),
            annots,
            top_level,
            artificial: self.has(&e, dw::DW_AT_artificial),
        })
    }

    /// The children of a subprogram, lexical block or inlined subroutine
    /// (pahole's `die__process_function` / `die__process_inline_expansion`).
    fn function_body(
        &mut self,
        node: gimli::EntriesTreeNode<'_, '_, '_, R<'a>>,
        mut f: Option<&mut Function<'a>>,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::new(format!(
                "DWARF nested deeper than {MAX_DEPTH} levels in unit {}",
                self.cu.name
            )));
        }
        let mut param_idx = 0i32;
        let mut ch = node.children();
        while let Some(c) = ch.next().map_err(|e| gerr(e, "DIE tree"))? {
            // The tag first: most children of a function body (call sites,
            // their parameters, labels) are skipped without reading their
            // attributes.
            match c.entry().tag() {
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
                    let ce = Snap::new(c.entry());
                    let name = self.string(&ce, dw::DW_AT_name);
                    let ty = self.type_ref(&ce);
                    let origin = if ty == Ref::None {
                        self.reference(&ce, dw::DW_AT_abstract_origin)
                    } else {
                        None
                    };
                    let off = self.die_offset(&ce);
                    self.cu.params.insert(off, (name, ty));
                    if let Some(f) = f.as_deref_mut() {
                        let mut gc = c.children();
                        while let Some(g) = gc.next().map_err(|e| gerr(e, "DIE tree"))? {
                            if is_annotation(g.entry().tag()) {
                                self.annotation(&Snap::new(g.entry()), param_idx, &mut f.annots);
                            }
                        }
                        let unexpected_reg = self.param_locations
                            && usize::try_from(param_idx)
                                .ok()
                                .and_then(|i| self.register_params.get(i))
                                .is_some_and(|&r| self.unexpected_reg(&ce, r));
                        f.params.push(Param {
                            name,
                            ty,
                            origin,
                            unexpected_reg,
                        });
                    }
                    param_idx += 1;
                }
                dw::DW_TAG_variable => {
                    let v = self.variable(c, false)?;
                    self.cu.variables.push(v);
                }
                dw::DW_TAG_unspecified_parameters => {
                    if let Some(f) = f.as_deref_mut() {
                        f.varargs = true;
                    }
                }
                dw::DW_TAG_inlined_subroutine => self.block(c, true, depth + 1)?,
                dw::DW_TAG_lexical_block => self.block(c, false, depth + 1)?,
                t if is_annotation(t) => {
                    if let Some(f) = f.as_deref_mut() {
                        self.annotation(&Snap::new(c.entry()), -1, &mut f.annots);
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
    fn block(
        &mut self,
        node: gimli::EntriesTreeNode<'_, '_, '_, R<'a>>,
        inline: bool,
        depth: usize,
    ) -> Result<()> {
        if !inline {
            return self.function_body(node, None, depth);
        }
        if depth > MAX_DEPTH {
            return Err(Error::new(format!(
                "DWARF nested deeper than {MAX_DEPTH} levels in unit {}",
                self.cu.name
            )));
        }
        let mut ch = node.children();
        while let Some(c) = ch.next().map_err(|e| gerr(e, "DIE tree"))? {
            let tag = c.entry().tag();
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
    /// Records the type number of the DIE at `die` (ignored outside the unit).
    fn set_type_id(&mut self, die: usize, id: u32) {
        if let Some(slot) = die
            .checked_sub(self.unit_start)
            .and_then(|i| self.type_ids.get_mut(i))
        {
            *slot = id;
        }
    }

    /// Looks a DIE up as a type of this unit: its number, or 0.
    pub fn type_id(&self, r: Ref) -> u32 {
        match r {
            Ref::None => 0,
            Ref::Id(n) => n,
            Ref::Die(o) => o
                .checked_sub(self.unit_start)
                .and_then(|i| self.type_ids.get(i))
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
                    let n = dims.iter().fold(1u64, |a, &d| a.wrapping_mul(u64::from(d)));
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
            let mut fixed = Vec::new();
            for (mi, m) in members.iter().enumerate() {
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
            if let TypeKind::Struct { members, .. } = &mut self.types[i].kind {
                for (mi, off) in fixed {
                    members[mi].bit_offset = off;
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
            let mut params = std::mem::take(&mut self.functions[i].params);
            for p in &mut params {
                if let Some(o) = p.origin {
                    if let Some((name, ty)) = self.params.get(&o) {
                        p.name = *name;
                        p.ty = *ty;
                    }
                }
            }
            self.functions[i].params = params;
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
