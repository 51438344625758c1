//! The `.BTF` section of an ELF file (vmlinux, kernel modules, BPF objects).
//!
//! ELF32 and ELF64 of either byte order are read through the `object` crate,
//! which also inflates SHF_COMPRESSED sections (zlib, zstd).

use std::borrow::Cow;
use std::sync::Arc;

use object::{Object, ObjectSection};

use crate::btf::Btf;
use crate::error::{Error, Result};

/// Whether `data` starts with the ELF magic.
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// The bytes of the section named `name` (decompressed), or `None` when absent.
pub fn section_data<'a>(data: &'a [u8], name: &str) -> Result<Option<Cow<'a, [u8]>>> {
    let file = object::File::parse(data)
        .map_err(|e| Error::new(format!("not a readable ELF file: {e}")))?;
    let Some(sec) = file.section_by_name(name) else {
        return Ok(None);
    };
    let off = sec.file_range().map_or(0, |r| r.0);
    sec.uncompressed_data()
        .map(Some)
        .map_err(|e| Error::at(off, format!("cannot read section {name}: {e}")))
}

/// Parses the `.BTF` section of an ELF file; with `base`, as split BTF.
pub fn parse(data: &[u8], base: Option<Arc<Btf>>) -> Result<Btf> {
    let sec =
        section_data(data, ".BTF")?.ok_or_else(|| Error::new("ELF file has no .BTF section"))?;
    crate::read::raw::parse(&sec, base).map_err(in_section)
}

/// An error about the bytes of the `.BTF` section, said to be in it.
pub(crate) fn in_section(e: Error) -> Error {
    Error::new(format!(".BTF section: {}", e.message()))
        .with_offset_opt(e.offset())
        .with_type_opt(e.type_id())
}
