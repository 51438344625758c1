//! Helpers for btf-resolve's tests: the oracle rule of the workspace (an oracle
//! missing on a developer's machine skips with `SKIP:`, under `CI=true` it
//! fails), the resolve_btfids builds, and the C fixtures.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

// The workspace's oracle rule and inputs, shared with every other test.
#[allow(unused_imports)]
pub use btfkit_tests::{in_ci, modules_61, oracle, MODULES_61, VMLINUX_61};

/// A scratch directory for this test binary.
pub fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("btf-resolve")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

fn cache() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("btf-resolve-cache");
    std::fs::create_dir_all(&d).expect("create cache dir");
    d
}

static BUILD: Mutex<()> = Mutex::new(());

/// resolve_btfids built from `/usr/src/linux-source-<version>.tar.xz`
/// (cached), under the oracle rule.
pub fn resolve_btfids(version: &str) -> Option<PathBuf> {
    let _g = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let out = cache().join(format!("resolve_btfids-{version}"));
    let bin = out.join("resolve_btfids");
    if !bin.exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/build-resolve-btfids.sh");
        let r = Command::new("bash")
            .arg(script)
            .arg(version)
            .arg(&out)
            .output();
        let ok = r.as_ref().is_ok_and(|o| o.status.success());
        if !ok {
            if let Ok(o) = &r {
                eprintln!("{}", String::from_utf8_lossy(&o.stderr));
            }
        }
        if !oracle(
            ok && bin.exists(),
            &format!("resolve_btfids from linux-source-{version}"),
        ) {
            return None;
        }
    }
    Some(bin)
}

/// Whether `prog` is on PATH.
pub fn have(prog: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {prog}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run_ok(cmd: &mut Command) -> bool {
    match cmd.output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!("{:?}: {}", cmd, String::from_utf8_lossy(&o.stderr));
            false
        }
        Err(e) => {
            eprintln!("{cmd:?}: {e}");
            false
        }
    }
}

/// Compiles C sources (from `tests/c/`, plus extra ones given as text) with
/// `gcc -g`, links them with `ld -r`, and (when `btf`) gives the result BTF
/// with `pahole -J`. Returns the object, under the oracle rule for gcc, ld
/// and pahole.
pub fn fixture(dir: &Path, name: &str, units: &[(&str, &str)], btf: bool) -> Option<PathBuf> {
    if !oracle(
        have("gcc") && have("ld") && have("pahole"),
        "gcc, ld and pahole",
    ) {
        return None;
    }
    let cdir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c");
    let mut objs = Vec::new();
    for (i, (file, text)) in units.iter().enumerate() {
        let src = if text.is_empty() {
            cdir.join(file)
        } else {
            let p = dir.join(format!("{name}-{i}-{file}"));
            std::fs::write(&p, text).expect("write C source");
            p
        };
        let obj = dir.join(format!("{name}-{i}.o"));
        assert!(
            run_ok(
                Command::new("gcc")
                    .args(["-g", "-O1", "-c", "-I"])
                    .arg(&cdir)
                    .arg(&src)
                    .arg("-o")
                    .arg(&obj)
            ),
            "gcc failed on {}",
            src.display()
        );
        objs.push(obj);
    }
    let out = dir.join(format!("{name}.o"));
    assert!(
        run_ok(Command::new("ld").arg("-r").args(&objs).arg("-o").arg(&out)),
        "ld -r failed"
    );
    if btf {
        assert!(
            run_ok(Command::new("pahole").arg("-J").arg(&out)),
            "pahole -J failed"
        );
    }
    Some(out)
}

/// Runs our binary.
pub fn ours(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_btf-resolve"))
        .args(args)
        .output()
        .expect("run btf-resolve")
}

/// The `.BTF_ids` bytes of an ELF image.
pub fn ids_section(data: &[u8]) -> Vec<u8> {
    match btf_resolve::elf::read(data).expect("readable ELF") {
        btf_resolve::elf::Found::Ids(s) => {
            data[s.file_offset as usize..(s.file_offset + s.size) as usize].to_vec()
        }
        btf_resolve::elf::Found::Nothing(w) => panic!("no .BTF_ids: {w}"),
    }
}

/// The `WARN:` lines of a tool's stderr.
pub fn warn_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.starts_with("WARN:"))
        .map(str::to_string)
        .collect()
}

/// A small deterministic generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
