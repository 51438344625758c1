//! Shared helpers of the dedup tests: the libbpf oracle harness, raw blobs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use btfkit_tests::{oracle, oracle_file, oracle_program, workspace_root};

/// A raw little-endian BTF blob from type words and a string section.
pub fn blob(words: &[u32], strs: &[u8]) -> Vec<u8> {
    let tl = (words.len() * 4) as u32;
    let mut v = Vec::new();
    v.extend_from_slice(&0xeb9fu16.to_le_bytes());
    v.extend_from_slice(&[1, 0]);
    for x in [24u32, 0, tl, tl, strs.len() as u32] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    for w in words {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v.extend_from_slice(strs);
    v
}

/// The libbpf harness (tests/harness/dedup_oracle.c) built against the
/// system libbpf, or `None` (skip; a failure in CI) when cc or libbpf-dev is
/// missing.
pub fn harness() -> Option<PathBuf> {
    static H: OnceLock<Option<PathBuf>> = OnceLock::new();
    H.get_or_init(|| {
        if !oracle_program("cc") || oracle_file("/usr/include/bpf/btf.h").is_none() {
            return None;
        }
        let src = workspace_root().join("tests/harness/dedup_oracle.c");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dedup_oracle");
        let tmp = out.with_extension(format!("tmp{}", std::process::id()));
        let st = Command::new("cc")
            .args(["-O2", "-o"])
            .arg(&tmp)
            .arg(&src)
            .arg("-lbpf")
            .status();
        let ok = st.is_ok_and(|s| s.success()) && std::fs::rename(&tmp, &out).is_ok();
        oracle(ok, "libbpf harness (cc ... -lbpf)").then_some(out)
    })
    .clone()
}

/// Runs the harness; returns its output file's bytes, or the exit status and
/// stderr when it fails.
pub fn run_harness(args: &[&Path], mode: &str, force: bool) -> Result<Vec<u8>, String> {
    let h = harness().ok_or("no harness")?;
    let dir = tempdir();
    let out = dir.join(format!("libbpf-{}.btf", unique()));
    let mut cmd = Command::new(h);
    cmd.arg(mode);
    if force {
        cmd.arg("-f");
    }
    cmd.args(args).arg(&out);
    let o = cmd.output().map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(format!(
            "{:?}: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let data = std::fs::read(&out).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&out);
    Ok(data)
}

/// A scratch directory under the target dir.
pub fn tempdir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dedup");
    let _ = std::fs::create_dir_all(&d);
    d
}

/// A process-unique counter for file names.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes `data` to a fresh scratch file and returns its path.
pub fn scratch_file(data: &[u8]) -> PathBuf {
    let p = tempdir().join(format!("in-{}.btf", unique()));
    std::fs::write(&p, data).expect("write scratch file");
    p
}

/// The `btf-dedup` binary of this build (built by cargo for this test run).
pub fn dedup_bin() -> PathBuf {
    // tests run from target/<profile>/deps; the binary is in target/<profile>.
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.join("btf-dedup")
}

/// The strings of a raw blob's string section, in order.
pub fn strings_of(raw: &[u8]) -> Vec<String> {
    let hl = u32::from_le_bytes(raw[4..8].try_into().unwrap()) as usize;
    let so = u32::from_le_bytes(raw[16..20].try_into().unwrap()) as usize;
    let sl = u32::from_le_bytes(raw[20..24].try_into().unwrap()) as usize;
    let s = &raw[hl + so..hl + so + sl];
    let mut v: Vec<String> = s
        .split(|&b| b == 0)
        .map(|x| String::from_utf8_lossy(x).into_owned())
        .collect();
    v.pop();
    v
}
