//! The `btf-dump` command: dump BTF as bpftool does, check it as the kernel
//! would, or diff two BTFs. See `btf-dump --help`.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use btf::{Btf, Kind};
use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
bpftool equivalents:
  btf-dump FILE                    bpftool btf dump file FILE            (format raw)
  btf-dump -f c FILE               bpftool btf dump file FILE format c
  btf-dump -f json FILE            bpftool -j btf dump file FILE
  btf-dump -B BASE FILE            bpftool btf dump -B BASE file FILE    (split BTF)
  btf-dump --verify FILE           what `bpf(BPF_BTF_LOAD)` would say about FILE
  btf-dump diff A B                (no bpftool equivalent) structural diff of two BTFs

FILE is raw BTF (/sys/kernel/btf/vmlinux, a `format raw` blob), an ELF file with a
.BTF section (vmlinux, a module .ko, a BPF .o) or either compressed with zstd
(.ko.zst). /sys/kernel/btf/<module> is read on /sys/kernel/btf/vmlinux
automatically, as bpftool does; other split BTF (a module's .ko) needs -B.

Broken BTF is shown as bpftool shows it: whatever libbpf 1.1 can walk (the
header, the string section's NULs, every record of a known kind and whole) is
dumped as bpftool 7.1 dumps it, out-of-range type ids and string offsets
included (a bad name prints as `(invalid)`), with one line on stderr,
`btf-dump: FILE: warning: <first problem>; the kernel says: <its message>`.
--strict refuses such BTF instead (exit 2).

Exit status: 0 success, also for BTF shown with a warning (and, with --verify,
accepted); 1 rejected by --verify; 2 bad input or usage (the message names the
file, the offset or type id, and what was wrong), or with --strict BTF that
only the lenient read accepts.";

const DIFF_AFTER_HELP: &str = "\
Types are compared by structure, not by id: two types match when their kind,
name, size and contents (members with names, offsets and bitfield sizes;
parameters; enumerators; ...) match, references to named types by kind and name
and references to anonymous types by their structure. Named types present on both
sides with different definitions are reported as differing, with what changed.
The last line is always `only_a=N only_b=N differ=N`.

Exit status: 0 whatever the differences; 2 bad input or usage.";

/// Dump, verify or diff BTF (the BPF Type Format).
#[derive(Parser, Debug)]
#[command(
    name = "btf-dump",
    version,
    about = "Dump BTF as bpftool does (raw text, C header, JSON), check it as the kernel would, diff two BTFs",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    dump: DumpArgs,
}

#[derive(Args, Debug)]
struct DumpArgs {
    /// Base BTF for split BTF, e.g. vmlinux for a module (bpftool -B/--base-btf).
    #[arg(
        short = 'B',
        long = "base",
        visible_alias = "base-btf",
        value_name = "BASE"
    )]
    base: Option<PathBuf>,
    /// Output format (bpftool `format raw|c`; json is bpftool -j).
    #[arg(short, long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// Short for --format json (bpftool -j).
    #[arg(short = 'j', long = "json", conflicts_with = "format")]
    json: bool,
    /// Check the BTF as the kernel's BPF_BTF_LOAD would. Rejected: prints
    /// `btf-dump: FILE: rejected: <kernel message>` and exits 1. Accepted: exits 0,
    /// dumping only when --format/-j is also given.
    #[arg(long)]
    verify: bool,
    /// Refuse BTF that the kernel's and the library's rules reject even where
    /// bpftool still dumps it (out-of-range ids or string offsets, a vlen on
    /// a kind without members, reserved bits, a FWD with a size): exit 2.
    /// Without it such BTF is dumped as bpftool does, with a warning.
    #[arg(long)]
    strict: bool,
    /// The BTF to read: raw BTF, /sys/kernel/btf/*, an ELF (vmlinux, .ko, .o), or zstd of either.
    #[arg(required = true, value_name = "FILE")]
    file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Structural diff of two BTFs: what only A has, only B has, and what differs.
    #[command(after_help = DIFF_AFTER_HELP)]
    Diff(DiffArgs),
}

#[derive(Args, Debug)]
struct DiffArgs {
    /// The first BTF.
    a: PathBuf,
    /// The second BTF.
    b: PathBuf,
    /// Base BTF for both, when they are split BTF (bpftool -B).
    #[arg(short = 'B', long = "base", value_name = "BASE")]
    base: Option<PathBuf>,
    /// Report only these kinds, e.g. `struct,union,enum` (names as bpftool prints
    /// them, any case: int, ptr, array, struct, union, enum, enum64, fwd, typedef,
    /// volatile, const, restrict, func, func_proto, var, datasec, float, decl_tag,
    /// type_tag).
    #[arg(long, value_delimiter = ',', value_parser = parse_kind, value_name = "K,K")]
    kinds: Vec<Kind>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One line per type, members indented: `bpftool btf dump file F`.
    Raw,
    /// A C header: `bpftool btf dump file F format c`.
    C,
    /// JSON: `bpftool -j btf dump file F`.
    Json,
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    btf_dump::diff::parse_kind(s).ok_or_else(|| {
        format!("unknown BTF kind `{s}` (expected e.g. struct, union, enum, typedef, func)")
    })
}

/// How a run ends.
enum Failure {
    /// Bad input: exit 2 with the message.
    Input(btf::Error),
    /// Writing the output failed.
    Output(io::Error),
}

impl From<btf::Error> for Failure {
    fn from(e: btf::Error) -> Self {
        Failure::Input(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Some(Cmd::Diff(d)) => run_diff(&d),
        None => run_dump(&cli.dump),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Input(e)) => {
            eprintln!("btf-dump: {e}");
            ExitCode::from(2)
        }
        // `btf-dump ... | head`: the reader is gone, which is not an error.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("btf-dump: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}

/// Loads the base named by `--base`.
fn load_base(path: Option<&Path>) -> Result<Option<Arc<Btf>>, btf::Error> {
    match path {
        Some(p) => Ok(Some(Arc::new(btf::load(p).map_err(|e| e.with_file(p))?))),
        None => Ok(None),
    }
}

/// The base for `file`: the explicit one, or vmlinux for `/sys/kernel/btf/<module>`.
fn base_for(file: &Path, explicit: Option<Arc<Btf>>) -> Result<Option<Arc<Btf>>, btf::Error> {
    if explicit.is_some() {
        return Ok(explicit);
    }
    match btf::read::sysfs_base_for(file) {
        Some(b) => load_base(Some(&b)),
        None => Ok(None),
    }
}

fn run_dump(args: &DumpArgs) -> Result<ExitCode, Failure> {
    let Some(file) = args.file.as_deref() else {
        return Err(btf::Error::new("no FILE given").into());
    };
    let base = base_for(file, load_base(args.base.as_deref())?)?;
    let data = btf::read::file::read_file(file)?;
    let format = if args.json {
        Some(Format::Json)
    } else {
        args.format
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    if args.verify {
        let raw = btf::read::raw_btf_bytes(&data).map_err(|e| e.with_file(file))?;
        if let Err(r) = btf::verify::verify_raw(&raw, base.as_deref()) {
            // The kernel's bytes, names that are not UTF-8 included.
            write!(out, "btf-dump: {}: rejected: ", file.display())?;
            out.write_all(&r.message_bytes)?;
            out.write_all(b"\n")?;
            out.flush()?;
            return Ok(ExitCode::from(1));
        }
        if format.is_none() {
            writeln!(out, "btf-dump: {}: accepted", file.display())?;
            out.flush()?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    let btf = if args.strict {
        btf::parse_any(&data, base).map_err(|e| e.with_file(file))?
    } else {
        let l = btf::read::parse_any_lenient(&data, base).map_err(|e| e.with_file(file))?;
        if let Some(p) = l.problem() {
            warn(file, p, &data, l.for_display().base().map(|b| &**b));
        }
        drop(data);
        // The dumps only read the types: the lenient model is what they show.
        return dump_as(l.for_display(), format, &mut out);
    };
    drop(data);
    dump_as(&btf, format, &mut out)
}

/// The one stderr line for BTF dumped despite a problem: the first problem
/// and, when the kernel would reject the blob, the kernel's message.
fn warn(file: &Path, problem: &btf::Error, data: &[u8], base: Option<&Btf>) {
    let mut line = format!("btf-dump: {}: warning: {problem}", file.display()).into_bytes();
    if let Ok(raw) = btf::read::raw_btf_bytes(data) {
        if let Err(r) = btf::verify::verify_raw(&raw, base) {
            line.extend_from_slice(b"; the kernel says: ");
            line.extend_from_slice(&r.message_bytes);
        }
    }
    line.push(b'\n');
    let _ = io::stderr().write_all(&line);
}

/// Writes `btf` in `format` (raw when none) and flushes.
fn dump_as(btf: &Btf, format: Option<Format>, out: &mut dyn Write) -> Result<ExitCode, Failure> {
    match format.unwrap_or(Format::Raw) {
        Format::Raw => btf_dump::raw::dump(btf, out)?,
        Format::C => btf_dump::c::dump(btf, out)?,
        Format::Json => btf_dump::json::dump(btf, out)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn run_diff(args: &DiffArgs) -> Result<ExitCode, Failure> {
    let base = load_base(args.base.as_deref())?;
    let load = |p: &Path| -> Result<Btf, btf::Error> {
        let base = base_for(p, base.clone())?;
        let data = btf::read::file::read_file(p)?;
        btf::parse_any(&data, base).map_err(|e| e.with_file(p))
    };
    // The two inputs are independent: read them side by side.
    let (a, b) = std::thread::scope(|s| {
        let ha = s.spawn(|| load(&args.a));
        let b = load(&args.b);
        let a = ha
            .join()
            .unwrap_or_else(|_| Err(btf::Error::new("reading the first file failed")));
        (a, b)
    });
    let (a, b) = (a?, b?);
    let opts = btf_dump::diff::Options {
        kinds: (!args.kinds.is_empty()).then(|| args.kinds.clone()),
    };
    let d = btf_dump::diff::diff(&a, &b);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    d.print(&a, &b, &opts, &mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
