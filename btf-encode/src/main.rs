//! `btf-encode`: pahole's `-J` command line on the `btf_encode` library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

/// Encode the DWARF of FILE as BTF, as `pahole -J` does (pahole 1.24's bytes).
#[derive(Parser, Debug)]
#[command(
    name = "btf-encode",
    disable_version_flag = true,
    args_override_self = true
)]
struct Args {
    /// Encode BTF (pahole's -J; the only mode).
    #[arg(short = 'J', long = "btf_encode")]
    btf_encode: bool,
    /// Write raw BTF to FILE instead of a .BTF section in the input (without it,
    /// the input's .BTF section is written or replaced).
    #[arg(long = "btf_encode_detached", value_name = "FILE")]
    detached: Option<PathBuf>,
    /// Encode split BTF on the BTF of FILE (ELF with .BTF, or raw BTF).
    #[arg(long = "btf_base", value_name = "FILE")]
    base: Option<PathBuf>,
    /// Encode floating-point base types as FLOAT.
    #[arg(long = "btf_gen_floats")]
    gen_floats: bool,
    /// Every BTF feature this version knows (pahole 1.24: floats).
    #[arg(long = "btf_gen_all")]
    gen_all: bool,
    /// Skip units in these languages (comma-separated, pahole's names).
    #[arg(long = "lang_exclude", value_name = "LANGS")]
    lang_exclude: Option<String>,
    /// Only units in these languages (comma-separated, pahole's names).
    #[arg(long = "lang", value_name = "LANGS")]
    lang: Option<String>,
    /// Do not encode per-CPU variables.
    #[arg(long = "skip_encoding_btf_vars")]
    skip_vars: bool,
    /// Do not encode btf_decl_tag annotations.
    #[arg(long = "skip_encoding_btf_decl_tag")]
    skip_decl_tag: bool,
    /// Do not encode btf_type_tag annotations.
    #[arg(long = "skip_encoding_btf_type_tag")]
    skip_type_tag: bool,
    /// Encode 64-bit enums as 32-bit ENUM (values truncated).
    #[arg(long = "skip_encoding_btf_enum64")]
    skip_enum64: bool,
    /// Skip symbols and variables that cannot be encoded instead of failing.
    #[arg(long = "btf_encode_force")]
    force: bool,
    /// Threads decoding units (-j: every CPU, -jN, --jobs[=N]); without it one. Output does not depend on it.
    #[arg(long = "jobs", value_name = "N", num_args = 0..=1, require_equals = true, default_missing_value = "0")]
    jobs: Option<usize>,
    /// Encode with the BTF features of LIST (comma-separated; `default`: the
    /// default set; `+a,b`: the default set and a, b). The first use turns
    /// every feature off; repeated uses add up. Unknown names are warned about.
    #[arg(long = "btf_features", value_name = "FEATURE_LIST")]
    btf_features: Vec<String>,
    /// As --btf_features, but an unknown feature is an error.
    #[arg(long = "btf_features_strict", value_name = "FEATURE_LIST_STRICT")]
    btf_features_strict: Vec<String>,
    /// Print the BTF features this encoder supports and exit.
    #[arg(long = "supported_btf_features")]
    supported_btf_features: bool,
    /// Reproducible output (always: the output never depends on -j).
    #[arg(long = "reproducible_build")]
    reproducible_build: bool,
    /// pahole 1.25+: pahole 1.31's function rules (functions matched to ELF
    /// symbols by the name cut at the first `.`, such as .isra/.constprop
    /// clones; every instance merged by name): the feature optimized_func.
    #[arg(long = "btf_gen_optimized")]
    gen_optimized: bool,
    /// pahole 1.25+: the new function rules, leaving out functions with
    /// inconsistent prototypes, parameters in unexpected registers,
    /// uncertain parameter locations or ambiguous addresses: consistent_func.
    #[arg(long = "skip_encoding_btf_inconsistent_proto")]
    skip_inconsistent_proto: bool,
    /// Say what was left out and why.
    #[arg(short = 'V', long = "verbose")]
    verbose: bool,
    /// Print the version (pahole's form).
    #[arg(long = "version")]
    version: bool,
    /// The ELF file (vmlinux, a module, an object).
    file: Option<PathBuf>,
}

/// pahole's `-j` takes its value attached (`-j4`); clap's short options do
/// not have optional attached values, so `-j[N]` becomes `--jobs[=N]`.
fn normalize(args: impl Iterator<Item = String>) -> Vec<String> {
    args.map(|a| {
        if a == "-j" {
            "--jobs".to_string()
        } else if let Some(n) = a
            .strip_prefix("-j")
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            format!("--jobs={n}")
        } else {
            a
        }
    })
    .collect()
}

/// How the run shows its progress: with `-V`, a line at every tenth of the
/// units and one when dedup starts; else, when stderr is a terminal, a bar
/// (cleared at the end, so logs and pipes see nothing of it); else nothing.
fn progress(
    verbose: bool,
) -> (
    Option<btf_encode::ProgressFn>,
    Option<indicatif::ProgressBar>,
) {
    use btf_encode::{Progress, ProgressFn};
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicUsize, Ordering};
    if verbose {
        let shown = AtomicUsize::new(0);
        let f = ProgressFn::new(move |p| match p {
            Progress::Units { done, total } => {
                let tenth = done * 10 / total.max(1);
                if tenth > shown.fetch_max(tenth, Ordering::Relaxed) {
                    eprintln!("btf-encode: units: {done}/{total}");
                }
            }
            Progress::Dedup { types } => eprintln!("btf-encode: deduplicating {types} types"),
        });
        return (Some(f), None);
    }
    if !std::io::stderr().is_terminal() {
        return (None, None);
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("btf-encode: [{bar:40}] {pos}/{len} units {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let b = bar.clone();
    let f = ProgressFn::new(move |p| match p {
        Progress::Units { done, total } => {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
        Progress::Dedup { types } => b.set_message(format!("deduplicating {types} types")),
    });
    (Some(f), Some(bar))
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("btf-encode: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args = match Args::try_parse_from(normalize(std::env::args())) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if args.version {
        println!("{}", btf_encode::REPORTED_VERSION);
        return ExitCode::SUCCESS;
    }
    if args.supported_btf_features {
        println!("{}", btf_encode::features::supported());
        return ExitCode::SUCCESS;
    }
    let mut features = btf_encode::features::FeatureSet::default();
    let lists = args
        .btf_features
        .iter()
        .map(|l| (l, false))
        .chain(args.btf_features_strict.iter().map(|l| (l, true)));
    for (list, strict) in lists {
        match features.apply(list, strict) {
            Ok(warnings) => {
                for w in warnings {
                    eprintln!("btf-encode: {w}");
                }
            }
            Err(e) => return fail(e),
        }
    }
    let Some(file) = args.file.clone() else {
        return fail("no input file given");
    };
    if !args.btf_encode && args.detached.is_none() {
        return fail("only BTF encoding is implemented: pass -J or --btf_encode_detached=FILE");
    }
    // pahole keeps one language list (the last of --lang/--lang_exclude
    // given), excluding if --lang_exclude was given at all; with both, this
    // uses --lang_exclude's.
    let list = args.lang_exclude.as_ref().or(args.lang.as_ref());
    let mut langs = Vec::new();
    if let Some(l) = list {
        for name in l.split(',') {
            match btf_encode::language_code(name) {
                Some(c) => langs.push(c),
                None => return fail(format!("unknown language \"{name}\"")),
            }
        }
    }
    let (lang_exclude, lang_include) = if args.lang_exclude.is_some() {
        (langs, Vec::new())
    } else {
        (Vec::new(), langs)
    };
    let base = match &args.base {
        Some(p) => match btf::load(p) {
            Ok(b) => Some(Arc::new(b)),
            Err(e) => return fail(e),
        },
        None => None,
    };
    let mut opts = btf_encode::Options {
        gen_floats: args.gen_floats || args.gen_all,
        skip_encoding_vars: args.skip_vars,
        skip_encoding_decl_tag: args.skip_decl_tag,
        skip_encoding_type_tag: args.skip_type_tag,
        skip_encoding_enum64: args.skip_enum64,
        force: args.force,
        lang_exclude,
        lang_include,
        verbose: args.verbose,
        progress: None,
        base,
        tag_kfuncs: false,
        global_var: false,
        new_functions: args.gen_optimized || args.skip_inconsistent_proto,
        skip_inconsistent_proto: args.skip_inconsistent_proto,
        distilled_base: false,
        // pahole's -j without a number: every CPU; no -j: one thread.
        jobs: Some(args.jobs.unwrap_or(1)),
        parallel_min_info: None,
    };
    features.apply_to(&mut opts);
    // pahole applies --btf_features over the individual flags; the two
    // function flags it keeps as given.
    opts.new_functions |= args.gen_optimized || args.skip_inconsistent_proto;
    opts.skip_inconsistent_proto |= args.skip_inconsistent_proto;
    let (report, bar) = progress(args.verbose);
    opts.progress = report;
    let encoded = btf_encode::encode_file(&file, &opts);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let encoded = match encoded {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    for line in &encoded.log {
        eprintln!("{line}");
    }
    let Some(btf) = encoded.btf else {
        return ExitCode::SUCCESS;
    };
    let raw = btf.to_bytes();
    // distilled_base: in the ELF only, as pahole (detached output stays
    // split BTF on the full base).
    let distilled = if opts.distilled_base && opts.base.is_some() && args.detached.is_none() {
        match btf::distill::distill_base(&btf) {
            Ok((base, split)) => Some((base.to_bytes(), split.to_bytes())),
            Err(e) => return fail(format!("could not generate distilled base BTF: {e}")),
        }
    } else {
        None
    };
    let res = match &args.detached {
        Some(out) => btf_encode::elf_write::write_atomic(out, &raw),
        None => std::fs::read(&file)
            .map_err(|e| btf::Error::new(format!("cannot read: {e}")).with_file(&file))
            .and_then(|data| {
                match &distilled {
                    Some((base, split)) => btf_encode::elf_write::with_sections(
                        &data,
                        &[(".BTF", split), (".BTF.base", base)],
                    ),
                    None => btf_encode::elf_write::with_btf_section(&data, &raw),
                }
                .map_err(|e| e.with_file(&file))
            })
            .and_then(|elf| btf_encode::elf_write::write_atomic(&file, &elf)),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Linux 6.12's scripts/Makefile.btf passes `-j` twice to a pahole of
    /// 1.26 or later, and modfinal a second `--btf_features` for external
    /// modules;
    /// pahole (argp) takes a repeated flag, the last value winning, and
    /// accumulates the feature lists.
    #[test]
    fn repeated_flags_as_pahole() {
        let a = Args::try_parse_from(normalize(
            [
                "x",
                "-J",
                "-j",
                "--btf_features=encode_force,var",
                "-j",
                "--lang_exclude=rust",
                "--btf_features=distilled_base",
                "--btf_gen_floats",
                "--btf_gen_floats",
                "f",
            ]
            .iter()
            .map(|s| s.to_string()),
        ))
        .unwrap();
        assert_eq!(a.jobs, Some(0));
        assert_eq!(a.btf_features, ["encode_force,var", "distilled_base"]);
        assert!(a.gen_floats);
        let a = Args::try_parse_from(normalize(
            ["x", "-J", "-j4", "-j2", "f"].iter().map(|s| s.to_string()),
        ))
        .unwrap();
        assert_eq!(a.jobs, Some(2));
    }

    #[test]
    fn jobs_forms() {
        let v = normalize(
            ["x", "-j", "-j4", "-J", "--jobs=2"]
                .iter()
                .map(|s| s.to_string()),
        );
        assert_eq!(v, ["x", "--jobs", "--jobs=4", "-J", "--jobs=2"]);
        let a = Args::try_parse_from(normalize(
            ["x", "-J", "-j", "f"].iter().map(|s| s.to_string()),
        ))
        .unwrap();
        assert_eq!(a.jobs, Some(0));
        assert_eq!(a.file.as_deref(), Some(std::path::Path::new("f")));
        let a = Args::try_parse_from(normalize(
            ["x", "-J", "-j3", "f"].iter().map(|s| s.to_string()),
        ))
        .unwrap();
        assert_eq!(a.jobs, Some(3));
    }

    #[test]
    fn unknown_flag_is_an_error() {
        assert!(Args::try_parse_from(["x", "--btf_gen_frobnicated", "f"]).is_err());
    }
}
