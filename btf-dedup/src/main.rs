//! `btf-dedup [--base BASE] IN -o OUT`: deduplicate BTF as libbpf's `btf__dedup`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

/// Deduplicate BTF, byte for byte as libbpf's btf__dedup.
#[derive(Parser, Debug)]
#[command(name = "btf-dedup", version, about)]
struct Cli {
    /// Input: raw BTF, or an ELF file with a .BTF section (zstd-compressed or not).
    input: PathBuf,
    /// Output file (raw BTF).
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Base BTF: IN is split BTF on it, and OUT is the deduplicated split part.
    #[arg(long)]
    base: Option<PathBuf>,
    /// Worker threads (default: RAYON_NUM_THREADS, else all CPUs). The output
    /// does not depend on it.
    #[arg(short = 'j', long = "jobs")]
    jobs: Option<usize>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("btf-dedup: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    if let Some(j) = cli.jobs {
        if j == 0 {
            return Err("-j needs at least 1 thread".into());
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(j)
            .build_global()
            .map_err(|e| format!("cannot start {j} threads: {e}"))?;
    }
    let base = match &cli.base {
        Some(b) => Some(Arc::new(
            btf::load_with_base(b, None).map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    let out = btf_dedup::dedup_file(&cli.input, base.as_deref(), &btf_dedup::Options::default())
        .map_err(|e| e.to_string())?;
    drop(base);
    write_atomic(&cli.output, &out)
}

/// Writes `data` to a temporary file next to `path`, then renames it over
/// `path`, so that `path` is only ever the complete output.
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), String> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all().ok();
        std::fs::rename(&tmp, path)
    })();
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: cannot write: {e}", path.display())
    })
}
