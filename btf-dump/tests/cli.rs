//! The `btf-dump` binary: exit codes, messages, broken pipes, and truncated or
//! corrupted copies of real BTF (never a signal or a panic; exit 2 with a
//! message naming the file).
//!
//! These tests live in the btf-dump package because only its own tests get
//! `CARGO_BIN_EXE_btf-dump`. Oracles follow the rule of `btfkit-tests`: missing
//! on a developer's machine, the test skips; with `CI=true` it fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_btf-dump");
const SYS_VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// The oracle rule: `true` when present; else skip (or fail in CI).
fn oracle(ok: bool, what: &str) -> bool {
    if !ok {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "oracle missing in CI (CI=true): {what}"
        );
        eprintln!("SKIP: oracle missing: {what}");
    }
    ok
}

/// `../shared/suites/btf_dump` beside the workspace.
fn suite_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/suites/btf_dump");
    oracle(p.exists(), "../shared/suites/btf_dump").then_some(p)
}

fn btf_dump(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("cannot run btf-dump")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A deterministic pseudo-random sequence (an LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// Runs every output mode on `file` and checks the exit contract.
fn check_contract(file: &Path, what: &str) {
    let modes: [&[&str]; 4] = [&["-f", "raw"], &["-f", "c"], &["-f", "json"], &["--verify"]];
    for mode in modes {
        let mut args: Vec<&std::ffi::OsStr> = mode.iter().map(|s| s.as_ref()).collect();
        args.push(file.as_os_str());
        let out = btf_dump(&args);
        let err = text(&out.stderr);
        let code = out.status.code();
        let ok_codes: &[i32] = if mode == ["--verify"] {
            &[0, 1, 2]
        } else {
            &[0, 2]
        };
        assert!(
            code.is_some_and(|c| ok_codes.contains(&c)),
            "{what} {mode:?}: exit {:?} (signal or panic?), stderr: {err}",
            out.status
        );
        assert!(!err.contains("panicked"), "{what} {mode:?}: {err}");
        if code == Some(2) {
            assert!(
                err.starts_with("btf-dump: ") && err.contains(&*file.to_string_lossy()),
                "{what} {mode:?}: message does not name the file: {err}"
            );
        }
        if code == Some(1) {
            let out = text(&out.stdout);
            assert!(
                out.starts_with(&format!("btf-dump: {}: rejected: ", file.display())),
                "{what}: {out}"
            );
        }
    }
}

/// Truncations at many lengths and byte flips at many offsets of a real raw
/// blob and of the ELF object holding it.
#[test]
fn corrupted_inputs_exit_0_or_2_naming_the_file() {
    let Some(dir) = suite_dir() else { return };
    let obj = dir.join("btf_dump_test_case_syntax.bpf.o");
    let elf = std::fs::read(&obj).unwrap();
    let raw = btf::read::raw_btf_bytes(&elf).unwrap().into_owned();
    let tmp = std::env::temp_dir().join(format!("btf-dump-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut rng = Lcg(0x5eed);
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, data) in [("raw", &raw), ("elf", &elf)] {
        // Every length in the header, then lengths spread over the rest.
        let mut lens: Vec<usize> = (0..32.min(data.len())).collect();
        for _ in 0..60 {
            lens.push(rng.next() as usize % data.len());
        }
        for l in lens {
            cases.push((format!("{name} truncated to {l}"), data[..l].to_vec()));
        }
        for _ in 0..100 {
            let mut d = data.clone();
            // One to four flipped bytes; half of them in the first 256 bytes,
            // where the header and the first records are.
            let n = 1 + rng.next() as usize % 4;
            let mut at = Vec::new();
            for _ in 0..n {
                let span = if rng.next() & 1 == 0 {
                    256.min(d.len())
                } else {
                    d.len()
                };
                let i = rng.next() as usize % span;
                d[i] ^= 1 << (rng.next() % 8);
                at.push(i);
            }
            cases.push((format!("{name} with bytes flipped at {at:?}"), d));
        }
    }
    for (i, (what, data)) in cases.iter().enumerate() {
        let f = tmp.join(format!("case-{i}.btf"));
        std::fs::write(&f, data).unwrap();
        check_contract(&f, what);
        let _ = std::fs::remove_file(&f);
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn bad_input_names_the_file() {
    let out = btf_dump(&["/nonexistent/file.btf".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("btf-dump: /nonexistent/file.btf: "),
        "{err}"
    );

    let tmp = std::env::temp_dir().join(format!("btf-dump-bad-{}.btf", std::process::id()));
    std::fs::write(&tmp, b"\x9f\xeb\x01\x00\x18\x00\x00\x00").unwrap();
    let out = btf_dump(&[tmp.as_os_str()]);
    let _ = std::fs::remove_file(&tmp);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&*tmp.to_string_lossy()) && err.contains("offset"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_mentions_bpftool() {
    assert_eq!(btf_dump(&[]).status.code(), Some(2));
    assert_eq!(
        btf_dump(&["--format".as_ref(), "xml".as_ref(), "f".as_ref()])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        btf_dump(&[
            "diff".as_ref(),
            "a".as_ref(),
            "b".as_ref(),
            "--kinds".as_ref(),
            "nope".as_ref()
        ])
        .status
        .code(),
        Some(2)
    );
    let help = btf_dump(&["--help".as_ref()]);
    assert_eq!(help.status.code(), Some(0));
    let h = text(&help.stdout);
    assert!(h.contains("bpftool btf dump file FILE format c"), "{h}");
    assert!(h.contains("bpftool -j btf dump file FILE"), "{h}");
}

#[test]
fn broken_pipe_exits_quietly() {
    if !oracle(Path::new(SYS_VMLINUX).exists(), SYS_VMLINUX) {
        return;
    }
    for fmt in ["raw", "json"] {
        let mut child = Command::new(BIN)
            .args(["-f", fmt, SYS_VMLINUX])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = [0u8; 100];
        child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        // The pipe's read end is closed now: the next write fails with EPIPE.
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{fmt}: {}", text(&out.stderr));
        assert!(out.stderr.is_empty(), "{fmt}: {}", text(&out.stderr));
    }
}

#[test]
fn verify_accepts_the_running_kernel() {
    if !oracle(Path::new(SYS_VMLINUX).exists(), SYS_VMLINUX) {
        return;
    }
    let out = btf_dump(&["--verify".as_ref(), SYS_VMLINUX.as_ref()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stdout),
        format!("btf-dump: {SYS_VMLINUX}: accepted\n")
    );
}

#[test]
fn diff_self_and_dump_formats() {
    let Some(dir) = suite_dir() else { return };
    let a = dir.join("btf_dump_test_case_syntax.bpf.o");
    let out = btf_dump(&["diff".as_ref(), a.as_os_str(), a.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "only_a=0 only_b=0 differ=0\n");
    let b = dir.join("btf_dump_test_case_syntax.host.o");
    let out = btf_dump(&[
        "diff".as_ref(),
        "--kinds".as_ref(),
        "struct,UNION".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let s = text(&out.stdout);
    let last = s.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("only_a=") && last.contains(" only_b=") && last.contains(" differ="),
        "{s}"
    );
    for line in s
        .lines()
        .filter(|l| l.starts_with("only_") && l.contains(": ["))
    {
        assert!(
            line.contains("] STRUCT '") || line.contains("] UNION '"),
            "{line}"
        );
    }
    // -j is --format json.
    let j = btf_dump(&["-j".as_ref(), a.as_os_str()]);
    let f = btf_dump(&["--format".as_ref(), "json".as_ref(), a.as_os_str()]);
    assert_eq!(j.status.code(), Some(0));
    assert_eq!(j.stdout, f.stdout);
    assert!(j.stdout.starts_with(b"{\"types\":[{\"id\":1,"));
}

/// A raw little-endian blob: an INT `int`, then a PTR named by `ptr_name`
/// (a string offset) pointing at `ptr_to`.
fn small_blob(ptr_name: u32, ptr_to: u32, strings: &[u8]) -> Vec<u8> {
    let types = [
        1u32,
        0x0100_0000,
        4,
        0x0100_0020,
        ptr_name,
        0x0200_0000,
        ptr_to,
    ];
    btf::write::blob_from_words(btf::Endian::Little, &types, strings)
}

/// Broken BTF that bpftool still dumps is dumped, with one warning line and
/// exit 0; `--strict` refuses it with exit 2; a bad magic is refused either
/// way, spelled as libbpf spells it and without the split-BTF hint.
#[test]
fn broken_btf_is_dumped_with_one_warning() {
    let tmp = std::env::temp_dir().join(format!("btf-dump-lenient-{}.btf", std::process::id()));
    // The PTR refers to type 9 and its name offset is past the strings.
    std::fs::write(&tmp, small_blob(99, 9, b"\0int\0")).unwrap();
    let out = btf_dump(&[tmp.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED\n\
         [2] PTR '(invalid)' type_id=9\n"
    );
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("btf-dump: {}: warning: type [2]: ", tmp.display())),
        "{err}"
    );
    assert!(
        err.contains("the kernel says: [2] PTR (anon) type_id=9 Invalid name_offset:99")
            || err.contains("the kernel says: "),
        "{err}"
    );
    for fmt in ["json", "c"] {
        let out = btf_dump(&["-f".as_ref(), fmt.as_ref(), tmp.as_os_str()]);
        assert!(out.status.code().is_some_and(|c| c == 0 || c == 2), "{fmt}");
        assert!(!text(&out.stderr).contains("panicked"), "{fmt}");
    }
    let json = btf_dump(&["-j".as_ref(), tmp.as_os_str()]);
    assert_eq!(json.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["types"][1]["name"], "(invalid)");
    let strict = btf_dump(&["--strict".as_ref(), tmp.as_os_str()]);
    assert_eq!(strict.status.code(), Some(2));
    assert!(strict.stdout.is_empty());
    let mut bad = small_blob(0, 1, b"\0int\0");
    bad[0] = 0;
    std::fs::write(&tmp, &bad).unwrap();
    let out = btf_dump(&[tmp.as_os_str()]);
    let _ = std::fs::remove_file(&tmp);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("invalid BTF magic: eb00"), "{err}");
    assert!(!err.contains("split"), "{err}");
}

/// `--verify` writes the kernel's message bytes: a name that is not UTF-8
/// stays as it is (the kernel's log line holds it so).
#[test]
fn verify_keeps_name_bytes() {
    let tmp = std::env::temp_dir().join(format!("btf-dump-name-{}.btf", std::process::id()));
    // A PTR must have no name: the kernel prints it, then "Invalid name".
    std::fs::write(&tmp, small_blob(5, 1, b"\0int\0p\x80q\0")).unwrap();
    let out = btf_dump(&["--verify".as_ref(), tmp.as_os_str()]);
    let raw = btf_dump(&[tmp.as_os_str()]);
    let _ = std::fs::remove_file(&tmp);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let want = format!(
        "btf-dump: {}: rejected: [2] PTR p\u{80}q type_id=1 Invalid name\n",
        tmp.display()
    );
    let mut want = want.into_bytes();
    // The byte 0x80 itself, not its UTF-8 encoding.
    let at = want.windows(2).position(|w| w == [0xc2, 0x80]).unwrap();
    want.splice(at..at + 2, [0x80]);
    assert_eq!(out.stdout, want, "{}", text(&out.stdout));
    // The raw dump keeps the same bytes (bpftool does).
    assert!(
        raw.stdout.windows(5).any(|w| w == b"'p\x80q'"),
        "{}",
        text(&raw.stdout)
    );
}
