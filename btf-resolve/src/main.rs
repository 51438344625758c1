//! `btf-resolve`: the command. A thin layer over the library: arguments,
//! messages, exit status.

use std::path::PathBuf;
use std::process::ExitCode;

use btf_resolve::gen::Interface;
use clap::Parser;

/// Resolve the BTF type ids of the .BTF_ids section of a kernel image or
/// module (a drop-in for the kernel build's resolve_btfids).
#[derive(Parser, Debug)]
#[command(
    name = "btf-resolve",
    version,
    about,
    after_help = "Use as RESOLVE_BTFIDS=btf-resolve in a kernel build: the flags are resolve_btfids'.\n\
                  Linux 6.1..6.18 scripts: btf-resolve [-v] [--btf FILE] [-b BASE] ELF patches ELF's .BTF_ids.\n\
                  Linux 6.19+ (scripts/gen-btf.sh): btf-resolve [--fatal_warnings] [--distill_base] [-b BASE] \
                  --btf ELF.BTF.1 ELF leaves ELF alone and writes ELF.BTF_ids, ELF.BTF (kfuncs with \
                  KF_IMPLICIT_ARGS rewritten, types sorted by name) and, with --distill_base, ELF.BTF.base; \
                  then btf-resolve --patch_btfids ELF.BTF_ids ELF.\n\
                  Which one a run follows: --mode (auto: files when --distill_base is given or when the --btf \
                  file is ELF.BTF.1, as gen-btf.sh names it)."
)]
struct Cli {
    /// Be more verbose: -v prints each slot as it is written (resolve_btfids'
    /// lines) and a summary; -vv also each slot's symbol, object file, id and
    /// kind, and each set entry with its flags after sorting.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Take the BTF from FILE (raw BTF or an ELF with .BTF) instead of ELF's own .BTF.
    #[arg(long, value_name = "FILE")]
    btf: Option<PathBuf>,

    /// Base BTF: ELF's .BTF is split BTF on it (a module on vmlinux).
    #[arg(
        short = 'b',
        long = "btf_base",
        visible_alias = "btf-base",
        value_name = "BASE"
    )]
    btf_base: Option<PathBuf>,

    /// Treat warnings (unresolved symbols, multiple ids) as errors: nothing is written.
    #[arg(long = "fatal_warnings", visible_alias = "fatal-warnings")]
    fatal_warnings: bool,

    /// Put the bytes of BLOB (a resolved .BTF_ids) into ELF's .BTF_ids section.
    #[arg(
        long = "patch_btfids",
        visible_alias = "patch-btfids",
        value_name = "BLOB"
    )]
    patch_btfids: Option<PathBuf>,

    /// Distill the base (-b) into ELF.BTF.base and write ELF.BTF as split BTF
    /// on it (out-of-tree modules; libbpf's btf__distill_base). Implies --mode files.
    #[arg(long = "distill_base", visible_alias = "distill-base")]
    distill_base: bool,

    /// Which interface: elf (patch ELF's .BTF_ids in place, Linux 6.1..6.18),
    /// files (write ELF.BTF_ids, ELF.BTF, ELF.BTF.base; Linux 6.19+), or auto.
    #[arg(long, value_name = "MODE", value_parser = ["auto", "elf", "files"], default_value = "auto")]
    mode: String,

    /// After resolving, check: every set8 entry is a FUNC, every dtor of a dtor
    /// list is `void f(T *)`, no slot left 0.
    #[arg(long)]
    check: bool,

    /// Write a patched copy beside ELF and rename it over ELF (atomic even if
    /// killed mid-write; copies the whole file). Default: one verified write
    /// of the section's bytes in place.
    #[arg(long)]
    atomic: bool,

    /// Print a report of every list and set (names, ids, flags) on stdout.
    #[arg(long, value_name = "FORMAT", value_parser = ["json"])]
    report: Option<String>,

    /// The ELF file to patch in place (vmlinux, a module .ko, an object).
    #[arg(value_name = "ELF")]
    elf: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("FAILED: btf-resolve: {e}");
            ExitCode::from(1)
        }
    }
}

fn mode(cli: &Cli) -> btf_resolve::WriteMode {
    if cli.atomic {
        btf_resolve::WriteMode::Atomic
    } else {
        btf_resolve::WriteMode::InPlace
    }
}

fn run(cli: &Cli) -> Result<(), btf_resolve::Error> {
    if let Some(blob) = &cli.patch_btfids {
        let bytes = std::fs::read(blob)
            .map_err(|e| btf_resolve::Error::new(format!("{}: {e}", blob.display())))?;
        let changed = btf_resolve::patch_from_blob(&cli.elf, &bytes, mode(cli))?;
        if cli.verbose > 0 {
            eprintln!(
                "update {} for {}",
                if changed { "ok" } else { "not needed" },
                cli.elf.display()
            );
        }
        return Ok(());
    }
    let src = btf_resolve::Sources {
        btf: cli.btf.clone(),
        base: cli.btf_base.clone(),
    };
    let opts = btf_resolve::Options {
        fatal_warnings: cli.fatal_warnings,
        check: cli.check,
        write: mode(cli),
    };
    let iface = match cli.mode.as_str() {
        "elf" => Interface::Elf,
        "files" => Interface::Files,
        _ => Interface::Auto,
    };
    if iface.pick(&cli.elf, cli.btf.as_deref(), cli.distill_base) == Interface::Files {
        return run_files(cli, &src, &opts);
    }
    match btf_resolve::resolve_file(&cli.elf, &src, &opts)? {
        btf_resolve::Outcome::Nothing(why) => {
            if cli.verbose > 0 {
                eprintln!("{why} in {}, nothing to do", cli.elf.display());
            }
            if cli.report.is_some() {
                println!("{{}}");
            }
        }
        btf_resolve::Outcome::Resolved { plan, written, btf } => {
            for w in &plan.warnings {
                eprintln!("{w}");
            }
            if cli.verbose > 0 {
                for l in &plan.verbose {
                    eprintln!("{l}");
                }
                if cli.verbose > 1 {
                    for l in btf_resolve::detail::detail_lines(&plan, &btf) {
                        eprintln!("{l}");
                    }
                }
                let s = &plan.stats;
                eprintln!(
                    "{} symbols: {} id slots ({} names, {} unresolved) and {} BTF_ID_UNUSED ({} id words), {} sets, {} set8; update {} for {}",
                    s.symbols,
                    s.slots,
                    s.names,
                    s.unresolved,
                    s.unused,
                    s.slots + s.unused,
                    s.sets,
                    s.set8s,
                    if written { "ok" } else { "not needed" },
                    cli.elf.display()
                );
            }
            if cli.report.is_some() {
                let v = btf_resolve::report_json(&plan, &btf);
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
        }
    }
    Ok(())
}

/// The newer interface: outputs beside the ELF, the ELF untouched.
fn run_files(
    cli: &Cli,
    src: &btf_resolve::Sources,
    opts: &btf_resolve::Options,
) -> Result<(), btf_resolve::Error> {
    let g = btf_resolve::gen::GenOptions {
        distill_base: cli.distill_base,
        dry: false,
    };
    let out = btf_resolve::gen::gen(&cli.elf, src, opts, &g)?;
    if let Some(plan) = &out.plan {
        for w in &plan.warnings {
            eprintln!("{w}");
        }
    }
    if cli.verbose > 0 {
        if let Some(why) = out.nothing {
            eprintln!("{why} in {}, skip symbols resolution", cli.elf.display());
        }
        for r in &out.rewritten {
            eprintln!(
                "updated BTF for kfunc with implicit args {}{}",
                r.name,
                if r.impl_func.is_some() {
                    " (added _impl)"
                } else {
                    ""
                }
            );
        }
        if let Some(plan) = &out.plan {
            for l in &plan.verbose {
                eprintln!("{l}");
            }
            if cli.verbose > 1 {
                for l in btf_resolve::detail::detail_lines(plan, &out.btf) {
                    eprintln!("{l}");
                }
            }
        }
        for (p, n) in &out.files {
            eprintln!("Dumped {n} bytes of data to {}", p.display());
        }
    }
    if cli.report.is_some() {
        match &out.plan {
            Some(plan) => {
                let v = btf_resolve::report_json(plan, &out.btf);
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            None => println!("{{}}"),
        }
    }
    Ok(())
}
