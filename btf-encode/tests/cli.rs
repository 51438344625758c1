//! The `btf-encode` binary: pahole's flags, errors that name the file and
//! leave no output behind, compressed debug sections, corrupt input.

use std::path::{Path, PathBuf};
use std::process::Command;

use btfkit_tests::oracle_program;

const BIN: &str = env!("CARGO_BIN_EXE_btf-encode");

fn tmpdir(tag: &str) -> PathBuf {
    btfkit_tests::scratch_dir("encode-cli", tag)
}

fn clang(src: &str, args: &[&str], out: &Path) {
    compiler("clang", src, args, out)
}

fn compiler(cc: &str, src: &str, args: &[&str], out: &Path) {
    let c = out.with_extension("c");
    std::fs::write(&c, src).unwrap();
    let st = Command::new(cc)
        .args(args)
        .arg("-c")
        .arg(&c)
        .arg("-o")
        .arg(out)
        .status()
        .unwrap();
    assert!(st.success());
}

const SRC: &str = "struct s { int a; long b:3; }; int f(struct s *p) { return p->a; }\n";

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn version_is_paholes_form() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out, "v1.31\n");
}

#[test]
fn unimplemented_flags_are_errors() {
    for flag in [
        "--btf_features=+attributes",
        "--btf_features=var,attributes",
    ] {
        let (code, _, err) = run(&["-J", flag, "x.o"]);
        assert_ne!(code, 0, "{flag} accepted");
        assert!(!err.is_empty());
    }
}

/// A failing in-place run (here: a unit header with DWARF version 99)
/// leaves the input byte-identical and no temporary file behind.
#[test]
fn failing_in_place_leaves_input() {
    if !oracle_program("clang") {
        return;
    }
    let d = tmpdir("inplace-fail");
    let o = d.join("a.o");
    clang(SRC, &["-g", "-O2", "-faddrsig"], &o);
    let mut data = std::fs::read(&o).unwrap();
    let (start, _) = section_range(&data, ".debug_info").expect(".debug_info");
    // The version field follows the 4-byte unit length.
    data[start + 4] = 99;
    data[start + 5] = 0;
    std::fs::write(&o, &data).unwrap();
    let (code, _, err) = run(&["-J", o.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("a.o"), "{err}");
    assert_eq!(std::fs::read(&o).unwrap(), data);
    let leftovers = std::fs::read_dir(&d).unwrap().flatten().count();
    assert_eq!(leftovers, 2, "only a.c and a.o");
}

/// The file range of section `name`.
fn section_range(data: &[u8], name: &str) -> Option<(usize, usize)> {
    use object::{Object, ObjectSection};
    let f = object::File::parse(data).ok()?;
    let s = f.section_by_name(name)?;
    let (off, len) = s.file_range()?;
    Some((off as usize, (off + len) as usize))
}

/// Every section's name and bytes.
fn sections_of(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    use object::{Object, ObjectSection};
    let f = object::File::parse(data).unwrap();
    f.sections()
        .map(|s| {
            (
                s.name().unwrap_or("?").to_string(),
                s.data().unwrap_or(&[]).to_vec(),
            )
        })
        .collect()
}

/// clang objects, which object's ELF builder refuses (SHT_LLVM_ADDRSIG,
/// one `.strtab` for section and symbol names), get their `.BTF` by
/// appending: for ELF64 and ELF32 in both byte orders, the section is added
/// once and then replaced, equals the detached output (and pahole's for the
/// native object), every other section keeps its bytes, and readelf reads
/// the result.
#[test]
fn clang_objects_in_place_by_appending() {
    if !oracle_program("clang") || !oracle_program("llvm-readelf") || !oracle_program("pahole") {
        return;
    }
    let d = tmpdir("inplace-clang");
    for target in [
        "x86_64-linux-gnu",
        "i386-linux-gnu",
        "mips-linux-gnu",
        "powerpc64-linux-gnu",
    ] {
        let o = d.join(format!("{target}.o"));
        clang(
            SRC,
            &[&format!("--target={target}"), "-g", "-O2", "-faddrsig"],
            &o,
        );
        let before = std::fs::read(&o).unwrap();
        let det = d.join(format!("{target}.btf"));
        let (code, _, err) = run(&[
            "-J",
            &format!("--btf_encode_detached={}", det.display()),
            o.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{target}: {err}");
        let det = std::fs::read(&det).unwrap();
        if target.starts_with("x86_64") {
            let p = d.join("pahole.btf");
            let st = Command::new("pahole")
                .arg("-J")
                .arg(format!("--btf_encode_detached={}", p.display()))
                .arg(&o)
                .status()
                .unwrap();
            assert!(st.success());
            assert_eq!(std::fs::read(&p).unwrap(), det, "pahole");
        }
        for round in 0..2 {
            let (code, _, err) = run(&["-J", o.to_str().unwrap()]);
            assert_eq!(code, 0, "{target} round {round}: {err}");
            assert_eq!(count_sections(&o, ".BTF"), 1, "{target} round {round}");
            let after = std::fs::read(&o).unwrap();
            let (a, b) = section_range(&after, ".BTF").unwrap();
            assert_eq!(&after[a..b], &det[..], "{target} round {round}");
            // Every section of the input is still there with its bytes
            // (the name table may have grown by ".BTF").
            let now = sections_of(&after);
            for (i, (name, bytes)) in sections_of(&before).iter().enumerate() {
                assert_eq!(&now[i].0, name, "{target}: section {i}");
                if name != ".strtab" && name != ".shstrtab" {
                    assert_eq!(&now[i].1, bytes, "{target}: {name}");
                } else {
                    assert!(now[i].1.starts_with(bytes), "{target}: {name}");
                }
            }
            let st = Command::new("llvm-readelf")
                .args(["-S", "-s", "-r"])
                .arg(&o)
                .output()
                .unwrap();
            assert!(st.status.success(), "{target}: readelf");
            assert!(
                st.stderr.is_empty(),
                "{target}: {}",
                String::from_utf8_lossy(&st.stderr)
            );
        }
    }
}

fn dump_section(elf: &Path, name: &str) -> Vec<u8> {
    let out = elf.with_extension("section");
    let st = Command::new("objcopy")
        .arg(format!("--dump-section={name}={}", out.display()))
        .arg(elf)
        .arg(elf.with_extension("discard"))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read(out).unwrap()
}

fn count_sections(elf: &Path, name: &str) -> usize {
    let data = std::fs::read(elf).unwrap();
    use object::{Object, ObjectSection};
    let f = object::File::parse(&*data).unwrap();
    f.sections().filter(|s| s.name() == Ok(name)).count()
}

/// In place: a new `.BTF` section, then a replaced one (never two), equal to
/// the detached output. (A gcc object, which object's ELF builder rewrites;
/// clang's go through the appending writer, tested above.)
#[test]
fn in_place_equals_detached() {
    if !oracle_program("gcc") || !oracle_program("objcopy") {
        return;
    }
    let d = tmpdir("inplace");
    let o = d.join("p.o");
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/types.c"))
            .unwrap();
    compiler("gcc", &src, &["-g", "-O2"], &o);
    let det = d.join("p.btf");
    let (code, _, err) = run(&[
        "-J",
        "--btf_gen_floats",
        &format!("--btf_encode_detached={}", det.display()),
        o.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    for round in 0..2 {
        let (code, _, err) = run(&["-J", "--btf_gen_floats", o.to_str().unwrap()]);
        assert_eq!(code, 0, "round {round}: {err}");
        assert_eq!(count_sections(&o, ".BTF"), 1, "round {round}");
        assert_eq!(
            dump_section(&o, ".BTF"),
            std::fs::read(&det).unwrap(),
            "round {round}"
        );
    }
}

/// A module (which already has a `.BTF`) encoded in place: the section is
/// replaced and equals pahole's in-place result.
#[test]
fn module_in_place_equals_pahole() {
    if !oracle_program("pahole") || !oracle_program("objcopy") {
        return;
    }
    let Some(vmlinux) = btfkit_tests::oracle_file(btfkit_tests::VMLINUX_61) else {
        return;
    };
    let Some(m) = btfkit_tests::modules_61()
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with("/af_key.ko"))
    else {
        btfkit_tests::oracle(false, "af_key.ko");
        return;
    };
    let d = tmpdir("modinplace");
    let ours = d.join("ours.ko");
    let theirs = d.join("theirs.ko");
    std::fs::copy(&m, &ours).unwrap();
    std::fs::copy(&m, &theirs).unwrap();
    let v = vmlinux.to_str().unwrap();
    let (code, _, err) = run(&[
        "-J",
        "--btf_gen_floats",
        "--btf_base",
        v,
        ours.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let st = Command::new("pahole")
        .args(["-J", "--btf_gen_floats", "--btf_base", v])
        .arg(&theirs)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(count_sections(&ours, ".BTF"), 1);
    assert_eq!(dump_section(&ours, ".BTF"), dump_section(&theirs, ".BTF"));
}

#[test]
fn bad_inputs_fail_cleanly() {
    if !oracle_program("clang") {
        return;
    }
    let d = tmpdir("bad");
    let out = d.join("out.btf");
    let out_s = format!("--btf_encode_detached={}", out.display());
    // No debug info.
    let nodbg = d.join("nodbg.o");
    clang(SRC, &["-O2"], &nodbg);
    let (code, _, err) = run(&["-J", &out_s, nodbg.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("nodbg.o") && err.contains(".debug_info"),
        "{err}"
    );
    assert!(!out.exists());
    // Missing file.
    let (code, _, err) = run(&["-J", &out_s, "/nonexistent/x.o"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/x.o"), "{err}");
    // Truncated ELF, at many lengths.
    let good = d.join("good.o");
    clang(SRC, &["-g", "-O2"], &good);
    let bytes = std::fs::read(&good).unwrap();
    let cut = d.join("cut.o");
    for len in [
        0,
        3,
        16,
        63,
        64,
        200,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let (code, _, err) = run(&["-J", &out_s, cut.to_str().unwrap()]);
        assert!(code == 0 || code == 2, "len {len}: exit {code}: {err}");
        if code == 2 {
            assert!(err.contains("cut.o"), "{err}");
        }
    }
}

/// Random byte flips in the debug sections of an object: the library returns
/// (Ok or an error), never panics.
#[test]
fn corrupt_dwarf_never_panics() {
    if !oracle_program("clang") {
        return;
    }
    let d = tmpdir("corrupt");
    let o = d.join("c.o");
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/types.c"))
            .unwrap();
    clang(&src, &["-g", "-O2"], &o);
    let bytes = std::fs::read(&o).unwrap();
    let mut rng = btfkit_tests::Rng::new(0x5eed);
    let opts = btf_encode::Options {
        gen_floats: true,
        ..Default::default()
    };
    for _ in 0..400 {
        let mut m = bytes.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(m.len());
            m[i] = rng.next() as u8;
        }
        let _ = btf_encode::encode(&m, &opts);
    }
}

/// zlib- and zstd-compressed debug sections give the same BTF as plain ones.
#[test]
fn compressed_debug_sections() {
    if !oracle_program("clang") || !oracle_program("objcopy") {
        return;
    }
    let d = tmpdir("compressed");
    let o = d.join("p.o");
    let src = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/tags.c"))
        .unwrap();
    clang(&src, &["-g", "-O2"], &o);
    let opts = btf_encode::Options {
        gen_floats: true,
        ..Default::default()
    };
    let plain = btf_encode::encode(&std::fs::read(&o).unwrap(), &opts)
        .unwrap()
        .unwrap()
        .to_bytes();
    for kind in ["zlib", "zstd"] {
        let c = d.join(format!("p-{kind}.o"));
        let st = Command::new("objcopy")
            .arg(format!("--compress-debug-sections={kind}"))
            .arg(&o)
            .arg(&c)
            .status()
            .unwrap();
        assert!(st.success());
        assert_ne!(std::fs::read(&c).unwrap(), std::fs::read(&o).unwrap());
        let got = btf_encode::encode(&std::fs::read(&c).unwrap(), &opts)
            .unwrap()
            .unwrap()
            .to_bytes();
        assert_eq!(got, plain, "{kind}");
    }
}

/// The detached output appears whole or not at all (temp file + rename).
#[test]
fn detached_output_written() {
    if !oracle_program("clang") {
        return;
    }
    let d = tmpdir("detached");
    let o = d.join("w.o");
    clang(SRC, &["-g", "-O2"], &o);
    let out = d.join("w.btf");
    let (code, _, err) = run(&[
        "-J",
        "-j",
        &format!("--btf_encode_detached={}", out.display()),
        o.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let b = btf::load(&out).unwrap();
    assert!(b.type_count() > 3);
    let leftovers: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".btf-encode."))
        .collect();
    assert!(leftovers.is_empty());
}

/// Runs btf-encode with `flags` on `obj` (detached to `out`), returns the bytes.
fn encode_with(obj: &Path, out: &Path, flags: &[&str]) -> Vec<u8> {
    let mut args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    args.push(format!("--btf_encode_detached={}", out.display()));
    args.push(obj.display().to_string());
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let (code, _, err) = run(&a);
    assert_eq!(code, 0, "{flags:?}: {err}");
    std::fs::read(out).unwrap()
}

/// `--btf_features` as pahole defines it: the list starts from nothing (so
/// an unlisted feature is skipped), each listed feature is on, repeated lists
/// add up; the result equals the same choice made with the 1.24 flags.
#[test]
fn btf_features_select_like_the_flags() {
    if !oracle_program("clang") {
        return;
    }
    let d = tmpdir("features");
    let o = d.join("tags.o");
    let src =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c/tags.c")).unwrap();
    clang(&src, &["-g", "-O2"], &o);
    let out = d.join("out.btf");
    let all = encode_with(&o, &out, &["-J", "--btf_gen_floats"]);
    let listed = encode_with(
        &o,
        &out,
        &[
            "-J",
            "--btf_features=encode_force,var,float,decl_tag,type_tag,enum64",
        ],
    );
    assert_eq!(
        all, listed,
        "every implemented feature = the 1.24 defaults + floats"
    );
    let split = encode_with(
        &o,
        &out,
        &[
            "-J",
            "--btf_features=var,float",
            "--btf_features=decl_tag,type_tag,enum64,reproducible_build",
        ],
    );
    assert_eq!(all, split, "repeated --btf_features add up");
    let none = encode_with(&o, &out, &["-J", "--btf_features=float"]);
    let flags = encode_with(
        &o,
        &out,
        &[
            "-J",
            "--btf_gen_floats",
            "--skip_encoding_btf_vars",
            "--skip_encoding_btf_decl_tag",
            "--skip_encoding_btf_type_tag",
            "--skip_encoding_btf_enum64",
        ],
    );
    assert_eq!(none, flags, "unlisted features are off");
    assert_ne!(none, all, "the test object has tags");
    let b = btf::parse_any(&none, None).unwrap();
    assert!(
        b.types()
            .all(|(_, t)| !matches!(t.kind(), btf::Kind::DeclTag | btf::Kind::TypeTag)),
        "no tags without decl_tag/type_tag"
    );
}

#[test]
fn btf_features_unknown_and_unimplemented() {
    let (code, out, _) = run(&["--supported_btf_features"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "encode_force,var,float,decl_tag,type_tag,enum64,optimized_func,consistent_func,\
         decl_tag_kfuncs,reproducible_build,distilled_base,global_var\n"
    );
    // Unknown: a warning naming it (the run then fails on the missing file).
    let (_, _, err) = run(&["-J", "--btf_features=var,frobnicate", "/nonexistent.o"]);
    assert!(
        err.contains("Ignoring unsupported feature 'frobnicate'"),
        "{err}"
    );
    // Unknown under _strict: an error with pahole's message.
    let (code, _, err) = run(&["-J", "--btf_features_strict=frobnicate", "/nonexistent.o"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("Feature 'frobnicate' in 'frobnicate' is not supported."),
        "{err}"
    );
    // Known to pahole, not implemented here: an error naming it.
    for list in ["+attributes", "var,attributes"] {
        let (code, _, err) = run(&["-J", &format!("--btf_features={list}"), "/nonexistent.o"]);
        assert_eq!(code, 2, "{list}");
        assert!(err.contains("not implemented"), "{list}: {err}");
    }
}

/// Progress: the library reports every unit in order and dedup once, and
/// the report changes nothing in the output; `-V` prints the lines, and a
/// terminal gets the bar (cleared at the end) with the same output file.
#[test]
fn progress_reports() {
    if !oracle_program("clang") || !oracle_program("ld") {
        return;
    }
    let d = tmpdir("progress");
    let (a, b, o) = (d.join("a.o"), d.join("b.o"), d.join("ab.o"));
    clang(SRC, &["-g", "-O2"], &a);
    clang(
        "struct t { char c; }; struct t *g(struct t *p) { return p; }\n",
        &["-g"],
        &b,
    );
    let st = Command::new("ld")
        .args(["-r", "-o"])
        .arg(&o)
        .arg(&a)
        .arg(&b)
        .status()
        .unwrap();
    assert!(st.success());
    let data = std::fs::read(&o).unwrap();
    for jobs in [1, 2] {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        let opts = btf_encode::Options {
            jobs: Some(jobs),
            parallel_min_info: Some(0),
            progress: Some(btf_encode::ProgressFn::new(move |p| {
                s.lock().unwrap().push(p)
            })),
            ..Default::default()
        };
        let with = btf_encode::encode(&data, &opts)
            .unwrap()
            .unwrap()
            .to_bytes();
        let plain = btf_encode::Options {
            jobs: Some(jobs),
            parallel_min_info: Some(0),
            ..Default::default()
        };
        let without = btf_encode::encode(&data, &plain)
            .unwrap()
            .unwrap()
            .to_bytes();
        assert_eq!(with, without);
        let seen = seen.lock().unwrap().clone();
        use btf_encode::Progress::*;
        let units: Vec<_> = seen
            .iter()
            .filter_map(|p| match p {
                Units { done, total } => Some((*done, *total)),
                _ => None,
            })
            .collect();
        assert_eq!(units.last(), Some(&(2, 2)), "-j{jobs}: {seen:?}");
        assert!(units.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
        assert!(
            matches!(seen.last(), Some(Dedup { types }) if *types > 0),
            "{seen:?}"
        );
    }
    let out = d.join("v.btf");
    let (code, _, err) = run(&[
        "-V",
        "-J",
        &format!("--btf_encode_detached={}", out.display()),
        o.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("btf-encode: units: 2/2"), "{err}");
    assert!(err.contains("btf-encode: deduplicating "), "{err}");
    // A terminal: `script` runs the command on a pseudo-terminal.
    if oracle_program("script") {
        let tty = d.join("tty.btf");
        let cmd = format!(
            "{BIN} -J --btf_encode_detached={} {}",
            tty.display(),
            o.display()
        );
        let shown = Command::new("script")
            .args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .output()
            .unwrap();
        assert!(shown.status.success());
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(text.contains("2/2 units"), "{text}");
        assert_eq!(std::fs::read(&tty).unwrap(), std::fs::read(&out).unwrap());
    }
}
