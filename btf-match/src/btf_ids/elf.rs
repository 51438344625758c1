//! Reading the parts of an ELF file that resolving needs: the `.BTF_ids`
//! section's place in the file and the `__BTF_ID__*` and label symbols in it.
//!
//! Everything is read through `object`'s low-level ELF API (every read a
//! `Result`); ELF32 and ELF64 of either byte order. Symbol section indices go
//! through `SHT_SYMTAB_SHNDX` when a symbol says `SHN_XINDEX`.

use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::{Endianness, FileKind};

use crate::Error;

/// The `.BTF_ids` section and the symbols defined in it.
#[derive(Debug, Clone)]
pub struct IdsSection {
    /// Section header index.
    pub index: usize,
    /// `sh_offset`: where the section's bytes are in the file.
    pub file_offset: u64,
    /// `sh_addr`.
    pub addr: u64,
    /// `sh_size`.
    pub size: u64,
    /// The byte order of the ELF file.
    pub big_endian: bool,
    /// Symbols whose section is `.BTF_ids`, in symbol-table order.
    pub symbols: Vec<RawSymbol>,
}

/// One symbol of `.BTF_ids`.
#[derive(Debug, Clone)]
pub struct RawSymbol {
    /// Index in the symbol table.
    pub index: usize,
    /// The name bytes.
    pub name: Vec<u8>,
    /// `st_value`.
    pub value: u64,
    /// `st_size`.
    pub size: u64,
    /// The name of the last `STT_FILE` symbol before this one, if any.
    pub file: Option<String>,
}

/// What [`read`] found.
#[derive(Debug, Clone)]
pub enum Found {
    /// The file has no `.BTF_ids` section or no symbol table: nothing to do.
    Nothing(&'static str),
    /// The section and its symbols.
    Ids(IdsSection),
}

/// Reads the `.BTF_ids` section header and its symbols from an ELF image.
pub fn read(data: &[u8]) -> Result<Found, Error> {
    match FileKind::parse(data) {
        Ok(FileKind::Elf32) => read_as::<elf::FileHeader32<Endianness>>(data),
        Ok(FileKind::Elf64) => read_as::<elf::FileHeader64<Endianness>>(data),
        Ok(k) => Err(Error::new(format!("not an ELF file (found {k:?})"))),
        Err(e) => Err(Error::new(format!("not a readable ELF file: {e}"))),
    }
}

fn bad(what: &str, e: object::Error) -> Error {
    Error::new(format!("malformed ELF: {what}: {e}"))
}

fn read_as<H: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<Found, Error> {
    let header = H::parse(data).map_err(|e| bad("header", e))?;
    let endian = header.endian().map_err(|e| bad("header", e))?;
    let sections = header
        .sections(endian, data)
        .map_err(|e| bad("section headers", e))?;
    let mut ids = None;
    for (i, sh) in sections.enumerate() {
        let name = sections
            .section_name(endian, sh)
            .map_err(|e| bad(&format!("name of section {}", i.0), e))?;
        if name == b".BTF_ids" {
            if ids.is_some() {
                return Err(Error::new("malformed ELF: two .BTF_ids sections"));
            }
            ids = Some((i.0, sh));
        }
    }
    let Some((index, sh)) = ids else {
        return Ok(Found::Nothing("no .BTF_ids section"));
    };
    let symtab = sections
        .symbols(endian, data, elf::SHT_SYMTAB)
        .map_err(|e| bad("symbol table", e))?;
    if symtab.is_empty() {
        return Ok(Found::Nothing("no symbol table"));
    }
    let file_offset: u64 = sh.sh_offset(endian).into();
    let size: u64 = sh.sh_size(endian).into();
    let addr: u64 = sh.sh_addr(endian).into();
    if sh.sh_type(endian) == elf::SHT_NOBITS {
        return Err(Error::new(
            "section .BTF_ids has no bytes in the file (SHT_NOBITS)",
        ));
    }
    let flags: u64 = sh.sh_flags(endian).into();
    if flags & u64::from(elf::SHF_COMPRESSED) != 0 {
        return Err(Error::new(
            "section .BTF_ids is compressed (SHF_COMPRESSED): cannot patch it in place",
        ));
    }
    match file_offset.checked_add(size) {
        Some(end) if end <= data.len() as u64 => {}
        _ => {
            return Err(Error::new(format!(
                "section .BTF_ids (offset {file_offset:#x}, size {size:#x}) extends past the end of the file ({:#x} bytes): truncated ELF?",
                data.len()
            )))
        }
    }
    let strings = symtab.strings();
    let mut file: Option<String> = None;
    let mut symbols = Vec::new();
    for (si, sym) in symtab.enumerate() {
        if sym.st_type() == elf::STT_FILE {
            let name = sym
                .name(endian, strings)
                .map_err(|e| bad(&format!("name of symbol {}", si.0), e))?;
            file = Some(String::from_utf8_lossy(name).into_owned());
            continue;
        }
        let sec = symtab
            .symbol_section(endian, sym, si)
            .map_err(|e| bad(&format!("section of symbol {}", si.0), e))?;
        if sec.map(|s| s.0) != Some(index) {
            continue;
        }
        let name = sym
            .name(endian, strings)
            .map_err(|e| bad(&format!("name of symbol {}", si.0), e))?;
        symbols.push(RawSymbol {
            index: si.0,
            name: name.to_vec(),
            value: sym.st_value(endian).into(),
            size: sym.st_size(endian).into(),
            file: file.clone(),
        });
    }
    Ok(Found::Ids(IdsSection {
        index,
        file_offset,
        addr,
        size,
        big_endian: endian == Endianness::Big,
        symbols,
    }))
}
