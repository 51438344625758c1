//! `btf-resolve`: the command. A thin layer over the library: arguments,
//! messages, exit status.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Resolve the BTF type ids of the .BTF_ids section of a kernel image or
/// module (a drop-in for the kernel build's resolve_btfids).
#[derive(Parser, Debug)]
#[command(
    name = "btf-resolve",
    version,
    about,
    after_help = "Use as RESOLVE_BTFIDS=btf-resolve in a kernel build: the flags are resolve_btfids' \
                  (6.1 and 6.12: [-v] [--btf FILE] [-b BASE] ELF; newer: --fatal_warnings, --patch_btfids)."
)]
struct Cli {
    /// Be more verbose: print each slot as it is written.
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
                let s = &plan.stats;
                eprintln!(
                    "{} symbols: {} id slots ({} names, {} unresolved), {} sets, {} set8; update {} for {}",
                    s.symbols,
                    s.slots,
                    s.names,
                    s.unresolved,
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
