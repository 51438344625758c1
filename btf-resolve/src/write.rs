//! Writing the patched section: one verified `pwrite` in place (default) or
//! a copy renamed over the file (`--atomic`). Either happens only after every
//! check has passed.

use std::path::{Path, PathBuf};

use crate::Error;

/// How the patched section reaches the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// One `pwrite` of the section's bytes into the file, after checking that
    /// the file still holds the bytes the plan was made from, then read back
    /// and compared. Writes a few KiB whatever the file's size (resolve_btfids
    /// also patches in place).
    #[default]
    InPlace,
    /// A copy of the file with the new section, beside it, renamed over it:
    /// atomic even if the process dies mid-write, at the cost of copying the
    /// whole file (about 4 s for the 561 MB vmlinux on ext4).
    Atomic,
}

/// Writes `bytes` at `offset` of `path` in place: checks the file still
/// holds `data[offset..]` there, writes once, reads back.
pub fn write_in_place(path: &Path, data: &[u8], offset: u64, bytes: &[u8]) -> Result<(), Error> {
    use std::os::unix::fs::FileExt;
    let err = |what: &str, e: std::io::Error| {
        Error::new(format!("{}: cannot {what}: {e}", path.display()))
    };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| err("open for writing", e))?;
    let len = f.metadata().map_err(|e| err("stat", e))?.len();
    let off = offset as usize;
    let mut cur = vec![0u8; bytes.len()];
    f.read_exact_at(&mut cur, offset)
        .map_err(|e| err("read", e))?;
    if len != data.len() as u64 || cur != data[off..off + bytes.len()] {
        return Err(Error::new(format!(
            "{}: changed while being read; not written",
            path.display()
        )));
    }
    f.write_all_at(bytes, offset).map_err(|e| {
        err(
            &format!("write {} bytes at offset {offset:#x}", bytes.len()),
            e,
        )
    })?;
    f.read_exact_at(&mut cur, offset)
        .map_err(|e| err("read back", e))?;
    if cur != bytes {
        return Err(Error::new(format!(
            "{}: .BTF_ids at offset {offset:#x} does not read back as written",
            path.display()
        )));
    }
    Ok(())
}

/// Writes with `mode`: [`write_in_place`] or [`write_section`].
pub fn write_with(
    mode: WriteMode,
    path: &Path,
    data: &[u8],
    offset: u64,
    bytes: &[u8],
) -> Result<(), Error> {
    match mode {
        WriteMode::InPlace => write_in_place(path, data, offset, bytes),
        WriteMode::Atomic => write_section(path, data, offset, bytes),
    }
}

/// Creates a new temporary file in `path`'s directory (so the rename stays
/// on one file system), `.<name>.btf-resolve.<pid>.tmp`, open for reading
/// and writing.
fn create_beside(path: &Path) -> Result<(PathBuf, std::fs::File), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{base}.btf-resolve.{}.tmp", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| {
            Error::new(format!(
                "{}: cannot create {}: {e}",
                path.display(),
                tmp.display()
            ))
        })?;
    Ok((tmp, f))
}

/// Writes a copy of `data` (the file's current bytes) with `bytes` at
/// `offset` to a temporary file beside `path`, with `path`'s permissions,
/// checks it, and renames it over `path`. On any failure the temporary file
/// is removed and `path` is untouched.
pub fn write_section(path: &Path, data: &[u8], offset: u64, bytes: &[u8]) -> Result<(), Error> {
    use std::os::unix::fs::FileExt;
    let err = |what: &str, e: std::io::Error| {
        Error::new(format!("{}: cannot {what}: {e}", path.display()))
    };
    let perms = std::fs::metadata(path)
        .map_err(|e| err("stat", e))?
        .permissions();
    let (tmp, mut f) = create_beside(path)?;
    let result = (|| -> Result<(), Error> {
        // The copy goes through copy_file_range (std::io::copy between files):
        // the kernel copies, or shares extents where the file system can.
        let mut src = std::fs::File::open(path).map_err(|e| err("open", e))?;
        let copied = std::io::copy(&mut src, &mut f)
            .map_err(|e| err(&format!("copy to {}", tmp.display()), e))?;
        if copied != data.len() as u64 {
            return Err(Error::new(format!(
                "{}: changed size while being read ({} bytes, then {copied})",
                path.display(),
                data.len()
            )));
        }
        let mut cur = vec![0u8; bytes.len()];
        f.read_exact_at(&mut cur, offset)
            .map_err(|e| err(&format!("read back {}", tmp.display()), e))?;
        let off = offset as usize;
        if cur != data[off..off + bytes.len()] {
            return Err(Error::new(format!(
                "{}: changed while being read",
                path.display()
            )));
        }
        f.write_all_at(bytes, offset)
            .map_err(|e| err(&format!("write {}", tmp.display()), e))?;
        let mut back = vec![0u8; bytes.len()];
        f.read_exact_at(&mut back, offset)
            .map_err(|e| err(&format!("read back {}", tmp.display()), e))?;
        let len = f
            .metadata()
            .map_err(|e| err(&format!("stat {}", tmp.display()), e))?
            .len();
        if back != bytes || len != data.len() as u64 {
            return Err(Error::new(format!(
                "{}: the written copy does not read back as written",
                tmp.display()
            )));
        }
        std::fs::set_permissions(&tmp, perms.clone())
            .map_err(|e| err(&format!("set permissions of {}", tmp.display()), e))?;
        std::fs::rename(&tmp, path).map_err(|e| err(&format!("rename {}", tmp.display()), e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` as the whole of `path` (created or replaced): a temporary
/// file beside it, read back and renamed over it, so `path` holds either its
/// old content or all of `bytes`. The output blobs of the newer interface
/// (`<elf>.BTF_ids`, `<elf>.BTF`, `<elf>.BTF.base`) are written this way.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::{Read, Write};
    let err = |what: &str, e: std::io::Error| {
        Error::new(format!("{}: cannot {what}: {e}", path.display()))
    };
    let (tmp, mut f) = create_beside(path)?;
    let result = (|| -> Result<(), Error> {
        f.write_all(bytes)
            .map_err(|e| err(&format!("write {}", tmp.display()), e))?;
        let mut back = Vec::with_capacity(bytes.len());
        std::fs::File::open(&tmp)
            .and_then(|mut r| r.read_to_end(&mut back))
            .map_err(|e| err(&format!("read back {}", tmp.display()), e))?;
        if back != bytes {
            return Err(Error::new(format!(
                "{}: does not read back as written",
                tmp.display()
            )));
        }
        std::fs::rename(&tmp, path).map_err(|e| err(&format!("rename {}", tmp.display()), e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
