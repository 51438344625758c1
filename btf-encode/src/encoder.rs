//! BTF from decoded units, by pahole 1.24's `btf_encoder__encode_cu` rules.
//!
//! Per unit, in this order: every type of the unit's table in number order
//! (one BTF type each, so BTF id = unit offset + table number), the `int`
//! array index type if an array needed one and none exists yet, the
//! `btf_decl_tag`s of structs, unions and typedefs, the functions, the
//! per-CPU variables. After the last unit, the `.data..percpu` DATASEC.
//!
//! The types are written straight as raw BTF records (the core's
//! [`btf::format`] layout) into one word table with a deduplicating string
//! table beside it: no per-type model is built, which keeps the peak memory
//! of a vmlinux run at the size of the raw pre-dedup BTF. The table goes to
//! dedup as words ([`btf_dedup::dedup_words`]), or through the core parser
//! ([`btf::read::raw::from_words`]), which checks every reference.

use btf::format::make_info;
use btf::types::{self, VarSecInfo};
use btf::{Error, Kind, Result, StringTable};

use crate::dwarf::{name_bytes, Cu, Name, Str, TypeKind, Variable};
use crate::elf::{ElfInfo, PERCPU_SECTION};
use crate::Options;

/// The state pahole keeps in its `btf_encoder` across units.
pub struct Encoder<'o, 'd> {
    /// The raw type records written so far (own types only).
    words: Vec<u32>,
    /// The own string section.
    strs: StringTable,
    /// Offsets already handed out, by the address and length of the name
    /// bytes: names are slices of the input's sections, and a name read
    /// again from the same `.debug_str` entry (every unit that includes a
    /// header does) is found without hashing or comparing its bytes. Equal
    /// bytes at two addresses still meet in `strs`.
    by_addr: btf::hash::FastMap<(usize, usize), u32>,
    /// The input's `.debug_str`, where most names lie.
    debug_str: &'d [u8],
    /// Offsets already handed out for whole `.debug_str` strings, by their
    /// offset there: no hashing of the bytes for the names most records
    /// carry, and for lazy names ([`Str`]) not even a look at them. A map
    /// rather than a table by offset: a few thousand strings of a few
    /// megabytes of `.debug_str` are used, and the map stays in cache where
    /// the table (four bytes per byte) did not. A name is taken as the string at
    /// offset `a` only if its bytes lie there and end at a NUL, so a cut
    /// name (an ELF symbol up to its first `.`) or a name from another
    /// section goes to `by_addr`.
    by_str_off: btf::hash::FastMap<u32, u32>,
    /// The first own id (1, or the base's type count for split BTF).
    first_id: u32,
    /// The id the next type gets.
    next_id: u32,
    opts: &'o Options,
    has_index_type: bool,
    need_index_type: bool,
    array_index_id: u32,
    /// ELF function names (sorted) and whether a FUNC was made for each.
    functions: Vec<(String, bool)>,
    /// The index in `functions` of the name at a `.debug_str` offset
    /// (`u32::MAX`: none), for names seen before: most functions of a unit
    /// are the headers' inline functions every unit has again.
    function_by_str_off: btf::hash::FastMap<usize, u32>,
    secinfo: Vec<VarSecInfo>,
    /// pahole 1.31's rules: the functions saved for [`Encoder::finish`].
    func_states: Vec<FuncState>,
    /// How many of `func_states` have their match keys (see
    /// [`Encoder::seal_saved_functions`]).
    sealed: usize,
    /// The id of the first record in `words` (`first_id` until
    /// [`Encoder::take_words`] hands records out).
    words_first_id: u32,
    /// pahole 1.31's variables: section index to its variables.
    datasecs: std::collections::BTreeMap<usize, Vec<VarSecInfo>>,
    /// pahole 1.31's function table (ELF functions by cut name).
    function_table: Vec<crate::elf::ElfFunction>,
    /// Section names by index (pahole 1.31's variables).
    section_names: Vec<String>,
    /// Messages for `-V`.
    pub log: Vec<String>,
}

/// One instance of a function, saved by pahole 1.31's rules until the last
/// unit (its `btf_encoder_func_state`).
struct FuncState {
    /// Index in the function table.
    elf: usize,
    /// Return type id.
    ret: u32,
    /// Parameters (name offset, type id); `...` is (0, 0).
    params: Vec<(u32, u32)>,
    /// `btf_decl_tag`s (value offset, component index).
    annots: Vec<(u32, i32)>,
    unexpected_reg: bool,
    uncertain_parm_loc: bool,
    /// The match keys of the return type and of each parameter's type, in
    /// that order (empty until sealed).
    keys: Vec<MatchKey>,
}

/// One step of a type as pahole's `types__match` walks it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum MatchStep {
    /// `void`, after this many consts.
    Void(u32),
    /// PTR, VOLATILE, RESTRICT or TYPE_TAG (by kind), followed.
    Follow(u8),
    /// An array of this many elements, followed to its element type.
    Array(u32),
    /// INT: size, encoding word, name.
    Int(u32, u32, Box<[u8]>),
    /// FLOAT: size, name.
    Float(u32, Box<[u8]>),
    /// TYPEDEF, STRUCT, UNION (a FWD as what it declares), ENUM, ENUM64: by
    /// kind and name.
    Named(u8, Box<[u8]>),
    /// FUNC_PROTO with this many parameters, followed to its return type.
    Proto(u32),
    /// Anything else: equal only to the same type id.
    Only(u32),
}

/// A type as pahole's `types__match` compares it: two types match exactly
/// when their keys are equal. Consts are left out of the key, since the
/// walk steps over a const on one side (but not before `void`: `const void`
/// and `void` differ, so a `Void` step counts the consts before it). A key
/// is computed while the type's records are still in the encoder's words,
/// so that the match after the last unit does not depend on whether a
/// streaming dedup has taken them meanwhile.
type MatchKey = Vec<MatchStep>;

/// What [`Encoder::finish`] hands out: the raw pre-dedup BTF.
pub struct RawBtf {
    /// Own type records, native words.
    pub words: Vec<u32>,
    /// Own string section.
    pub strings: Vec<u8>,
    /// Number of own types.
    pub count: u32,
}

const DW_ATE_BOOLEAN: u64 = 0x02;
const DW_ATE_FLOAT: u64 = 0x04;
const DW_ATE_SIGNED: u64 = 0x05;
const DW_ATE_SIGNED_CHAR: u64 = 0x06;
const DW_ATE_COMPLEX_FLOAT: u64 = 0x03;
const DW_ATE_IMAGINARY_FLOAT: u64 = 0x09;

fn tag_name(tag: u16) -> String {
    match gimli::DwTag(tag).static_string() {
        Some(s) => s.to_string(),
        None => format!("DW_TAG_{tag:#x}"),
    }
}

/// A name for messages.
fn show(n: Name<'_>) -> String {
    match n {
        Some(b) => format!("{:?}", String::from_utf8_lossy(b.bytes())),
        None => "(anonymous)".to_string(),
    }
}

impl<'o, 'd> Encoder<'o, 'd> {
    /// A new encoder for the file whose ELF side is `elf`.
    pub fn new(opts: &'o Options, elf: &'d ElfInfo<'_>) -> Self {
        let (first_id, str_start) = btf::Btf::own_starts(opts.base.as_deref());
        let strs = match &opts.base {
            Some(_) => StringTable::new_split(str_start),
            None => StringTable::new(),
        };
        let debug_str = elf.section(".debug_str").unwrap_or(&[]);
        Encoder {
            words: Vec::new(),
            strs,
            by_addr: btf::hash::FastMap::default(),
            debug_str,
            by_str_off: btf::hash::FastMap::default(),
            first_id,
            next_id: first_id,
            opts,
            has_index_type: false,
            need_index_type: false,
            array_index_id: 0,
            functions: elf.functions.iter().map(|n| (n.clone(), false)).collect(),
            function_by_str_off: btf::hash::FastMap::default(),
            secinfo: Vec::new(),
            func_states: Vec::new(),
            sealed: 0,
            words_first_id: first_id,
            datasecs: Default::default(),
            function_table: elf.function_table.clone(),
            section_names: if opts.global_var {
                elf.section_headers.iter().map(|s| s.name.clone()).collect()
            } else {
                Vec::new()
            },
            log: Vec::new(),
        }
    }

    /// Where `p` lies in `.debug_str` (a value at or past its length for a
    /// pointer elsewhere).
    fn debug_str_off(&self, p: *const u8) -> usize {
        (p as usize).wrapping_sub(self.debug_str.as_ptr() as usize)
    }

    /// The string table offset of a name, 0 for none or the empty one.
    fn name(&mut self, n: Name<'_>) -> u32 {
        match n {
            Some(s) => self.intern_str(s),
            None => 0,
        }
    }

    /// [`Self::intern`] of a [`Str`], 0 for the empty string. A lazy
    /// `.debug_str` string already handed out is found by its offset
    /// without reading its bytes.
    fn intern_str(&mut self, s: Str<'_>) -> u32 {
        if s.is_lazy() {
            let a = self.debug_str_off(s.start());
            if let Some(&o) = u32::try_from(a).ok().and_then(|a| self.by_str_off.get(&a)) {
                return o;
            }
        }
        match s.bytes() {
            [] => 0,
            b => self.intern(b),
        }
    }

    fn intern(&mut self, s: &[u8]) -> u32 {
        let a = self.debug_str_off(s.as_ptr());
        let whole = a < self.debug_str.len().min(u32::MAX as usize)
            && a.checked_add(s.len())
                .and_then(|end| self.debug_str.get(end))
                == Some(&0);
        if whole {
            let a = a as u32;
            if let Some(&o) = self.by_str_off.get(&a) {
                return o;
            }
            let o = self.strs.add(s).0;
            self.by_str_off.insert(a, o);
            return o;
        }
        let key = (s.as_ptr() as usize, s.len());
        if let Some(&o) = self.by_addr.get(&key) {
            return o;
        }
        let o = self.strs.add(s).0;
        self.by_addr.insert(key, o);
        o
    }

    /// Writes one record head (name, info, size-or-type) and returns the id.
    fn head(
        &mut self,
        name_off: u32,
        kind: Kind,
        vlen: usize,
        kind_flag: bool,
        st: u32,
    ) -> Result<u32> {
        if vlen > btf::builder::MAX_VLEN as usize {
            return Err(Error::new(format!(
                "type [{}] ({kind:?}) has {vlen} members, enumerators or parameters: BTF holds at most {}",
                self.next_id,
                btf::builder::MAX_VLEN
            )));
        }
        self.words
            .extend_from_slice(&[name_off, make_info(kind, vlen as u32, kind_flag), st]);
        let id = self.next_id;
        self.next_id += 1;
        Ok(id)
    }

    fn required_name(&mut self, n: Name<'_>, what: &str, cu: &Cu<'_>) -> Result<u32> {
        match self.name(n) {
            0 => Err(Error::new(format!(
                "unit '{}': {what} without a name cannot be encoded (libbpf rejects it)",
                cu.name
            ))),
            o => Ok(o),
        }
    }

    /// Encodes one unit.
    pub fn encode_cu(&mut self, cu: &Cu<'_>, elf: &ElfInfo<'_>) -> Result<()> {
        let off = self.next_id - 1;
        let rid = |r: u32| if r == 0 { 0 } else { off + r };
        if !self.has_index_type {
            let int = cu.types.iter().position(
                |t| matches!(&t.kind, TypeKind::Base { name: Some(n), .. } if n.bytes() == b"int"),
            );
            match int {
                Some(i) => {
                    self.has_index_type = true;
                    self.array_index_id = off + i as u32 + 1;
                }
                None => {
                    self.has_index_type = false;
                    self.array_index_id = off + cu.types.len() as u32 + 1;
                }
            }
        }
        for (i, t) in cu.types.iter().enumerate() {
            let id = i as u32 + 1;
            let target = rid(cu.type_id(t.ty));
            match &t.kind {
                TypeKind::Base {
                    name,
                    bits,
                    encoding,
                } => self.base_type(cu, *name, *bits, *encoding)?,
                TypeKind::Ptr => {
                    self.head(0, Kind::Ptr, 0, false, target)?;
                }
                TypeKind::Const => {
                    self.head(0, Kind::Const, 0, false, target)?;
                }
                TypeKind::Volatile => {
                    self.head(0, Kind::Volatile, 0, false, target)?;
                }
                TypeKind::Restrict => {
                    self.head(0, Kind::Restrict, 0, false, target)?;
                }
                TypeKind::Typedef(name) => {
                    let n = self.required_name(*name, "typedef", cu)?;
                    self.head(n, Kind::Typedef, 0, false, target)?;
                }
                TypeKind::TypeTag(value) => {
                    let n = self.required_name(Some(Str::new(value)), "btf_type_tag", cu)?;
                    self.head(n, Kind::TypeTag, 0, false, target)?;
                }
                TypeKind::Struct {
                    union,
                    name,
                    size,
                    declaration,
                    members,
                } => {
                    if *declaration {
                        let n = self.required_name(*name, "forward declaration", cu)?;
                        self.head(n, Kind::Fwd, 0, *union, 0)?;
                        continue;
                    }
                    let name_off = self.name(*name);
                    let mut kind_flag = false;
                    let mut n = 0usize;
                    for m in members.of(&cu.members).iter().filter(|m| m.is_member) {
                        let bitfield = m.bitfield_size != 0 || m.bit_offset % 8 != 0;
                        if bitfield && (m.bitfield_size > 255 || m.bit_offset >= 1 << 24) {
                            return Err(Error::new(format!(
                                "unit '{}': member {} of type {id}: bitfield size {} or offset {} too large for BTF",
                                cu.name, show(m.name), m.bitfield_size, m.bit_offset
                            )));
                        }
                        if *union && m.bit_offset != 0 {
                            return Err(Error::new(format!(
                                "unit '{}': union member {} at bit offset {} (libbpf allows only 0)",
                                cu.name, show(m.name), m.bit_offset
                            )));
                        }
                        kind_flag |= bitfield;
                        n += 1;
                    }
                    let kind = if *union { Kind::Union } else { Kind::Struct };
                    self.head(name_off, kind, n, kind_flag, *size as u32)?;
                    for m in members.of(&cu.members).iter().filter(|m| m.is_member) {
                        let mname = self.name(m.name);
                        let offset = m.bit_offset | m.bitfield_size << 24;
                        self.words
                            .extend_from_slice(&[mname, off + cu.type_id(m.ty), offset]);
                    }
                }
                TypeKind::Enum {
                    name,
                    bits,
                    signed,
                    values,
                } => self.enumeration(cu, *name, *bits, *signed, values.of(&cu.values))?,
                TypeKind::Array(dims) => {
                    self.need_index_type = true;
                    let mut n: u32 = 1;
                    for d in dims.of(&cu.dims).iter().rev() {
                        n = n.wrapping_mul(*d);
                    }
                    self.head(0, Kind::Array, 0, false, 0)?;
                    self.words
                        .extend_from_slice(&[target, self.array_index_id, n]);
                }
                TypeKind::Proto { params, varargs } => {
                    self.proto(cu, off, target, params.of(&cu.proto_params), *varargs)?;
                }
                TypeKind::Unsupported(tag) => {
                    return Err(Error::new(format!(
                        "unit '{}': unsupported {} ({:#x}), as in pahole 1.24",
                        cu.name,
                        tag_name(*tag),
                        tag
                    )))
                }
            }
            debug_assert_eq!(self.next_id - 1, off + id);
        }
        if self.need_index_type && !self.has_index_type {
            let n = self.strs.add(b"int").0;
            self.int(n, 4, types::INT_SIGNED)?;
            self.has_index_type = true;
        }
        // Decl tags of structs, unions and typedefs.
        for (i, t) in cu.types.iter().enumerate() {
            let is_target = matches!(t.kind, TypeKind::Struct { .. } | TypeKind::Typedef(_));
            if !is_target {
                continue;
            }
            for (value, idx) in &t.annots {
                self.decl_tag(cu, value, off + i as u32 + 1, *idx)?;
            }
        }
        if self.opts.new_functions {
            self.save_functions(cu, crate::dwarf::register_params(elf.machine).len(), off)?;
        } else {
            self.encode_functions(cu, elf, off)?;
        }
        if self.opts.global_var {
            self.encode_global_variables(cu, elf, off)?;
        } else if !self.opts.skip_encoding_vars {
            self.encode_variables(cu, elf, off)?;
        }
        Ok(())
    }

    /// The `bpf_kfunc` (and `bpf_fastcall`) DECL_TAGs of FUNC `id` when its
    /// name is a kfunc (`decl_tag_kfuncs`).
    fn kfunc_tags(&mut self, elf_index: Option<usize>, id: u32) -> Result<()> {
        if !self.opts.tag_kfuncs || self.opts.skip_encoding_decl_tag {
            return Ok(());
        }
        let Some(flags) = elf_index.and_then(|i| self.function_table.get(i)?.kfunc) else {
            return Ok(());
        };
        let n = self.strs.add(b"bpf_kfunc").0;
        self.head(n, Kind::DeclTag, 0, false, id)?;
        self.words.push(u32::MAX);
        if flags & crate::kfuncs::KF_FASTCALL != 0 {
            let n = self.strs.add(b"bpf_fastcall").0;
            self.head(n, Kind::DeclTag, 0, false, id)?;
            self.words.push(u32::MAX);
        }
        Ok(())
    }

    /// pahole 1.31's `btf_encoder__save_func` over the unit's functions.
    fn save_functions(&mut self, cu: &Cu<'_>, nr_regs: usize, off: u32) -> Result<()> {
        let rid = |r: u32| if r == 0 { 0 } else { off + r };
        for f in &cu.functions {
            if f.declaration || f.params.of(&cu.fn_params).iter().any(|p| p.name.is_none()) {
                continue;
            }
            let Some(name) = name_bytes(f.name) else {
                continue;
            };
            let Some(elf) = self
                .function_table
                .binary_search_by(|e| e.name.as_bytes().cmp(name))
                .ok()
            else {
                if self.opts.verbose {
                    self.log.push(format!(
                        "could not find function '{}' in the ELF functions table",
                        String::from_utf8_lossy(name)
                    ));
                }
                continue;
            };
            let unexpected_reg = f.params.of(&cu.fn_params).iter().any(|p| p.unexpected_reg)
                && !f
                    .params
                    .of(&cu.fn_params)
                    .iter()
                    .any(|p| param_is_struct(cu, cu.type_id(p.ty), 0));
            let uncertain_parm_loc = has_uncertain_arg_loc(cu, f, nr_regs);
            let mut params = Vec::with_capacity(f.params.len() + 1);
            for p in f.params.of(&cu.fn_params) {
                let n = self.name(p.name);
                params.push((n, rid(cu.type_id(p.ty))));
            }
            if f.varargs {
                params.push((0, 0));
            }
            let mut annots = Vec::with_capacity(f.annots.len());
            for (value, idx) in &f.annots {
                let n = self.required_name(Some(Str::new(value)), "btf_decl_tag", cu)?;
                annots.push((n, *idx));
            }
            self.func_states.push(FuncState {
                elf,
                ret: rid(cu.type_id(f.ret)),
                params,
                annots,
                unexpected_reg,
                uncertain_parm_loc,
                keys: Vec::new(),
            });
        }
        Ok(())
    }

    /// pahole 1.31's `btf_encoder__add_saved_funcs`: the saved instances
    /// sorted by name (stably: instances of a name in unit order), merged
    /// by name, the first instance of each added.
    fn add_saved_functions(&mut self) -> Result<()> {
        self.seal_saved_functions();
        let mut states = std::mem::take(&mut self.func_states);
        if states.is_empty() {
            return Ok(());
        }
        states.sort_by_key(|s| s.elf);
        let mut adds = Vec::new();
        let mut i = 0;
        while i < states.len() {
            let mut j = i + 1;
            let mut unexpected = states[i].unexpected_reg;
            let mut inconsistent = false;
            let mut uncertain = states[i].uncertain_parm_loc;
            while j < states.len() && states[j].elf == states[i].elf {
                unexpected |= states[j].unexpected_reg;
                uncertain |= states[j].uncertain_parm_loc;
                if !unexpected && !inconsistent && !funcs_match(&states[i], &states[j]) {
                    inconsistent = true;
                    if self.opts.verbose {
                        self.log.push(format!(
                            "function '{}': inconsistent prototypes across units",
                            self.function_table[states[i].elf].name
                        ));
                    }
                }
                j += 1;
            }
            let ambiguous = self.function_table[states[i].elf].ambiguous;
            let add = !self.opts.skip_inconsistent_proto
                || (!unexpected && !inconsistent && !uncertain && !ambiguous);
            if add {
                adds.push(i);
            } else if self.opts.verbose {
                let why = if unexpected {
                    "a parameter in an unexpected register"
                } else if inconsistent {
                    "inconsistent prototypes"
                } else if uncertain {
                    "uncertain parameter location"
                } else {
                    "symbols at more than one address"
                };
                self.log.push(format!(
                    "function '{}': skipped, {why}",
                    self.function_table[states[i].elf].name
                ));
            }
            i = j;
        }
        for i in adds {
            let st = &states[i];
            let proto = self.head(0, Kind::FuncProto, st.params.len(), false, st.ret)?;
            for &(n, t) in &st.params {
                self.words.extend_from_slice(&[n, t]);
            }
            let name = self.function_table[st.elf].name.clone();
            let n = self.strs.add(name.as_bytes()).0;
            let id = self.head(n, Kind::Func, types::linkage::STATIC as usize, false, proto)?;
            self.kfunc_tags(Some(st.elf), id)?;
            for &(v, idx) in &st.annots {
                self.head(v, Kind::DeclTag, 0, false, id)?;
                self.words.push(idx as u32);
            }
        }
        Ok(())
    }

    /// Computes the match keys of the functions saved since the last call,
    /// while their units' records are in `words`: called before
    /// [`Encoder::take_words`] hands the records out, and at the end.
    fn seal_saved_functions(&mut self) {
        if self.sealed == self.func_states.len() {
            return;
        }
        let index = RawIndex::new(&self.words);
        for i in self.sealed..self.func_states.len() {
            let st = &self.func_states[i];
            let keys: Vec<MatchKey> = std::iter::once(st.ret)
                .chain(st.params.iter().map(|p| p.1))
                .map(|t| self.match_key(&index, t))
                .collect();
            self.func_states[i].keys = keys;
        }
        self.sealed = self.func_states.len();
    }

    /// A type of the BTF being built (own records, or the base's).
    fn view(&self, index: &RawIndex, id: u32) -> Option<View<'_>> {
        if id < self.first_id {
            let base = self.opts.base.as_deref()?;
            let t = base.type_by_id(btf::TypeId(id))?;
            let kind = t.kind() as u8;
            let (w1, nelems, vlen) = match &t.data {
                types::TypeData::Int(i) => (i.raw(), 0, 0),
                types::TypeData::Array(a) => (a.elem.0, a.nelems, 0),
                types::TypeData::FuncProto(p) => (0, 0, p.params.len() as u32),
                _ => (0, 0, 0),
            };
            return Some(View {
                kind,
                kind_flag: t.kind_flag,
                name: base.str_bytes(t.name_off).unwrap_or(b""),
                size_or_type: t.size().or(t.ref_type().map(|r| r.0)).unwrap_or(0),
                w1,
                nelems,
                vlen,
            });
        }
        let at = *index
            .offsets
            .get(id.checked_sub(self.words_first_id)? as usize)?;
        let w = |i: usize| self.words.get(at + i).copied().unwrap_or(0);
        let info = w(1);
        let kind = btf::format::info_kind(info);
        let name_off = w(0);
        let (_, str_start) = btf::Btf::own_starts(self.opts.base.as_deref());
        let name = if name_off == 0 {
            &b""[..]
        } else {
            let own = self.strs.bytes();
            let o = (name_off - str_start.min(name_off)) as usize;
            own.get(o..)
                .map(|r| &r[..r.iter().position(|&c| c == 0).unwrap_or(r.len())])
                .unwrap_or(b"")
        };
        let (w1, nelems) = if kind == Kind::Array as u8 {
            (w(3), w(5))
        } else {
            (w(3), 0)
        };
        Some(View {
            kind,
            kind_flag: btf::format::info_kflag(info),
            name,
            size_or_type: w(2),
            w1,
            nelems,
            vlen: btf::format::info_vlen(info),
        })
    }

    /// The [`MatchKey`] of type `a` (pahole's `types__match`, one side).
    fn match_key(&self, index: &RawIndex, mut a: u32) -> MatchKey {
        let mut key = Vec::new();
        let mut consts = 0;
        for _ in 0..4096 {
            if a == 0 {
                key.push(MatchStep::Void(consts));
                return key;
            }
            let Some(t) = self.view(index, a) else {
                key.push(MatchStep::Only(a));
                return key;
            };
            let k = t.fwd_kind();
            let name = || Box::<[u8]>::from(t.name);
            let step = match Kind::from_u8(k) {
                Some(Kind::Const) => {
                    consts += 1;
                    a = t.size_or_type;
                    continue;
                }
                Some(Kind::Int) => MatchStep::Int(t.size_or_type, t.w1, name()),
                Some(Kind::Float) => MatchStep::Float(t.size_or_type, name()),
                Some(Kind::Typedef | Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64) => {
                    MatchStep::Named(k, name())
                }
                Some(Kind::Ptr | Kind::Volatile | Kind::Restrict | Kind::TypeTag) => {
                    key.push(MatchStep::Follow(k));
                    consts = 0;
                    a = t.size_or_type;
                    continue;
                }
                Some(Kind::Array) => {
                    key.push(MatchStep::Array(t.nelems));
                    consts = 0;
                    a = t.w1;
                    continue;
                }
                Some(Kind::FuncProto) => {
                    key.push(MatchStep::Proto(t.vlen));
                    consts = 0;
                    a = t.size_or_type;
                    continue;
                }
                _ => MatchStep::Only(a),
            };
            key.push(step);
            return key;
        }
        key.push(MatchStep::Only(a));
        key
    }

    /// pahole 1.31's `btf_encoder__encode_cu_variables` (`global_var`):
    /// every top-level, non-artificial variable with a static address, in
    /// the section its address falls in.
    fn encode_global_variables(&mut self, cu: &Cu<'_>, elf: &ElfInfo<'_>, off: u32) -> Result<()> {
        if !elf.has_symtab {
            return Ok(());
        }
        for (v, spec) in defined_variables(cu) {
            if !v.top_level || v.artificial {
                continue;
            }
            let Some(addr) = v.addr else {
                continue;
            };
            let Some(shndx) = elf
                .section_headers
                .iter()
                .enumerate()
                .skip(1)
                .find(|(_, s)| {
                    s.data_or_bss && s.addr <= addr && addr.wrapping_sub(s.addr) < s.size
                })
                .map(|(i, _)| i)
            else {
                continue;
            };
            let offset = addr - elf.section_headers[shndx].addr;
            let var = spec.unwrap_or(v);
            let Some(name) = name_bytes(var.name) else {
                continue;
            };
            if filter_variable_name(name) {
                continue;
            }
            if offset == 0 && !elf.has_object(shndx, name) {
                continue;
            }
            let shown = String::from_utf8_lossy(name);
            if !crate::elf::btf_name_valid(&shown) {
                if self.opts.force {
                    continue;
                }
                return Err(Error::new(format!(
                    "found invalid variable name when encoding btf (sym: '{shown}'); \
                     use --btf_encode_force to ignore such symbols"
                )));
            }
            // The type is the variable's own (pahole reads `var->ip.tag.type`
            // after following the specification).
            let ty = cu.type_id(var.ty);
            if ty == 0 {
                if self.opts.force {
                    continue;
                }
                return Err(Error::new(format!(
                    "found variable '{shown}' in CU '{}' that has void type",
                    cu.name
                )));
            }
            let size = cu.size_of(ty);
            if size == 0 || size > u64::from(u32::MAX) || offset > u64::from(u32::MAX) {
                if self.opts.verbose {
                    self.log.push(format!(
                        "Ignoring variable '{shown}' (size {size}, offset {offset})"
                    ));
                }
                continue;
            }
            let linkage = if var.external {
                types::linkage::GLOBAL
            } else {
                types::linkage::STATIC
            };
            let n = self.intern(name);
            let id = self.head(n, Kind::Var, 0, false, off + ty)?;
            self.words.push(linkage);
            for (value, idx) in &var.annots {
                self.decl_tag(cu, value, id, *idx)?;
            }
            self.datasecs.entry(shndx).or_default().push(VarSecInfo {
                ty: btf::TypeId(id),
                offset: offset as u32,
                size: size as u32,
            });
        }
        Ok(())
    }

    fn decl_tag(&mut self, cu: &Cu<'_>, value: &[u8], target: u32, idx: i32) -> Result<()> {
        let n = self.required_name(Some(Str::new(value)), "btf_decl_tag", cu)?;
        self.head(n, Kind::DeclTag, 0, false, target)?;
        self.words.push(idx as u32);
        Ok(())
    }

    /// A FUNC_PROTO of the unit's parameters (type numbers of `cu`).
    fn proto(
        &mut self,
        cu: &Cu<'_>,
        unit_off: u32,
        ret: u32,
        params: &[crate::dwarf::Param<'_>],
        varargs: bool,
    ) -> Result<u32> {
        let id = self.head(
            0,
            Kind::FuncProto,
            params.len() + usize::from(varargs),
            false,
            ret,
        )?;
        for p in params {
            let n = self.name(p.name);
            let t = cu.type_id(p.ty);
            let t = if t == 0 { 0 } else { unit_off + t };
            self.words.extend_from_slice(&[n, t]);
        }
        if varargs {
            self.words.extend_from_slice(&[0, 0]);
        }
        Ok(id)
    }

    fn base_type(&mut self, cu: &Cu<'_>, name: Name<'_>, bits: u64, encoding: u64) -> Result<()> {
        let bits = bits as u16 as u64;
        let mut byte_sz = bits.div_ceil(8);
        let enc = if encoding == DW_ATE_SIGNED || encoding == DW_ATE_SIGNED_CHAR {
            types::INT_SIGNED
        } else if encoding == DW_ATE_BOOLEAN {
            types::INT_BOOL
        } else {
            let float = matches!(
                encoding,
                DW_ATE_FLOAT | DW_ATE_COMPLEX_FLOAT | DW_ATE_IMAGINARY_FLOAT
            );
            if float && self.opts.gen_floats {
                if encoding != DW_ATE_FLOAT {
                    return Err(Error::new(format!(
                        "unit '{}': complex, interval and imaginary float types are not supported ({})",
                        cu.name,
                        show(name)
                    )));
                }
                let n = self.required_name(name, "float type", cu)?;
                if !matches!(byte_sz, 2 | 4 | 8 | 12 | 16) {
                    return Err(Error::new(format!(
                        "unit '{}': float {} of {byte_sz} bytes cannot be encoded",
                        cu.name,
                        show(name)
                    )));
                }
                self.head(n, Kind::Float, 0, false, byte_sz as u32)?;
                return Ok(());
            }
            0
        };
        let mut name = name;
        if byte_sz == 0 || byte_sz & (byte_sz - 1) != 0 {
            name = Some(Str::new(b"__SANITIZED_FAKE_INT__"));
            byte_sz = 4;
        }
        if byte_sz > 16 {
            return Err(Error::new(format!(
                "unit '{}': base type {} of {byte_sz} bytes cannot be encoded as INT",
                cu.name,
                show(name)
            )));
        }
        let n = self.required_name(name, "base type", cu)?;
        self.int(n, byte_sz as u32, enc)
    }

    /// An INT of `size` bytes using all its bits, its trailing word packed
    /// by the core ([`types::Int::raw`]).
    fn int(&mut self, name_off: u32, size: u32, encoding: u8) -> Result<()> {
        self.head(name_off, Kind::Int, 0, false, size)?;
        let int = types::Int {
            size,
            encoding,
            offset: 0,
            bits: (size * 8) as u8,
            unused: 0,
        };
        self.words.push(int.raw());
        Ok(())
    }

    fn enumeration(
        &mut self,
        cu: &Cu<'_>,
        name: Name<'_>,
        bits: u64,
        signed: bool,
        values: &[(Name<'_>, u64)],
    ) -> Result<()> {
        let size = bits.div_ceil(8);
        let name_off = self.name(name);
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(Error::new(format!(
                "unit '{}': enum {} of {size} bytes cannot be encoded",
                cu.name,
                show(name)
            )));
        }
        let skip64 = self.opts.skip_encoding_enum64;
        let is_enum32 = size <= 4 || skip64;
        if is_enum32 {
            // Values checked (and the sign found) first, names interned in
            // enumerator order after the head: no list per enum.
            let value_of = |v: u64| -> i64 {
                if skip64 {
                    i64::from(v as u32)
                } else {
                    v as i64
                }
            };
            let mut kind_flag = false;
            for (n, v) in values {
                let value = value_of(*v);
                if value < i64::from(i32::MIN) || value > i64::from(u32::MAX) {
                    return Err(Error::new(format!(
                        "unit '{}': enumerator {} value {value} out of range for a 32-bit enum",
                        cu.name,
                        show(*n)
                    )));
                }
                kind_flag |= value < 0;
            }
            self.head(name_off, Kind::Enum, values.len(), kind_flag, size as u32)?;
            for (n, v) in values {
                let no = self.required_name(*n, "enumerator", cu)?;
                self.words.extend_from_slice(&[no, value_of(*v) as u32]);
            }
        } else {
            self.head(name_off, Kind::Enum64, values.len(), signed, size as u32)?;
            for (n, v) in values {
                let no = self.required_name(*n, "enumerator", cu)?;
                self.words
                    .extend_from_slice(&[no, *v as u32, (*v >> 32) as u32]);
            }
        }
        Ok(())
    }

    /// The index in `functions` of the ELF function `name`, as
    /// `binary_search` gives it.
    fn elf_function(&mut self, name: Str<'_>) -> std::result::Result<usize, usize> {
        let search =
            |fs: &[(String, bool)]| fs.binary_search_by(|(n, _)| n.as_bytes().cmp(name.bytes()));
        if !name.is_lazy() {
            return search(&self.functions);
        }
        let a = self.debug_str_off(name.start());
        if let Some(&i) = self.function_by_str_off.get(&a) {
            return if i == u32::MAX {
                Err(0)
            } else {
                Ok(i as usize)
            };
        }
        let r = search(&self.functions);
        self.function_by_str_off
            .insert(a, r.map_or(u32::MAX, |i| i as u32));
        r
    }

    fn encode_functions(&mut self, cu: &Cu<'_>, elf: &ElfInfo<'_>, off: u32) -> Result<()> {
        let rid = |r: u32| if r == 0 { 0 } else { off + r };
        for f in &cu.functions {
            if f.declaration {
                continue;
            }
            if f.params.of(&cu.fn_params).iter().any(|p| p.name.is_none()) {
                if self.opts.verbose {
                    self.log.push(format!(
                        "function {}: skipped, a parameter has no name",
                        show(f.name)
                    ));
                }
                continue;
            }
            if !self.functions.is_empty() {
                let Some(name) = f.name else {
                    continue;
                };
                match self.elf_function(name) {
                    Ok(i) if !self.functions[i].1 => self.functions[i].1 = true,
                    Ok(_) => continue,
                    Err(_) => {
                        if self.opts.verbose {
                            self.log.push(format!(
                                "function '{}': skipped, no ELF function symbol",
                                String::from_utf8_lossy(name.bytes())
                            ));
                        }
                        continue;
                    }
                }
            } else if !f.external {
                continue;
            }
            let proto = self.proto(
                cu,
                off,
                rid(cu.type_id(f.ret)),
                f.params.of(&cu.fn_params),
                f.varargs,
            )?;
            let n = self.required_name(f.name, "function", cu)?;
            let id = self.head(n, Kind::Func, types::linkage::STATIC as usize, false, proto)?;
            if self.opts.tag_kfuncs {
                let at = name_bytes(f.name).and_then(|n| elf.function(n));
                self.kfunc_tags(at, id)?;
            }
            for (value, idx) in &f.annots {
                self.decl_tag(cu, value, id, *idx)?;
            }
        }
        Ok(())
    }

    fn encode_variables(&mut self, cu: &Cu<'_>, elf: &ElfInfo<'_>, off: u32) -> Result<()> {
        let Some(percpu) = elf.percpu else {
            return Ok(());
        };
        if !elf.has_symtab {
            return Ok(());
        }
        for (v, spec) in defined_variables(cu) {
            if v.addr.is_none() && spec.is_none() {
                continue;
            }
            let addr = v.addr.unwrap_or(0);
            if addr < percpu.addr || addr >= percpu.addr.wrapping_add(percpu.size) {
                continue;
            }
            let offset = addr - percpu.addr;
            let Some(sym) = bsearch(&elf.percpu_vars, offset) else {
                continue;
            };
            if addr == 0 && name_bytes(v.name) != Some(sym.name.as_bytes()) {
                continue;
            }
            let var = spec.unwrap_or(v);
            let ty = cu.type_id(var.ty);
            if ty == 0 {
                // pahole 1.24 says so and, without --btf_encode_force, drops
                // this and the unit's remaining variables, yet goes on and
                // succeeds (its loop breaks into the success path).
                self.log.push(format!(
                    "error: found variable '{}' in CU '{}' that has void type",
                    sym.name, cu.name
                ));
                if self.opts.force {
                    continue;
                }
                break;
            }
            if cu.size_of(ty) == 0 {
                if self.opts.verbose {
                    self.log.push(format!(
                        "Ignoring zero-sized per-CPU variable '{}'...",
                        sym.name
                    ));
                }
                continue;
            }
            let linkage = if var.external {
                types::linkage::GLOBAL
            } else {
                types::linkage::STATIC
            };
            let n = self.strs.add(sym.name.as_bytes()).0;
            let id = self.head(n, Kind::Var, 0, false, off + ty)?;
            self.words.push(linkage);
            for (value, idx) in &var.annots {
                self.decl_tag(cu, value, id, *idx)?;
            }
            self.secinfo.push(VarSecInfo {
                ty: btf::TypeId(id),
                offset: offset as u32,
                size: sym.size as u32,
            });
        }
        Ok(())
    }

    /// The records written since the last call (the rest stay for
    /// [`Encoder::finish`]): for a dedup that takes them unit by unit.
    pub fn take_words(&mut self) -> Vec<u32> {
        self.seal_saved_functions();
        self.words_first_id = self.next_id;
        // The next piece is about as large: no regrowth from empty.
        let cap = self.words.len();
        std::mem::replace(&mut self.words, Vec::with_capacity(cap))
    }

    /// The own string section from byte `from` on, as it stands.
    pub fn strings_from(&self, from: usize) -> &[u8] {
        self.strs.bytes().get(from..).unwrap_or(&[])
    }

    /// The length of the own string section so far.
    pub fn strings_len(&self) -> usize {
        self.strs.bytes().len()
    }

    /// Adds the saved functions (pahole 1.31's rules) and the DATASECs and
    /// returns the raw (not yet deduplicated) BTF, or `None` when there is
    /// nothing to encode, with the `-V` messages. After
    /// [`Encoder::take_words`], the records are only those written since.
    pub fn finish(mut self) -> Result<(Option<RawBtf>, Vec<String>)> {
        self.add_saved_functions()?;
        let datasecs = std::mem::take(&mut self.datasecs);
        for (shndx, mut vars) in datasecs {
            // pahole's qsort by offset; equal offsets keep unit order here.
            vars.sort_by_key(|v| v.offset);
            let Some(last) = vars.last().copied() else {
                continue;
            };
            let size = last.offset.wrapping_add(last.size);
            let name = self.section_names.get(shndx).cloned().unwrap_or_default();
            let n = self.strs.add(name.as_bytes()).0;
            self.head(n, Kind::Datasec, vars.len(), false, size)?;
            for v in &vars {
                self.words.extend_from_slice(&[v.ty.0, v.offset, v.size]);
            }
        }
        if !self.secinfo.is_empty() {
            let mut vars = std::mem::take(&mut self.secinfo);
            vars.sort_by_key(|v| v.offset);
            let last = vars[vars.len() - 1];
            let size = last.offset.wrapping_add(last.size);
            let n = self.strs.add(PERCPU_SECTION.as_bytes()).0;
            self.head(n, Kind::Datasec, vars.len(), false, size)?;
            for v in &vars {
                self.words.extend_from_slice(&[v.ty.0, v.offset, v.size]);
            }
        }
        let log = std::mem::take(&mut self.log);
        if self.next_id == self.first_id {
            return Ok((None, log));
        }
        Ok((
            Some(RawBtf {
                words: self.words,
                strings: self.strs.into_bytes(),
                count: self.next_id - self.first_id,
            }),
            log,
        ))
    }
}

/// pahole's `funcs__match` on two sealed instances: the same number of
/// parameters, and the return and parameter types match.
fn funcs_match(a: &FuncState, b: &FuncState) -> bool {
    a.params.len() == b.params.len() && a.keys == b.keys
}

/// Where each own record starts in the word table.
struct RawIndex {
    offsets: Vec<usize>,
}

impl RawIndex {
    fn new(words: &[u32]) -> Self {
        let mut offsets = Vec::new();
        let mut at = 0;
        while at + 3 <= words.len() {
            let info = words[at + 1];
            let Some(n) = btf::format::record_words(
                btf::format::info_kind(info),
                btf::format::info_vlen(info),
            ) else {
                break;
            };
            offsets.push(at);
            at += n;
        }
        RawIndex { offsets }
    }
}

/// What [`Encoder::match_key`] looks at of one type.
struct View<'a> {
    kind: u8,
    kind_flag: bool,
    name: &'a [u8],
    size_or_type: u32,
    /// INT: its encoding word; ARRAY: the element type.
    w1: u32,
    nelems: u32,
    vlen: u32,
}

impl View<'_> {
    /// pahole's `fwd__kind`: a FWD counts as the kind it declares.
    fn fwd_kind(&self) -> u8 {
        if self.kind == Kind::Fwd as u8 {
            if self.kind_flag {
                Kind::Union as u8
            } else {
                Kind::Struct as u8
            }
        } else {
            self.kind
        }
    }
}

/// pahole's `param__is_struct`: a struct, or a const or typedef of one.
fn param_is_struct(cu: &Cu<'_>, id: u32, depth: usize) -> bool {
    let Some(t) = id.checked_sub(1).and_then(|i| cu.types.get(i as usize)) else {
        return false;
    };
    match &t.kind {
        TypeKind::Struct { union, .. } => !union,
        TypeKind::Const | TypeKind::Typedef(_) if depth < 64 => {
            param_is_struct(cu, cu.type_id(t.ty), depth + 1)
        }
        _ => false,
    }
}

/// pahole 1.31's `ftype__has_uncertain_arg_loc`: a named struct passed
/// by value after the register parameters that is packed.
fn has_uncertain_arg_loc(cu: &Cu<'_>, f: &crate::dwarf::Function<'_>, nr_regs: usize) -> bool {
    if f.params.len() < nr_regs {
        return false;
    }
    f.params.of(&cu.fn_params).iter().skip(nr_regs).any(|p| {
        let id = cu.type_id(p.ty);
        match id
            .checked_sub(1)
            .and_then(|i| cu.types.get(i as usize))
            .map(|t| &t.kind)
        {
            Some(TypeKind::Struct {
                union: false,
                name: Some(_),
                declaration: false,
                ..
            }) => is_packed(cu, id),
            _ => false,
        }
    })
}

/// The natural alignment of type `id` (pahole infers packing from it).
fn natural_align(cu: &Cu<'_>, id: u32, depth: usize) -> u64 {
    if depth > 64 {
        return 1;
    }
    let Some(t) = id.checked_sub(1).and_then(|i| cu.types.get(i as usize)) else {
        return 1;
    };
    match &t.kind {
        TypeKind::Base { bits, .. } | TypeKind::Enum { bits, .. } => bits.div_ceil(8).clamp(1, 16),
        TypeKind::Ptr => u64::from(cu.addr_size).max(1),
        TypeKind::Struct { members, .. } => members
            .of(&cu.members)
            .iter()
            .map(|m| natural_align(cu, cu.type_id(m.ty), depth + 1))
            .max()
            .unwrap_or(1),
        TypeKind::Const
        | TypeKind::Volatile
        | TypeKind::Restrict
        | TypeKind::Typedef(_)
        | TypeKind::TypeTag(_)
        | TypeKind::Array(_) => natural_align(cu, cu.type_id(t.ty), depth + 1),
        _ => 1,
    }
}

/// pahole's `class__infer_packed_attributes`, simplified: a struct is
/// packed when a (non-bitfield) member is not at a multiple of its
/// natural alignment, or its size is not a multiple of its alignment.
fn is_packed(cu: &Cu<'_>, id: u32) -> bool {
    let Some(TypeKind::Struct { members, size, .. }) = id
        .checked_sub(1)
        .and_then(|i| cu.types.get(i as usize))
        .map(|t| &t.kind)
    else {
        return false;
    };
    let mut max = 1;
    for m in members.of(&cu.members).iter().filter(|m| m.is_member) {
        let a = natural_align(cu, cu.type_id(m.ty), 0);
        max = max.max(a);
        if m.bitfield_size == 0 && (u64::from(m.bit_offset) / 8) % a != 0 {
            return true;
        }
    }
    *size % max != 0
}

/// pahole 1.31's `filter_variable_name`: prefixes of symbols with no
/// useful values.
fn filter_variable_name(name: &[u8]) -> bool {
    const SKIP: &[&[u8]] = &[
        b"__UNIQUE_ID",
        b"__tpstrtab_",
        b"__exitcall_",
        b"__gendwarfksyms_ptr_",
        b"__func_stack_frame_non_standard_",
    ];
    name.first() == Some(&b'_') && SKIP.iter().any(|p| name.starts_with(p))
}

/// A unit's variables with the DIE their `DW_AT_specification` names (if
/// any), declarations without one left out: where both of pahole's
/// variable encoders start.
fn defined_variables<'c, 'a>(
    cu: &'c Cu<'a>,
) -> impl Iterator<Item = (&'c Variable<'a>, Option<&'c Variable<'a>>)> + 'c {
    let by_die: btf::hash::FastMap<usize, &'c Variable<'a>> =
        cu.variables.iter().map(|v| (v.die, v)).collect();
    cu.variables.iter().filter_map(move |v| {
        let spec = v.specification.and_then(|s| by_die.get(&s).copied());
        (!v.declaration || spec.is_some()).then_some((v, spec))
    })
}

/// glibc's `bsearch` over the per-CPU symbols sorted by offset (which of
/// equal keys it finds is part of pahole's behaviour).
fn bsearch(v: &[crate::elf::PercpuSym], key: u64) -> Option<&crate::elf::PercpuSym> {
    let (mut l, mut u) = (0usize, v.len());
    while l < u {
        let idx = (l + u) / 2;
        let p = &v[idx];
        match key.cmp(&p.offset) {
            std::cmp::Ordering::Less => u = idx,
            std::cmp::Ordering::Greater => l = idx + 1,
            std::cmp::Ordering::Equal => return Some(p),
        }
    }
    None
}
