//! BTF from decoded units, by pahole 1.24's `btf_encoder__encode_cu` rules.
//!
//! Per unit, in this order: every type of the unit's table in number order
//! (one BTF type each, so BTF id = unit offset + table number), the `int`
//! array index type if an array needed one and none exists yet, the
//! `btf_decl_tag`s of structs, unions and typedefs, the functions, the
//! per-CPU variables. After the last unit, the `.data..percpu` DATASEC.

use btf::types::{self, Composite, Enum, Enum64, Enum64Value, EnumValue, Member};
use btf::{Builder, Error, Result, StrOff, Type, TypeData, TypeId};

use crate::dwarf::{Cu, TypeKind, Variable};
use crate::elf::{ElfInfo, PERCPU_SECTION};
use crate::Options;

/// The state pahole keeps in its `btf_encoder` across units.
pub struct Encoder<'o> {
    b: Builder,
    opts: &'o Options,
    has_index_type: bool,
    need_index_type: bool,
    array_index_id: u32,
    /// ELF function names (sorted) and whether a FUNC was made for each.
    functions: Vec<(String, bool)>,
    secinfo: Vec<types::VarSecInfo>,
    /// Messages for `-V`.
    pub log: Vec<String>,
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

impl<'o> Encoder<'o> {
    /// A new encoder for the file whose ELF side is `elf`.
    pub fn new(opts: &'o Options, elf: &ElfInfo<'_>) -> Self {
        let mut b = match &opts.base {
            Some(base) => Builder::new_split(base.clone()),
            None => Builder::new(),
        };
        b.set_endian(elf.endian);
        Encoder {
            b,
            opts,
            has_index_type: false,
            need_index_type: false,
            array_index_id: 0,
            functions: elf.functions.iter().map(|n| (n.clone(), false)).collect(),
            secinfo: Vec::new(),
            log: Vec::new(),
        }
    }

    fn name(&mut self, n: &Option<String>) -> StrOff {
        match n {
            Some(s) => self.b.add_str(s),
            None => StrOff::EMPTY,
        }
    }

    fn add(&mut self, name_off: StrOff, kind_flag: bool, data: TypeData) -> u32 {
        self.b
            .add_type(Type {
                name_off,
                kind_flag,
                data,
            })
            .0
    }

    fn required_name(&mut self, n: &Option<String>, what: &str, cu: &Cu) -> Result<StrOff> {
        match n {
            Some(s) if !s.is_empty() => Ok(self.b.add_str(s)),
            _ => Err(Error::new(format!(
                "unit '{}': {what} without a name cannot be encoded (libbpf rejects it)",
                cu.name
            ))),
        }
    }

    /// Encodes one unit.
    pub fn encode_cu(&mut self, cu: &Cu, elf: &ElfInfo<'_>) -> Result<()> {
        let off = self.b.next_id().0 - 1;
        let rid = |r: u32| if r == 0 { 0 } else { off + r };
        if !self.has_index_type {
            let int = cu.types.iter().position(
                |t| matches!(&t.kind, TypeKind::Base { name: Some(n), .. } if n == "int"),
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
                } => self.base_type(cu, name, *bits, *encoding)?,
                TypeKind::Ptr => {
                    self.add(StrOff::EMPTY, false, TypeData::Ptr(TypeId(target)));
                }
                TypeKind::Const => {
                    self.add(StrOff::EMPTY, false, TypeData::Const(TypeId(target)));
                }
                TypeKind::Volatile => {
                    self.add(StrOff::EMPTY, false, TypeData::Volatile(TypeId(target)));
                }
                TypeKind::Restrict => {
                    self.add(StrOff::EMPTY, false, TypeData::Restrict(TypeId(target)));
                }
                TypeKind::Typedef(name) => {
                    let n = self.required_name(name, "typedef", cu)?;
                    self.add(n, false, TypeData::Typedef(TypeId(target)));
                }
                TypeKind::TypeTag(value) => {
                    let n = self.required_name(&Some(value.clone()), "btf_type_tag", cu)?;
                    self.add(n, false, TypeData::TypeTag(TypeId(target)));
                }
                TypeKind::Struct {
                    union,
                    name,
                    size,
                    declaration,
                    members,
                } => {
                    if *declaration {
                        let n = self.required_name(name, "forward declaration", cu)?;
                        self.add(n, *union, TypeData::Fwd);
                        continue;
                    }
                    let name_off = self.name(name);
                    let mut ms = Vec::new();
                    let mut kind_flag = false;
                    for m in members.iter().filter(|m| m.is_member) {
                        let bitfield = m.bitfield_size != 0 || m.bit_offset % 8 != 0;
                        if bitfield && (m.bitfield_size > 255 || m.bit_offset >= 1 << 24) {
                            return Err(Error::new(format!(
                                "unit '{}': member {:?} of type {id}: bitfield size {} or offset {} too large for BTF",
                                cu.name, m.name, m.bitfield_size, m.bit_offset
                            )));
                        }
                        if *union && m.bit_offset != 0 {
                            return Err(Error::new(format!(
                                "unit '{}': union member {:?} at bit offset {} (libbpf allows only 0)",
                                cu.name, m.name, m.bit_offset
                            )));
                        }
                        kind_flag |= bitfield;
                        let mname = self.name(&m.name);
                        ms.push(Member {
                            name_off: mname,
                            ty: TypeId(off + cu.type_id(m.ty)),
                            offset: m.bit_offset | m.bitfield_size << 24,
                        });
                    }
                    let c = Composite {
                        size: *size as u32,
                        members: ms,
                    };
                    let data = if *union {
                        TypeData::Union(c)
                    } else {
                        TypeData::Struct(c)
                    };
                    self.add(name_off, kind_flag, data);
                }
                TypeKind::Enum {
                    name,
                    bits,
                    signed,
                    values,
                } => self.enumeration(cu, name, *bits, *signed, values)?,
                TypeKind::Array(dims) => {
                    self.need_index_type = true;
                    let mut n: u32 = 1;
                    for d in dims.iter().rev() {
                        n = n.wrapping_mul(*d);
                    }
                    self.add(
                        StrOff::EMPTY,
                        false,
                        TypeData::Array(types::Array {
                            elem: TypeId(target),
                            index: TypeId(self.array_index_id),
                            nelems: n,
                        }),
                    );
                }
                TypeKind::Proto { params, varargs } => {
                    let ps: Vec<(Option<String>, u32)> = params
                        .iter()
                        .map(|p| (p.name.clone(), rid(cu.type_id(p.ty))))
                        .collect();
                    self.proto(target, &ps, *varargs);
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
            debug_assert_eq!(self.b.next_id().0 - 1, off + id);
        }
        if self.need_index_type && !self.has_index_type {
            let n = self.b.add_str("int");
            self.add(
                n,
                false,
                TypeData::Int(types::Int {
                    size: 4,
                    encoding: types::INT_SIGNED,
                    offset: 0,
                    bits: 32,
                    unused: 0,
                }),
            );
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
        self.encode_functions(cu, off)?;
        if !self.opts.skip_encoding_vars {
            self.encode_variables(cu, elf, off)?;
        }
        Ok(())
    }

    fn decl_tag(&mut self, cu: &Cu, value: &str, target: u32, idx: i32) -> Result<()> {
        let n = self.required_name(&Some(value.to_string()), "btf_decl_tag", cu)?;
        self.add(
            n,
            false,
            TypeData::DeclTag(types::DeclTag {
                ty: TypeId(target),
                component_idx: idx,
            }),
        );
        Ok(())
    }

    fn proto(&mut self, ret: u32, params: &[(Option<String>, u32)], varargs: bool) -> u32 {
        let mut ps = Vec::with_capacity(params.len() + 1);
        for (name, ty) in params {
            let n = self.name(name);
            ps.push(types::Param {
                name_off: n,
                ty: TypeId(*ty),
            });
        }
        if varargs {
            ps.push(types::Param {
                name_off: StrOff::EMPTY,
                ty: TypeId(0),
            });
        }
        self.add(
            StrOff::EMPTY,
            false,
            TypeData::FuncProto(types::FuncProto {
                ret: TypeId(ret),
                params: ps,
            }),
        )
    }

    fn base_type(
        &mut self,
        cu: &Cu,
        name: &Option<String>,
        bits: u64,
        encoding: u64,
    ) -> Result<()> {
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
                        "unit '{}': complex, interval and imaginary float types are not supported ({:?})",
                        cu.name, name
                    )));
                }
                let n = self.required_name(name, "float type", cu)?;
                if !matches!(byte_sz, 2 | 4 | 8 | 12 | 16) {
                    return Err(Error::new(format!(
                        "unit '{}': float {:?} of {byte_sz} bytes cannot be encoded",
                        cu.name, name
                    )));
                }
                self.add(
                    n,
                    false,
                    TypeData::Float(types::Float {
                        size: byte_sz as u32,
                    }),
                );
                return Ok(());
            }
            0
        };
        let mut name = name.clone();
        if byte_sz == 0 || byte_sz & (byte_sz - 1) != 0 {
            name = Some("__SANITIZED_FAKE_INT__".to_string());
            byte_sz = 4;
        }
        if byte_sz > 16 {
            return Err(Error::new(format!(
                "unit '{}': base type {:?} of {byte_sz} bytes cannot be encoded as INT",
                cu.name, name
            )));
        }
        let n = self.required_name(&name, "base type", cu)?;
        self.add(
            n,
            false,
            TypeData::Int(types::Int {
                size: byte_sz as u32,
                encoding: enc,
                offset: 0,
                bits: (byte_sz * 8) as u8,
                unused: 0,
            }),
        );
        Ok(())
    }

    fn enumeration(
        &mut self,
        cu: &Cu,
        name: &Option<String>,
        bits: u64,
        signed: bool,
        values: &[(Option<String>, u64)],
    ) -> Result<()> {
        let size = bits.div_ceil(8);
        let _ = bits;
        let name_off = self.name(name);
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(Error::new(format!(
                "unit '{}': enum {:?} of {size} bytes cannot be encoded",
                cu.name, name
            )));
        }
        let skip64 = self.opts.skip_encoding_enum64;
        let is_enum32 = size <= 4 || skip64;
        let mut kind_flag = if is_enum32 { false } else { signed };
        if is_enum32 {
            let mut vs = Vec::with_capacity(values.len());
            for (n, v) in values {
                let value: i64 = if skip64 {
                    i64::from(*v as u32)
                } else {
                    *v as i64
                };
                if value < i64::from(i32::MIN) || value > i64::from(u32::MAX) {
                    return Err(Error::new(format!(
                        "unit '{}': enumerator {:?} value {value} out of range for a 32-bit enum",
                        cu.name, n
                    )));
                }
                if value < 0 {
                    kind_flag = true;
                }
                let no = self.required_name(n, "enumerator", cu)?;
                vs.push(EnumValue {
                    name_off: no,
                    val: value as u32,
                });
            }
            self.add(
                name_off,
                kind_flag,
                TypeData::Enum(Enum {
                    size: size as u32,
                    values: vs,
                }),
            );
        } else {
            let mut vs = Vec::with_capacity(values.len());
            for (n, v) in values {
                let no = self.required_name(n, "enumerator", cu)?;
                vs.push(Enum64Value {
                    name_off: no,
                    val: *v,
                });
            }
            self.add(
                name_off,
                kind_flag,
                TypeData::Enum64(Enum64 {
                    size: size as u32,
                    values: vs,
                }),
            );
        }
        Ok(())
    }

    fn encode_functions(&mut self, cu: &Cu, off: u32) -> Result<()> {
        let rid = |r: u32| if r == 0 { 0 } else { off + r };
        for f in &cu.functions {
            if f.declaration {
                continue;
            }
            if f.params.iter().any(|p| p.name.is_none()) {
                if self.opts.verbose {
                    self.log.push(format!(
                        "function {:?}: skipped, a parameter has no name",
                        f.name
                    ));
                }
                continue;
            }
            if !self.functions.is_empty() {
                let Some(name) = &f.name else {
                    continue;
                };
                match self
                    .functions
                    .binary_search_by(|(n, _)| n.as_str().cmp(name))
                {
                    Ok(i) if !self.functions[i].1 => self.functions[i].1 = true,
                    Ok(_) => continue,
                    Err(_) => {
                        if self.opts.verbose {
                            self.log.push(format!(
                                "function '{name}': skipped, no ELF function symbol"
                            ));
                        }
                        continue;
                    }
                }
            } else if !f.external {
                continue;
            }
            let ps: Vec<(Option<String>, u32)> = f
                .params
                .iter()
                .map(|p| (p.name.clone(), rid(cu.type_id(p.ty))))
                .collect();
            let proto = self.proto(rid(cu.type_id(f.ret)), &ps, f.varargs);
            let n = self.required_name(&f.name, "function", cu)?;
            let id = self.add(
                n,
                false,
                TypeData::Func(types::Func {
                    proto: TypeId(proto),
                    linkage: types::linkage::STATIC as u16,
                }),
            );
            for (value, idx) in &f.annots {
                self.decl_tag(cu, value, id, *idx)?;
            }
        }
        Ok(())
    }

    fn encode_variables(&mut self, cu: &Cu, elf: &ElfInfo<'_>, off: u32) -> Result<()> {
        let Some(percpu) = elf.percpu else {
            return Ok(());
        };
        if !elf.has_symtab {
            return Ok(());
        }
        let by_die: std::collections::HashMap<usize, &Variable> =
            cu.variables.iter().map(|v| (v.die, v)).collect();
        for v in &cu.variables {
            let spec = v.specification.and_then(|s| by_die.get(&s).copied());
            if v.declaration && spec.is_none() {
                continue;
            }
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
            if addr == 0 && v.name.as_deref() != Some(sym.name.as_str()) {
                continue;
            }
            let var = spec.unwrap_or(v);
            let ty = cu.type_id(var.ty);
            if ty == 0 {
                if self.opts.force {
                    continue;
                }
                return Err(Error::new(format!(
                    "found variable '{}' in CU '{}' that has void type",
                    sym.name, cu.name
                )));
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
            let n = self.b.add_str(&sym.name);
            let id = self.add(
                n,
                false,
                TypeData::Var(types::Var {
                    ty: TypeId(off + ty),
                    linkage,
                }),
            );
            for (value, idx) in &var.annots {
                self.decl_tag(cu, value, id, *idx)?;
            }
            self.secinfo.push(types::VarSecInfo {
                ty: TypeId(id),
                offset: offset as u32,
                size: sym.size as u32,
            });
        }
        Ok(())
    }

    /// Adds the DATASEC and returns the (not yet deduplicated) BTF, or `None`
    /// when there is nothing to encode.
    pub fn finish(mut self) -> Result<Option<btf::Btf>> {
        if !self.secinfo.is_empty() {
            let mut vars = std::mem::take(&mut self.secinfo);
            vars.sort_by_key(|v| v.offset);
            let last = vars[vars.len() - 1];
            let size = last.offset.wrapping_add(last.size);
            let n = self.b.add_str(PERCPU_SECTION);
            self.add(n, false, TypeData::Datasec(types::Datasec { size, vars }));
        }
        if self.b.types().is_empty() {
            return Ok(None);
        }
        self.b.finish().map(Some)
    }
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
