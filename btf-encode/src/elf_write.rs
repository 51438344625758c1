//! `-J` without `--btf_encode_detached`: the BTF goes into the input ELF's
//! `.BTF` section, replacing an existing one (pahole 1.24 overwrites it in
//! place; without one it adds it with `llvm-objcopy --add-section`: type
//! PROGBITS, no flags, alignment 1). The file is rewritten through object's
//! ELF builder into a temporary file beside it, then renamed over it, so a
//! failing run leaves the input byte-identical.

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
