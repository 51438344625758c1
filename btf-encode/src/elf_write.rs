//! `-J` without `--btf_encode_detached`: the BTF goes into the input ELF's
//! `.BTF` section, replacing an existing one (pahole 1.24 overwrites it in
//! place; without one it adds it with `llvm-objcopy --add-section`: type
//! PROGBITS, no flags, alignment 1). The file is rewritten through object's
//! ELF builder into a temporary file beside it, then renamed over it, so a
//! failing run leaves the input byte-identical.
//!
//! Where the builder refuses the file (clang objects: `SHT_LLVM_ADDRSIG`
//! sections, one `.strtab` for section and symbol names; any section type
//! it does not know), [`append`] writes it instead: every byte of the input
//! kept where it was, the new section data, a grown copy of the section
//! name table when the name is new, and a new section header table after
//! them. No section index changes, so symbols, relocations and links stay
//! valid; only the ELF header's table fields and the headers of the
//! replaced or grown sections change.

use std::io::Write;
use std::path::Path;

use btf::{Error, Result};
use object::build::elf::{Builder, SectionData};

/// The ELF `data` with `btf` as its `.BTF` section.
pub fn with_btf_section(data: &[u8], btf: &[u8]) -> Result<Vec<u8>> {
    with_sections(data, &[(".BTF", btf)])
}

/// The ELF `data` with each `(name, bytes)` as a section of that name,
/// replacing one there is (`distilled_base`: `.BTF` and `.BTF.base`).
pub fn with_sections(data: &[u8], sections: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let mut data = data.to_vec();
    for (name, bytes) in sections {
        data = with_section(&data, name.as_bytes(), bytes)?;
    }
    Ok(data)
}

fn with_section(data: &[u8], name: &[u8], btf: &[u8]) -> Result<Vec<u8>> {
    match rebuild(data, name, btf) {
        Ok(out) => Ok(out),
        Err(e) => append(data, name, btf)
            .map_err(|a| Error::new(format!("{e}; appending the section instead: {a}"))),
    }
}

fn rebuild(data: &[u8], name: &[u8], btf: &[u8]) -> Result<Vec<u8>> {
    let mut b = Builder::read(data).map_err(|e| Error::new(format!("cannot rewrite ELF: {e}")))?;
    let mut found = false;
    for s in b.sections.iter_mut() {
        if s.delete || s.name.as_slice() != name {
            continue;
        }
        if found {
            // A second .BTF would be ambiguous; keep one.
            s.delete = true;
            continue;
        }
        s.data = SectionData::Data(btf.to_vec().into());
        found = true;
    }
    if !found {
        let s = b.sections.add();
        s.name = name.to_vec().into();
        s.sh_type = object::elf::SHT_PROGBITS;
        s.sh_flags = 0;
        s.sh_addralign = 1;
        s.data = SectionData::Data(btf.to_vec().into());
    }
    let mut out = Vec::with_capacity(data.len() + btf.len());
    b.write(&mut out)
        .map_err(|e| Error::new(format!("cannot write ELF: {e}")))?;
    Ok(out)
}

/// The ELF `data` with `bytes` as its section `name`, written by appending
/// (see the module docs): the first section of that name gets the new data,
/// or a new section (PROGBITS, no flags, alignment 1) is added at the end of
/// the table. ELF32 and ELF64, either byte order, extended section numbering.
pub fn append(data: &[u8], name: &[u8], bytes: &[u8]) -> Result<Vec<u8>> {
    use object::read::elf::{FileHeader, SectionHeader};
    use object::FileKind;
    fn go<Elf: FileHeader<Endian = object::Endianness>>(
        data: &[u8],
        name: &[u8],
        bytes: &[u8],
        wide: bool,
    ) -> Result<Vec<u8>> {
        let bad = |e: object::read::Error| Error::new(format!("cannot read ELF: {e}"));
        let header = Elf::parse(data).map_err(bad)?;
        let endian = header.endian().map_err(bad)?;
        let table = header.sections(endian, data).map_err(bad)?;
        let shstrndx = header.shstrndx(endian, data).map_err(bad)? as usize;
        let count = table.len();
        if shstrndx == 0 || shstrndx >= count {
            return Err(Error::new(format!(
                "no section name table (e_shstrndx {shstrndx}, {count} sections)"
            )));
        }
        // The layout of the two classes (ELF header fields, section header
        // fields): offset and width of each.
        let (e_shoff, e_shnum, shent) = if wide {
            (0x28, 0x3c, 64)
        } else {
            (0x20, 0x30, 40)
        };
        let (f_name, f_type, f_offset, f_size, f_align, w) = if wide {
            (0, 4, 24, 32, 48, 8)
        } else {
            (0, 4, 16, 20, 32, 4)
        };
        let big = endian == object::Endianness::Big;
        let put = |buf: &mut [u8], at: usize, width: usize, v: u64| -> Result<()> {
            let slot = buf
                .get_mut(at..at + width)
                .ok_or_else(|| Error::new("ELF header field out of range"))?;
            let all = if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            if width < 8 && v >> (8 * width) != 0 {
                return Err(Error::new("value too large"));
            }
            if big {
                slot.copy_from_slice(&all[8 - width..]);
            } else {
                slot.copy_from_slice(&all[..width]);
            }
            Ok(())
        };
        // The section headers, as entries of the class's size.
        let mut shdrs: Vec<u8> = Vec::with_capacity((count + 1) * shent);
        for s in table.iter() {
            let raw = object::pod::bytes_of(s);
            shdrs.extend_from_slice(raw.get(..shent).unwrap_or(raw));
        }
        if shdrs.len() != count * shent {
            return Err(Error::new("unexpected section header size"));
        }
        let found = table
            .iter()
            .position(|s| table.section_name(endian, s).ok() == Some(name));
        let mut out = data.to_vec();
        let align = |out: &mut Vec<u8>, a: usize| out.resize(out.len().next_multiple_of(a), 0);
        align(&mut out, 8);
        let data_off = out.len() as u64;
        out.extend_from_slice(bytes);
        match found {
            Some(i) => {
                put(&mut shdrs, i * shent + f_offset, w, data_off)?;
                put(&mut shdrs, i * shent + f_size, w, bytes.len() as u64)?;
            }
            None => {
                let strs = table
                    .section(object::read::SectionIndex(shstrndx))
                    .map_err(bad)?;
                let old = strs.data(endian, data).map_err(bad)?;
                let name_off = old.len() as u64;
                let str_off = out.len() as u64;
                out.extend_from_slice(old);
                out.extend_from_slice(name);
                out.push(0);
                put(&mut shdrs, shstrndx * shent + f_offset, w, str_off)?;
                put(
                    &mut shdrs,
                    shstrndx * shent + f_size,
                    w,
                    old.len() as u64 + name.len() as u64 + 1,
                )?;
                let mut new = vec![0u8; shent];
                put(&mut new, f_name, 4, name_off)?;
                put(&mut new, f_type, 4, u64::from(object::elf::SHT_PROGBITS))?;
                put(&mut new, f_offset, w, data_off)?;
                put(&mut new, f_size, w, bytes.len() as u64)?;
                put(&mut new, f_align, w, 1)?;
                shdrs.extend_from_slice(&new);
            }
        }
        let n = shdrs.len() / shent;
        align(&mut out, 8);
        let table_off = out.len() as u64;
        out.extend_from_slice(&shdrs);
        put(&mut out, e_shoff, w, table_off)?;
        let extended = header.e_shnum(endian) == 0 || n >= usize::from(object::elf::SHN_LORESERVE);
        if extended {
            // The count in section 0's sh_size (the index table entry 0).
            put(&mut out, e_shnum, 2, 0)?;
            put(&mut out, table_off as usize + f_size, w, n as u64)?;
        } else {
            put(&mut out, e_shnum, 2, n as u64)?;
        }
        Ok(out)
    }
    match FileKind::parse(data) {
        Ok(FileKind::Elf32) => {
            go::<object::elf::FileHeader32<object::Endianness>>(data, name, bytes, false)
        }
        Ok(FileKind::Elf64) => {
            go::<object::elf::FileHeader64<object::Endianness>>(data, name, bytes, true)
        }
        _ => Err(Error::new("not an ELF file")),
    }
}

/// Writes `bytes` to `path` through a temporary file beside it and a rename,
/// keeping the permissions of an existing file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| Error::new(format!("cannot write: {e}")).with_file(path);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.btf-encode.{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if let Ok(meta) = std::fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map_err(io)
}
