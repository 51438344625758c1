//! A big-endian object (s390x, from clang) with `.BTF` and `.BTF_ids`:
//! btf-resolve patches the same bytes as resolve_btfids 6.1 and 6.12 (which
//! translate through libelf), reads its BTF in either byte order, and writes
//! the newer interface's blobs in the ELF's byte order.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use btf::{Btf, Endian};
use common::*;

/// `cu` compiled for s390x with clang, with the BTF pahole makes of the same
/// unit on the host, rewritten big-endian, as its `.BTF`.
fn be_object(dir: &Path, cu: &str) -> Option<PathBuf> {
    if !oracle(
        have("clang") && have("llvm-objcopy"),
        "clang and llvm-objcopy",
    ) {
        return None;
    }
    let le = fixture(dir, &format!("le-{cu}"), &[(cu, "")], true)?;
    let mut btf = btf::parse_any(&std::fs::read(&le).unwrap(), None).unwrap();
    btf.set_endian(Endian::Big);
    let raw = dir.join(format!("{cu}.be.btf"));
    std::fs::write(&raw, btf.to_bytes()).unwrap();
    let cdir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c");
    let obj = dir.join(format!("{cu}.s390x.o"));
    let st = Command::new("clang")
        .args(["--target=s390x-linux-gnu", "-g", "-O1", "-c", "-I"])
        .arg(&cdir)
        .arg(cdir.join(cu))
        .arg("-o")
        .arg(&obj)
        .status()
        .unwrap();
    assert!(st.success(), "clang --target=s390x-linux-gnu");
    let st = Command::new("llvm-objcopy")
        .arg(format!("--add-section=.BTF={}", raw.display()))
        .arg(&obj)
        .status()
        .unwrap();
    assert!(st.success(), "llvm-objcopy --add-section .BTF");
    let data = std::fs::read(&obj).unwrap();
    assert_eq!(data[5], 2, "not ELFDATA2MSB");
    Some(obj)
}

#[test]
fn big_endian_object_same_bytes_as_resolve_btfids() {
    let dir = tmp("bigendian");
    let mut checked = 0;
    for cu in ["cu1.c", "cu2.c"] {
        let Some(obj) = be_object(&dir, cu) else {
            return;
        };
        let btf = btf::parse_any(&std::fs::read(&obj).unwrap(), None).unwrap();
        assert_eq!(btf.endian(), Endian::Big);
        let mine = dir.join(format!("{cu}.ours.o"));
        std::fs::copy(&obj, &mine).unwrap();
        let o = ours(&[mine.as_os_str()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let ob = std::fs::read(&mine).unwrap();
        assert_ne!(
            ids_section(&ob),
            ids_section(&std::fs::read(&obj).unwrap()),
            "nothing resolved"
        );
        // Idempotent in big-endian too.
        assert!(ours(&[mine.as_os_str()]).status.success());
        assert!(std::fs::read(&mine).unwrap() == ob);
        // The newer interface: the blob is what in-place patching wrote when
        // the BTF is the sorted one; the .BTF blob stays big-endian.
        let files = dir.join(format!("{cu}.files.o"));
        std::fs::copy(&obj, &files).unwrap();
        let f = ours(&[OsStr::new("--mode"), OsStr::new("files"), files.as_os_str()]);
        assert!(f.status.success(), "{}", String::from_utf8_lossy(&f.stderr));
        let sorted = std::fs::read(btf_resolve::gen::out_path(&files, ".BTF")).unwrap();
        assert_eq!(
            &sorted[..2],
            &[0xeb, 0x9f],
            "the .BTF blob is not big-endian"
        );
        assert_eq!(Btf::parse(&sorted).unwrap().endian(), Endian::Big);

        for version in ["6.1", "6.12"] {
            let Some(tool) = resolve_btfids(version) else {
                continue;
            };
            let theirs = dir.join(format!("{cu}.c-{version}.o"));
            std::fs::copy(&obj, &theirs).unwrap();
            let c = Command::new(&tool).arg(&theirs).output().unwrap();
            assert!(
                c.status.success(),
                "resolve_btfids {version}: {}",
                String::from_utf8_lossy(&c.stderr)
            );
            let cb = std::fs::read(&theirs).unwrap();
            assert_eq!(
                ids_section(&cb),
                ids_section(&ob),
                "{cu}: big-endian .BTF_ids differs from resolve_btfids {version}"
            );
            assert!(cb == ob, "{cu}: bytes outside .BTF_ids differ ({version})");
            assert_eq!(
                warn_lines(&c.stderr),
                warn_lines(&o.stderr),
                "{cu}: warnings ({version})"
            );
            // The files-mode blob: what resolve_btfids writes in place once
            // the sorted big-endian BTF is the object's .BTF.
            let with_sorted = dir.join(format!("{cu}.sorted-{version}.o"));
            std::fs::copy(&obj, &with_sorted).unwrap();
            let st = Command::new("llvm-objcopy")
                .arg(format!(
                    "--update-section=.BTF={}",
                    btf_resolve::gen::out_path(&files, ".BTF").display()
                ))
                .arg(&with_sorted)
                .status()
                .unwrap();
            assert!(st.success());
            assert!(Command::new(&tool)
                .arg(&with_sorted)
                .status()
                .unwrap()
                .success());
            assert_eq!(
                ids_section(&std::fs::read(&with_sorted).unwrap()),
                std::fs::read(btf_resolve::gen::out_path(&files, ".BTF_ids")).unwrap(),
                "{cu}: files-mode blob differs from resolve_btfids {version} on the sorted BTF"
            );
            checked += 1;
        }
    }
    if checked > 0 {
        assert_eq!(checked, 4);
    }
}
