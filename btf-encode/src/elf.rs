//! The ELF side of the encoder: debug sections (inflated, relocated for
//! relocatable objects), the symbols pahole 1.24 filters functions and per-CPU
//! variables with.
//!
//! Relocatable objects (`.ko`, `.o`) are laid out the way libdwfl does before
//! pahole reads them: every `SHF_ALLOC` section gets its own address range,
//! from 0x10000 up in section order, and the relocations of the debug sections
//! are applied against those addresses. Non-allocated sections (the debug
//! sections themselves) stay at address 0, so offsets into `.debug_str` and
//! friends come out as plain offsets. The exact addresses do not reach the
//! output: per-CPU offsets are taken relative to the section's own address.

use std::borrow::Cow;

use btf::{Endian, Error, Result};
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget};

/// The name of the per-CPU data section.
pub const PERCPU_SECTION: &str = ".data..percpu";

/// Where libdwfl starts laying out a relocatable object.
const REL_LAYOUT_BASE: u64 = 0x10000;

/// A per-CPU symbol: its offset in `.data..percpu`, size and name.
#[derive(Clone, Debug)]
pub struct PercpuSym {
    /// Offset from the start of the section.
    pub offset: u64,
    /// Symbol size.
    pub size: u64,
    /// Symbol name.
    pub name: String,
}

/// The per-CPU section: its address (after layout) and size.
#[derive(Clone, Copy, Debug)]
pub struct PercpuSection {
    /// Address of the section (0 in vmlinux, the layout address in a `.ko`).
    pub addr: u64,
    /// Size of the section.
    pub size: u64,
}

/// An ELF section header, as pahole 1.31 indexes them for its variables.
#[derive(Clone, Debug)]
pub struct SectionInfo {
    /// Section name.
    pub name: String,
    /// Address (after layout, for relocatable objects).
    pub addr: u64,
    /// Size.
    pub size: u64,
    /// `SHT_PROGBITS` or `SHT_NOBITS`: where variables can be.
    pub data_or_bss: bool,
}

/// One entry of pahole 1.31's ELF function table: the `STT_FUNC` symbols
/// of one name cut at its first `.` (`.cold` and `.part` pieces left out).
#[derive(Clone, Debug)]
pub struct ElfFunction {
    /// The name, cut at the first `.`.
    pub name: String,
    /// Symbols of this name at more than one address.
    pub ambiguous: bool,
    /// Listed by a `BTF_SET8` kfunc set of `.BTF_ids`: its kfunc flags.
    pub kfunc: Option<u32>,
}

/// What [`read_with`] collects beyond what pahole 1.24's rules need.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// The `STT_OBJECT` symbols by section (`global_var`).
    pub objects: bool,
    /// The kfuncs of `.BTF_ids` (`decl_tag_kfuncs`; implies
    /// [`ReadOptions::function_table`]).
    pub kfuncs: bool,
    /// pahole 1.31's function table ([`ElfInfo::function_table`]).
    pub function_table: bool,
}

/// What the encoder needs of the ELF file.
pub struct ElfInfo<'data> {
    /// Byte order.
    pub endian: Endian,
    /// `ET_REL`.
    pub is_rel: bool,
    /// `e_machine`.
    pub machine: u16,
    /// Debug sections by gimli section id name (`.debug_info`, ...).
    pub sections: Vec<(&'static str, Cow<'data, [u8]>)>,
    /// Whether there is a `.symtab`.
    pub has_symtab: bool,
    /// Names of the `STT_FUNC` symbols, sorted, deduplicated.
    pub functions: Vec<String>,
    /// The per-CPU section, if any.
    pub percpu: Option<PercpuSection>,
    /// Per-CPU variables (`STT_OBJECT` in the section, size > 0), sorted by offset.
    pub percpu_vars: Vec<PercpuSym>,
    /// Per-CPU symbols with names BTF does not accept.
    pub invalid_percpu_names: Vec<String>,
    /// Every section header, by index (index 0: the null section).
    pub section_headers: Vec<SectionInfo>,
    /// `STT_OBJECT` symbols as (section index, name), sorted (only with
    /// [`ReadOptions::objects`]).
    pub objects: Vec<(usize, String)>,
    /// pahole 1.31's function table, sorted by name (only with
    /// [`ReadOptions::function_table`] or [`ReadOptions::kfuncs`]).
    pub function_table: Vec<ElfFunction>,
}

impl ElfInfo<'_> {
    /// The bytes of debug section `name` (relocated and inflated), if the
    /// file has it.
    pub fn section(&self, name: &str) -> Option<&[u8]> {
        self.sections
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| d.as_ref())
    }

    /// The entry of [`ElfInfo::function_table`] of this name.
    pub fn function(&self, name: &[u8]) -> Option<usize> {
        self.function_table
            .binary_search_by(|f| f.name.as_bytes().cmp(name))
            .ok()
    }

    /// Whether an `STT_OBJECT` symbol of this name is in section `shndx`.
    pub fn has_object(&self, shndx: usize, name: &[u8]) -> bool {
        self.objects
            .binary_search_by(|(i, n)| (*i, n.as_bytes()).cmp(&(shndx, name)))
            .is_ok()
    }
}

const DEBUG_SECTIONS: &[&str] = &[
    ".debug_abbrev",
    ".debug_addr",
    ".debug_aranges",
    ".debug_info",
    ".debug_line",
    ".debug_line_str",
    ".debug_loc",
    ".debug_loclists",
    ".debug_ranges",
    ".debug_rnglists",
    ".debug_str",
    ".debug_str_offsets",
    ".debug_types",
];

fn elf_err(e: object::Error) -> Error {
    Error::new(format!("bad ELF: {e}"))
}

/// Whether a name is what the kernel accepts in vmlinux BTF (pahole's
/// `btf_name_valid`: `[A-Za-z_.][A-Za-z0-9_.]*`, shorter than 128 bytes).
pub fn btf_name_valid(name: &str) -> bool {
    let b = name.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    if !(first == b'_' || first == b'.' || first.is_ascii_alphabetic()) {
        return false;
    }
    if b.len() > 128 {
        return false;
    }
    b[1..]
        .iter()
        .all(|&c| c == b'_' || c == b'.' || c.is_ascii_alphanumeric())
}

/// Reads the ELF file (what pahole 1.24's rules need).
pub fn read(data: &[u8]) -> Result<ElfInfo<'_>> {
    read_with(data, ReadOptions::default())
}

/// Reads the ELF file, with the extra tables `ro` asks for.
pub fn read_with(data: &[u8], ro: ReadOptions) -> Result<ElfInfo<'_>> {
    let file = object::File::parse(data).map_err(elf_err)?;
    if file.format() != object::BinaryFormat::Elf {
        return Err(Error::new("not an ELF file"));
    }
    let endian = if file.is_little_endian() {
        Endian::Little
    } else {
        Endian::Big
    };
    let is_rel = file.kind() == object::ObjectKind::Relocatable;

    // Section layout (relocatable objects only).
    let mut addr_of = vec![0u64; file.sections().map(|s| s.index().0 + 1).max().unwrap_or(0)];
    if is_rel {
        let mut next = REL_LAYOUT_BASE;
        for s in file.sections() {
            let alloc = match s.flags() {
                object::SectionFlags::Elf { sh_flags } => {
                    sh_flags & u64::from(object::elf::SHF_ALLOC) != 0
                }
                _ => false,
            };
            if !alloc {
                continue;
            }
            let align = s.align().max(1);
            next = next.div_ceil(align).saturating_mul(align);
            if let Some(slot) = addr_of.get_mut(s.index().0) {
                *slot = next;
            }
            next = next.saturating_add(s.size());
        }
    } else {
        for s in file.sections() {
            if let Some(slot) = addr_of.get_mut(s.index().0) {
                *slot = s.address();
            }
        }
    }

    let mut sections = Vec::new();
    for &name in DEBUG_SECTIONS {
        // A relocatable object can hold several sections of one name: GCC's
        // DWARF 5 type units go into `.debug_info` sections of COMDAT groups
        // beside the unit's own. pahole 1.24 reads DWARF through elfutils,
        // which leaves grouped debug sections out, so the section read is
        // the first of the name outside any group (else the first).
        let Some(sec) = file
            .sections()
            .find(|s| s.name() == Ok(name) && !in_group(s))
            .or_else(|| file.section_by_name(name))
        else {
            continue;
        };
        let raw = sec
            .uncompressed_data()
            .map_err(|e| Error::new(format!("section {name}: cannot read: {e}")))?;
        let data = if is_rel {
            let mut buf = raw.into_owned();
            apply_relocations(&file, &sec, &mut buf, &addr_of, file.is_little_endian())
                .map_err(|e| Error::new(format!("section {name}: {e}")))?;
            Cow::Owned(buf)
        } else {
            raw
        };
        sections.push((name, data));
    }

    let has_symtab = file.symbol_table().is_some();
    let percpu_sec = file.section_by_name(PERCPU_SECTION);
    let percpu = percpu_sec.as_ref().map(|s| PercpuSection {
        addr: addr_of.get(s.index().0).copied().unwrap_or(0),
        size: s.size(),
    });
    let mut section_headers = Vec::new();
    for s in file.sections() {
        let idx = s.index().0;
        if section_headers.len() <= idx {
            section_headers.resize(
                idx + 1,
                SectionInfo {
                    name: String::new(),
                    addr: 0,
                    size: 0,
                    data_or_bss: false,
                },
            );
        }
        section_headers[idx] = SectionInfo {
            name: s.name().unwrap_or("").to_string(),
            addr: addr_of.get(idx).copied().unwrap_or(0),
            size: s.size(),
            data_or_bss: section_is_data_or_bss(&file, idx),
        };
    }
    let mut objects = Vec::new();
    let mut function_syms: Vec<(String, u64)> = Vec::new();
    let mut functions = Vec::new();
    let mut percpu_vars = Vec::new();
    let mut invalid_percpu_names = Vec::new();
    if has_symtab {
        for sym in file.symbols() {
            let kind = match sym.flags() {
                object::SymbolFlags::Elf { st_info, .. } => st_info & 0xf,
                _ => 0,
            };
            if kind == object::elf::STT_FUNC {
                if let Ok(n) = sym.name() {
                    functions.push(n.to_string());
                    if (ro.function_table || ro.kfuncs) && !has_non_function_suffix(n) {
                        let cut = n.split('.').next().unwrap_or(n);
                        function_syms.push((cut.to_string(), sym.address()));
                    }
                }
            }
            if kind != object::elf::STT_OBJECT {
                continue;
            }
            if ro.objects {
                if let (object::SymbolSection::Section(idx), Ok(n)) = (sym.section(), sym.name()) {
                    objects.push((idx.0, n.to_string()));
                }
            }
            let (Some(ps), object::SymbolSection::Section(idx)) = (&percpu_sec, sym.section())
            else {
                continue;
            };
            if idx != ps.index() || sym.size() == 0 {
                continue;
            }
            let name = sym.name().unwrap_or("").to_string();
            if !btf_name_valid(&name) {
                invalid_percpu_names.push(name);
                continue;
            }
            let offset = if is_rel {
                sym.address()
            } else {
                sym.address().wrapping_sub(ps.address())
            };
            percpu_vars.push(PercpuSym {
                offset,
                size: sym.size(),
                name,
            });
        }
    }
    functions.sort();
    functions.dedup();
    objects.sort();
    objects.dedup();
    percpu_vars.sort_by_key(|v| v.offset);
    // Stable: the symbols of one name stay in symbol-table order.
    function_syms.sort_by(|a, b| a.0.cmp(&b.0));
    let mut function_table: Vec<ElfFunction> = Vec::new();
    let mut first_addr = 0u64;
    for (name, addr) in function_syms {
        match function_table.last_mut() {
            Some(f) if f.name == name => {
                if first_addr != 0 && first_addr != addr {
                    f.ambiguous = true;
                } else {
                    first_addr = addr;
                }
            }
            _ => {
                first_addr = addr;
                function_table.push(ElfFunction {
                    name,
                    ambiguous: false,
                    kfunc: None,
                });
            }
        }
    }
    if ro.kfuncs {
        for (name, flags) in crate::kfuncs::collect(data)? {
            if let Ok(i) = function_table.binary_search_by(|f| f.name.as_str().cmp(&name)) {
                function_table[i].kfunc = Some(flags);
            }
        }
    }
    let machine = {
        use object::read::elf::FileHeader;
        match &file {
            object::File::Elf64(f) => f.elf_header().e_machine(f.endian()),
            object::File::Elf32(f) => f.elf_header().e_machine(f.endian()),
            _ => 0,
        }
    };
    Ok(ElfInfo {
        endian,
        is_rel,
        machine,
        sections,
        has_symtab,
        functions,
        percpu,
        percpu_vars,
        invalid_percpu_names,
        section_headers,
        objects,
        function_table,
    })
}

/// Whether a section is a member of a section group (`SHF_GROUP`).
fn in_group(s: &object::Section<'_, '_>) -> bool {
    match s.flags() {
        object::SectionFlags::Elf { sh_flags } => sh_flags & u64::from(object::elf::SHF_GROUP) != 0,
        _ => false,
    }
}

/// pahole's `str_contains_non_fn_suffix`: a `.cold` or `.part` after the
/// first `.` of a symbol name marks a piece, not a function.
fn has_non_function_suffix(name: &str) -> bool {
    match name.find('.') {
        Some(i) => name[i..].contains(".cold") || name[i..].contains(".part"),
        None => false,
    }
}

/// Whether section `idx` is `SHT_PROGBITS` or `SHT_NOBITS`.
fn section_is_data_or_bss(file: &object::File<'_>, idx: usize) -> bool {
    use object::read::elf::SectionHeader;
    let sh_type = match file {
        object::File::Elf64(f) => f
            .elf_section_table()
            .section(object::SectionIndex(idx))
            .map(|s| s.sh_type(f.endian())),
        object::File::Elf32(f) => f
            .elf_section_table()
            .section(object::SectionIndex(idx))
            .map(|s| s.sh_type(f.endian())),
        _ => return false,
    };
    matches!(
        sh_type,
        Ok(object::elf::SHT_PROGBITS) | Ok(object::elf::SHT_NOBITS)
    )
}

fn apply_relocations(
    file: &object::File<'_>,
    sec: &object::Section<'_, '_>,
    buf: &mut [u8],
    addr_of: &[u64],
    little: bool,
) -> std::result::Result<(), String> {
    for (offset, rel) in sec.relocations() {
        if rel.kind() != object::RelocationKind::Absolute {
            continue;
        }
        let size = usize::from(rel.size() / 8);
        if size != 4 && size != 8 {
            continue;
        }
        let target = match rel.target() {
            RelocationTarget::Symbol(idx) => {
                let sym = file
                    .symbol_by_index(idx)
                    .map_err(|e| format!("relocation at offset {offset:#x}: bad symbol: {e}"))?;
                match sym.section() {
                    object::SymbolSection::Section(si) => {
                        let base = addr_of.get(si.0).copied().unwrap_or(0);
                        base.wrapping_add(sym.address())
                    }
                    object::SymbolSection::Absolute => sym.address(),
                    _ => 0,
                }
            }
            RelocationTarget::Section(si) => addr_of.get(si.0).copied().unwrap_or(0),
            RelocationTarget::Absolute => 0,
            _ => continue,
        };
        let start = usize::try_from(offset)
            .map_err(|_| format!("relocation offset {offset:#x} out of range"))?;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= buf.len())
            .ok_or_else(|| {
                format!(
                    "relocation at offset {offset:#x} past the end of the section ({} bytes)",
                    buf.len()
                )
            })?;
        let field = &mut buf[start..end];
        let implicit = if rel.has_implicit_addend() {
            read_uint(field, little)
        } else {
            0
        };
        let value = target
            .wrapping_add(rel.addend() as u64)
            .wrapping_add(implicit);
        write_uint(field, value, little);
    }
    Ok(())
}

fn read_uint(b: &[u8], little: bool) -> u64 {
    let mut v = 0u64;
    if little {
        for &x in b.iter().rev() {
            v = v << 8 | u64::from(x);
        }
    } else {
        for &x in b {
            v = v << 8 | u64::from(x);
        }
    }
    v
}

fn write_uint(b: &mut [u8], v: u64, little: bool) {
    let n = b.len();
    for i in 0..n {
        let byte = (v >> (8 * i)) as u8;
        if little {
            b[i] = byte;
        } else {
            b[n - 1 - i] = byte;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(btf_name_valid("runqueues"));
        assert!(btf_name_valid("_a.b1"));
        assert!(!btf_name_valid("1a"));
        assert!(!btf_name_valid(""));
        assert!(!btf_name_valid("a-b"));
        assert!(!btf_name_valid(&"a".repeat(129)));
    }

    #[test]
    fn uint_round_trip() {
        let mut b = [0u8; 4];
        write_uint(&mut b, 0x1234_5678, true);
        assert_eq!(b, [0x78, 0x56, 0x34, 0x12]);
        assert_eq!(read_uint(&b, true), 0x1234_5678);
        write_uint(&mut b, 0x1234_5678, false);
        assert_eq!(read_uint(&b, false), 0x1234_5678);
    }
}
