//! Loading BTF from a file, whatever holds it: a raw blob (`/sys/kernel/btf/*`,
//! `bpftool btf dump ... format raw`), an ELF file with a `.BTF` section, or
//! either compressed whole with zstd (`.ko.zst`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::btf::Btf;
use crate::error::{Error, Result};
use crate::read::{elf, raw};

/// The largest decompressed size accepted for a zstd-compressed file.
const MAX_DECOMPRESSED: u64 = 4 << 30;

/// The bytes of a file: mapped when it is a regular file, read otherwise.
pub enum FileData {
    /// A memory map of a regular file.
    Mapped(memmap2::Mmap),
    /// The file read into memory (sysfs files, pipes, empty files).
    Owned(Vec<u8>),
}

impl std::ops::Deref for FileData {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileData::Mapped(m) => m,
            FileData::Owned(v) => v,
        }
    }
}

/// Reads a file's bytes, mapping regular files.
pub fn read_file(path: &Path) -> Result<FileData> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::new(format!("cannot open: {e}")).with_file(path))?;
    let meta = f
        .metadata()
        .map_err(|e| Error::new(format!("cannot stat: {e}")).with_file(path))?;
    // sysfs reports a size but its files are not all mappable: read those.
    if meta.is_file() && meta.len() > 0 && !path.starts_with("/sys") {
        // SAFETY: the map is read-only and private to this process. The file could
        // be truncated or rewritten by another process while mapped; every read of
        // the bytes is bounds-checked against the slice length taken here, so a
        // concurrent change can give wrong data (then a parse error) but the slice
        // itself stays valid memory for the map's lifetime (SIGBUS on truncation
        // is the remaining risk, the same as for every tool that maps its input).
        if let Ok(m) = unsafe { memmap2::Mmap::map(&f) } {
            return Ok(FileData::Mapped(m));
        }
    }
    let mut v = Vec::new();
    let mut f = f;
    f.read_to_end(&mut v)
        .map_err(|e| Error::new(format!("cannot read: {e}")).with_file(path))?;
    Ok(FileData::Owned(v))
}

/// Whether `data` is a zstd frame.
pub fn is_zstd(data: &[u8]) -> bool {
    data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}

/// Decompresses a zstd-compressed file image, bounded to 4 GiB.
pub fn decompress_zstd(data: &[u8]) -> Result<Vec<u8>> {
    let dec = zstd::stream::read::Decoder::new(data)
        .map_err(|e| Error::new(format!("bad zstd data: {e}")))?;
    let mut out = Vec::new();
    dec.take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::new(format!("bad zstd data: {e}")))?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(Error::new("zstd data decompresses to more than 4 GiB"));
    }
    Ok(out)
}

/// The raw BTF blob inside any supported container: the bytes themselves for raw
/// BTF, the (decompressed) `.BTF` section of an ELF, either after zstd.
pub fn raw_btf_bytes(data: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    if is_zstd(data) {
        let inner = decompress_zstd(data)?;
        if is_zstd(&inner) {
            return Err(Error::new("zstd data nested in zstd data"));
        }
        return Ok(std::borrow::Cow::Owned(raw_btf_bytes(&inner)?.into_owned()));
    }
    if elf::is_elf(data) {
        return elf::section_data(data, ".BTF")?
            .ok_or_else(|| Error::new("ELF file has no .BTF section"));
    }
    Ok(std::borrow::Cow::Borrowed(data))
}

/// Parses BTF from the bytes of any supported container: raw BTF, ELF, or
/// either compressed with zstd.
pub fn parse_any(data: &[u8], base: Option<Arc<Btf>>) -> Result<Btf> {
    if is_zstd(data) {
        let inner = decompress_zstd(data)?;
        if is_zstd(&inner) {
            return Err(Error::new("zstd data nested in zstd data"));
        }
        return parse_any(&inner, base);
    }
    if elf::is_elf(data) {
        return elf::parse(data, base);
    }
    raw::parse(data, base)
}

/// [`raw::parse_lenient`] on the BTF inside any supported container (see
/// [`parse_any`]): for showing BTF that [`parse_any`] may refuse.
pub fn parse_any_lenient(data: &[u8], base: Option<Arc<Btf>>) -> Result<raw::Lenient> {
    let in_elf = elf::is_elf(data) || is_zstd(data);
    let raw = raw_btf_bytes(data)?;
    let section = |e: Error| {
        if in_elf {
            elf::in_section(e)
        } else {
            e
        }
    };
    let mut l = raw::parse_lenient(&raw, base).map_err(section)?;
    l.map_problem(section);
    Ok(l)
}

/// For `/sys/kernel/btf/<module>`, the base to use: `/sys/kernel/btf/vmlinux`.
pub fn sysfs_base_for(path: &Path) -> Option<PathBuf> {
    let parent = path.parent()?;
    let name = path.file_name()?;
    if name != "vmlinux"
        && (parent == Path::new("/sys/kernel/btf") || parent.ends_with("sys/kernel/btf"))
    {
        let base = parent.join("vmlinux");
        base.exists().then_some(base)
    } else {
        None
    }
}

/// Loads BTF from a file. A module's `/sys/kernel/btf/<module>` is read as split
/// BTF on `/sys/kernel/btf/vmlinux`, found automatically.
pub fn load(path: impl AsRef<Path>) -> Result<Btf> {
    let path = path.as_ref();
    let base = match sysfs_base_for(path) {
        Some(b) => Some(Arc::new(load_with_base(&b, None)?)),
        None => None,
    };
    load_with_base(path, base)
}

/// Loads BTF from a file, as split BTF on `base` when given.
pub fn load_with_base(path: impl AsRef<Path>, base: Option<Arc<Btf>>) -> Result<Btf> {
    let path = path.as_ref();
    let data = read_file(path)?;
    parse_any(&data, base).map_err(|e| e.with_file(path))
}
