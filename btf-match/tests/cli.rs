//! `btf-match map-value`: exit 0 with the field table, 1 with the reason, 2 on bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

use btf::Builder;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_btf-match"))
}

/// `struct v { int i; struct PTR_TAG PTR_STRUCT *p; }` as raw BTF in a temp file.
fn value_file(dir: &Path, name: &str, tag: &str, pointee: &str) -> PathBuf {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, 1);
    let s = b.add_struct(pointee, 8, &[]);
    let t = b.add_type_tag(tag, s);
    let p = b.add_ptr(t);
    b.add_struct("v", 16, &[("i", int, 0), ("p", p, 64)]);
    let path = dir.join(name);
    std::fs::write(&path, b.finish().expect("build").to_bytes()).expect("write");
    path
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = bin().args(args).output().expect("run btf-match");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn map_value_exit_codes() {
    let Some(k) = btfkit_tests::oracle_file(btfkit_tests::SYS_VMLINUX) else {
        return;
    };
    let k = k.to_str().expect("path");
    let dir = std::env::temp_dir().join(format!("btf-match-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let good = value_file(&dir, "good.btf", "kptr", "task_struct");
    let bad = value_file(&dir, "bad.btf", "kptr", "file");
    let g = good.to_str().expect("path");
    let (code, out, _) = run(&["map-value", "--btf", g, "--type", "v", "--kernel-btf", k]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("8   8 kptr            p -> kernel struct task_struct"),
        "{out}"
    );
    assert!(out.contains("dtor bpf_task_release_dtor"), "{out}");

    let (code, out, _) = run(&[
        "map-value",
        "--btf",
        bad.to_str().expect("p"),
        "--type",
        "v",
        "--kernel-btf",
        k,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BPF_BTF_LOAD fails with ENOENT"), "{out}");
    assert!(out.contains("field 'p' at offset 8"), "{out}");
    assert!(out.contains("no destructor"), "{out}");

    let (code, out, _) = run(&[
        "map-value",
        "--btf",
        g,
        "--type",
        "v",
        "--map-type",
        "queue",
        "--kernel-btf",
        k,
    ]);
    assert_eq!(code, 2, "{out}");
    let (code, _, err) = run(&["map-value", "--btf", g, "--type", "nope", "--kernel-btf", k]);
    assert_eq!(code, 2);
    assert!(err.contains("no struct 'nope'"), "{err}");
    let corrupt = dir.join("corrupt.btf");
    let mut bytes = std::fs::read(&good).expect("read");
    bytes.truncate(30);
    std::fs::write(&corrupt, &bytes).expect("write");
    let (code, _, err) = run(&[
        "map-value",
        "--btf",
        corrupt.to_str().expect("p"),
        "--type",
        "v",
        "--kernel-btf",
        k,
    ]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&[
        "map-value",
        "--btf",
        g,
        "--type",
        "v",
        "--kernel",
        "6.5",
        "--kernel-btf",
        k,
    ]);
    assert_eq!(code, 2, "{err}");
    // Under 6.1 rules `kptr` is unreferenced: the same value is fine.
    let (code, out, _) = run(&[
        "map-value",
        "--btf",
        g,
        "--type",
        "v",
        "--kernel",
        "6.1",
        "--kernel-btf",
        k,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("kptr_untrusted"), "{out}");
    let (code, out, _) = run(&[
        "map-value",
        "--btf",
        g,
        "--type",
        "v",
        "--map-type",
        "task_storage",
        "--map-flags",
        "0x80",
        "--kernel-btf",
        k,
    ]);
    assert_eq!(code, 1, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A reader that goes away (`btf-match kfuncs | head -1`) ends the listing
/// quietly: exit 0, no panic.
#[test]
fn kfuncs_listing_into_a_closed_pipe() {
    use std::process::Stdio;
    let mut child = bin()
        .args(["kfuncs", "--kernel", "6.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run btf-match");
    // Closed before the child writes (it is still starting): its first
    // write meets EPIPE.
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "stderr: {err}");
    assert_eq!(o.status.code(), Some(0), "stderr: {err}");
}
