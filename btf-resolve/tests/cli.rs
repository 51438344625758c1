//! The command's write modes and `--patch_btfids`.

mod common;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;

use common::*;

#[test]
fn atomic_write_keeps_permissions_and_gives_the_in_place_bytes() {
    let dir = tmp("atomic");
    let Some(obj) = fixture(&dir, "one", &[("cu1.c", "")], true) else {
        return;
    };
    let (a, b) = (dir.join("a.o"), dir.join("b.o"));
    std::fs::copy(&obj, &a).unwrap();
    std::fs::copy(&obj, &b).unwrap();
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o751)).unwrap();
    assert!(ours(&[OsStr::new("--atomic"), a.as_os_str()])
        .status
        .success());
    assert!(ours(&[b.as_os_str()]).status.success());
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap());
    assert_eq!(
        std::fs::metadata(&a).unwrap().permissions().mode() & 0o7777,
        0o751
    );
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".btf-resolve."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn patch_btfids_puts_a_blob_into_the_section() {
    let dir = tmp("patch");
    let Some(obj) = fixture(&dir, "one", &[("cu1.c", "")], true) else {
        return;
    };
    let resolved = dir.join("r.o");
    std::fs::copy(&obj, &resolved).unwrap();
    assert!(ours(&[resolved.as_os_str()]).status.success());
    let want = std::fs::read(&resolved).unwrap();
    let blob = dir.join("r.o.BTF_ids");
    std::fs::write(&blob, ids_section(&want)).unwrap();
    let target = dir.join("t.o");
    std::fs::copy(&obj, &target).unwrap();
    let o = ours(&[
        OsStr::new("--patch_btfids"),
        blob.as_os_str(),
        target.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&target).unwrap() == want);
    // A blob of the wrong size is refused, the file untouched.
    std::fs::write(&blob, [0u8; 3]).unwrap();
    std::fs::copy(&obj, &target).unwrap();
    let o = ours(&[
        OsStr::new("--patch_btfids"),
        blob.as_os_str(),
        target.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the blob 3"));
    assert!(std::fs::read(&target).unwrap() == std::fs::read(&obj).unwrap());
}

#[test]
fn nothing_to_do_without_btf_ids() {
    let dir = tmp("nothing");
    let Some(obj) = fixture(
        &dir,
        "plain",
        &[("plain.c", "int f(int x) { return x; }\n")],
        true,
    ) else {
        return;
    };
    let before = std::fs::read(&obj).unwrap();
    let o = ours(&[OsStr::new("-v"), obj.as_os_str()]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no .BTF_ids section"));
    assert!(std::fs::read(&obj).unwrap() == before);
}
