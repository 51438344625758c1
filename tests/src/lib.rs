//! Shared helpers for btfkit's integration tests: where the oracles and the real
//! inputs are, and the rule that an oracle may be missing on a developer's
//! machine (the test skips, saying so) but never in CI (`CI=true`: the test fails).

use std::path::{Path, PathBuf};
use std::process::Command;

use btf::types::*;
use btf::{Btf, Builder, TypeData, TypeId};

/// The Debian 6.1 vmlinux with DWARF and the `.BTF` its build made.
pub const VMLINUX_61: &str = "/usr/lib/debug/boot/vmlinux-6.1.0-50-cloud-amd64";
/// The Debian 6.1 modules with DWARF and split `.BTF`.
pub const MODULES_61: &str = "/usr/lib/debug/lib/modules/6.1.0-50-cloud-amd64";
/// The running kernel's BTF.
pub const SYS_VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// Whether tests run in CI, where a missing oracle is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Returns `true` when `ok`; otherwise fails the test in CI, or prints that the
/// test skips and returns `false` elsewhere.
pub fn oracle(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if in_ci() {
        panic!("oracle missing in CI (CI=true): {what}");
    }
    eprintln!("SKIP: oracle missing: {what}");
    false
}

/// Returns the path when the file exists, under the [`oracle`] rule.
pub fn oracle_file(path: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    oracle(p.exists(), path).then_some(p)
}

/// The newest pahole (v1.31+), an oracle built by hand from its fetched
/// source and never by the project's scripts (issue 8): `BTFKIT_PAHOLE_NEW`,
/// default `/work/pahole-new/bin/pahole`. Not under the [`oracle`] rule: CI
/// cannot have it, so its absence is a `SKIP:` line even with `CI=true`, and
/// the tests that use it check their feature's effect without it first.
pub fn pahole_new() -> Option<PathBuf> {
    let p = std::env::var("BTFKIT_PAHOLE_NEW")
        .unwrap_or_else(|_| "/work/pahole-new/bin/pahole".to_string());
    let p = PathBuf::from(p);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "SKIP: {} (the newest pahole, a by-hand oracle: set BTFKIT_PAHOLE_NEW)",
            p.display()
        );
        None
    }
}

/// Whether a program is on PATH, under the [`oracle`] rule.
pub fn oracle_program(name: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    oracle(found, name)
}

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `../shared` beside the workspace (suites, kernel config), under the [`oracle`] rule.
pub fn shared_dir() -> Option<PathBuf> {
    let p = workspace_root().join("../shared");
    oracle(p.join("suites").exists(), "../shared/suites").then_some(p)
}

/// Every module (`*.ko`, `*.ko.zst`, `*.ko.xz`) under [`MODULES_61`], sorted.
pub fn modules_61() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::from(MODULES_61)];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().contains(".ko") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The bpftool command that dumps `file` (on `base`) in `format`: `raw`,
/// `json` (bpftool -j) or `c`.
pub fn bpftool_dump(file: &Path, base: Option<&Path>, format: &str) -> Command {
    let mut c = Command::new("bpftool");
    if format == "json" {
        c.arg("-j");
    }
    c.args(["btf", "dump"]);
    if let Some(b) = base {
        c.arg("-B").arg(b);
    }
    c.arg("file").arg(file);
    if format == "c" {
        c.args(["format", "c"]);
    }
    c
}

/// Runs a command and returns its stdout, panicking with its stderr on failure.
pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `cmd` with stdout and stderr captured, killing it after `limit`:
/// `Ok(None)` when it ran out of time, `Err` when it could not be started
/// (a missing program is an error here, not a skip: check it with
/// [`oracle_program`] first). No external `timeout` program is needed.
pub fn output_with_timeout(
    cmd: &mut Command,
    limit: std::time::Duration,
) -> std::io::Result<Option<std::process::Output>> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Drain both pipes on threads, so that a chatty child never blocks.
    let drain = |p: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut p) = p {
                let _ = p.read_to_end(&mut v);
            }
            v
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if start.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(status.map(|status| std::process::Output {
        status,
        stdout,
        stderr,
    }))
}

/// A small BTF with one type of every kind (1..=19), valid for the kernel's
/// `BPF_BTF_LOAD`: a fixture for parser, writer and kernel tests.
pub fn every_kind() -> Btf {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let ptr = b.add_ptr(int);
    let arr = b.add_array(int, int, 4);
    let s = b.add_struct("s", 32, &[("a", int, 0), ("p", ptr, 64), ("arr", arr, 128)]);
    b.add_union("u", 4, &[("x", int, 0)]);
    b.add_enum("e", 4, true, &[("A", -1), ("B", 2)]);
    b.add_fwd("f", true);
    let td = b.add_typedef("td", s);
    b.add_volatile(td);
    let c = b.add_const(int);
    b.add_restrict(ptr);
    let fp = b.add_func_proto(int, &[("x", c), ("", TypeId::VOID)]);
    let f = b.add_func("fn", fp, linkage::GLOBAL);
    let v = b.add_var("v", int, linkage::GLOBAL);
    let n = b.add_str(".data");
    b.add_type(Type::named(
        n,
        TypeData::Datasec(Datasec {
            size: 4,
            vars: vec![VarSecInfo {
                ty: v,
                offset: 0,
                size: 4,
            }],
        }),
    ));
    b.add_float("double", 8);
    b.add_decl_tag("tag", f, -1);
    let tt = b.add_type_tag("user", int);
    b.add_ptr(tt);
    let n = b.add_str("e64");
    let big = b.add_str("BIG");
    b.add_type(Type::named(
        n,
        TypeData::Enum64(Enum64 {
            size: 8,
            values: vec![Enum64Value {
                name_off: big,
                val: 1 << 40,
            }],
        }),
    ));
    b.finish().expect("valid")
}

/// A small deterministic generator (xorshift64*) for mutation tests: the same
/// seed gives the same sequence on every machine.
pub struct Rng(pub u64);

#[allow(clippy::should_implement_trait)]
impl Rng {
    /// A generator from any seed (mixed, and never the all-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Whether the running kernel can have modules at all (`/proc/modules`
/// exists). A kernel built without module support never shows a module
/// under `/sys/kernel/btf`, so tests of sysfs modules check a stand-in there
/// ([`module_61_as_sysfs`]) instead of skipping.
pub fn kernel_has_modules() -> bool {
    Path::new("/proc/modules").exists()
}

/// A stand-in for `/sys/kernel/btf/<module>` on kernels without modules: the
/// raw split `.BTF` of a 6.1 module (the first in sorted order, as sysfs
/// shows module BTF: raw, split on vmlinux), written to `dir`. Returns the
/// file, under the [`oracle`] rule for the 6.1 debug kernel.
pub fn module_61_as_sysfs(dir: &Path) -> Option<PathBuf> {
    let mods = modules_61();
    let m = mods
        .iter()
        .find(|p| p.extension().is_some_and(|x| x == "ko"));
    if !oracle(
        m.is_some(),
        "the 6.1 debug modules (linux-image-6.1.0-50-cloud-amd64-dbg)",
    ) {
        return None;
    }
    let m = m?;
    let data = std::fs::read(m).ok()?;
    let raw = btf::read::raw_btf_bytes(&data).ok()?;
    let name = m.file_stem()?.to_string_lossy().into_owned();
    let out = dir.join(format!("{name}-{}.btf", std::process::id()));
    std::fs::write(&out, &raw).ok()?;
    Some(out)
}

/// The 14 objects of the btf_dump suite (`.bpf.o` and `.host.o` of its 7
/// cases) under `shared`, sorted.
pub fn suite_objects(shared: &Path) -> Vec<PathBuf> {
    let mut objs: Vec<PathBuf> = std::fs::read_dir(shared.join("suites/btf_dump"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    objs.retain(|p| p.extension().is_some_and(|x| x == "o"));
    objs.sort();
    assert_eq!(objs.len(), 14, "7 cases, .bpf.o and .host.o each");
    objs
}

/// Why two outputs differ: the first differing line, or `None` when equal
/// (for failure messages of the bpftool comparisons).
pub fn first_difference(ours: &[u8], theirs: &[u8]) -> Option<String> {
    if ours == theirs {
        return None;
    }
    let (a, b) = (
        String::from_utf8_lossy(ours),
        String::from_utf8_lossy(theirs),
    );
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return Some(format!("line {}: ours {x:?}\n bpftool {y:?}", i + 1));
        }
    }
    Some(format!(
        "one output is a prefix of the other: ours {} bytes, bpftool {} bytes",
        ours.len(),
        theirs.len()
    ))
}

/// A scratch directory `<tmp>/btfkit-<group>-<tag>-<pid>`, created.
pub fn scratch_dir(group: &str, tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("btfkit-{group}-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The non-empty sections of a DWARF unit written with `gimli::write`,
/// little-endian: `(section name, bytes)`.
pub fn dwarf_sections(unit: &mut gimli::write::DwarfUnit) -> Vec<(&'static str, Vec<u8>)> {
    use gimli::write::{EndianVec, Sections};
    let mut sections = Sections::new(EndianVec::new(gimli::LittleEndian));
    unit.write(&mut sections).unwrap();
    let mut out = Vec::new();
    sections
        .for_each(|id, data| -> Result<(), ()> {
            if !data.slice().is_empty() {
                out.push((id.name(), data.slice().to_vec()));
            }
            Ok(())
        })
        .unwrap();
    out
}

/// An x86-64 ELF object `<dir>/<stem>.o`: `c_source` compiled by `gcc -c`
/// with `cflags`, then `sections` added to it by `objcopy --add-section`
/// (DWARF written with [`dwarf_sections`], say, in an object with the
/// symbols it needs).
pub fn object_with_sections(
    dir: &Path,
    stem: &str,
    c_source: &str,
    cflags: &[&str],
    sections: &[(&str, Vec<u8>)],
) -> PathBuf {
    let c = dir.join(format!("{stem}.c"));
    std::fs::write(&c, c_source).unwrap();
    let o = dir.join(format!("{stem}.o"));
    assert!(Command::new("gcc")
        .args(cflags)
        .arg("-c")
        .arg("-o")
        .arg(&o)
        .arg(&c)
        .status()
        .unwrap()
        .success());
    let mut cmd = Command::new("objcopy");
    for (name, data) in sections {
        let f = dir.join(format!("{stem}{name}"));
        std::fs::write(&f, data).unwrap();
        cmd.arg("--add-section")
            .arg(format!("{name}={}", f.display()));
    }
    assert!(cmd.arg(&o).status().unwrap().success());
    o
}
