//! btf-encode against pahole 1.24 (the oracle): the same flags must give the
//! same bytes. C objects built here with clang (DWARF 5 and 4), a sample of
//! the Debian 6.1 modules as split BTF on their vmlinux, and each flag's
//! effect. A missing pahole, clang or kernel package skips locally and fails
//! with `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use btfkit_tests::{modules_61, oracle_file, oracle_program, VMLINUX_61};

fn tmpdir(tag: &str) -> PathBuf {
    btfkit_tests::scratch_dir("encode", tag)
}

/// pahole's output for FILE with FLAGS (`None` when pahole writes nothing).
fn pahole(file: &Path, flags: &[&str], base: Option<&Path>, out: &Path) -> Option<Vec<u8>> {
    let _ = std::fs::remove_file(out);
    let mut cmd = Command::new("pahole");
    cmd.arg("-J").args(flags);
    if let Some(b) = base {
        cmd.arg("--btf_base").arg(b);
    }
    cmd.arg(format!("--btf_encode_detached={}", out.display()))
        .arg(file);
    let o = cmd.output().expect("run pahole");
    assert!(
        o.status.success(),
        "pahole failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(out).ok()
}

/// Our options for the same pahole flags.
fn options(flags: &[&str], base: Option<Arc<btf::Btf>>) -> btf_encode::Options {
    let mut o = btf_encode::Options {
        base,
        ..Default::default()
    };
    for f in flags {
        match *f {
            "--btf_gen_floats" => o.gen_floats = true,
            "--skip_encoding_btf_vars" => o.skip_encoding_vars = true,
            "--skip_encoding_btf_decl_tag" => o.skip_encoding_decl_tag = true,
            "--skip_encoding_btf_type_tag" => o.skip_encoding_type_tag = true,
            "--skip_encoding_btf_enum64" => o.skip_encoding_enum64 = true,
            "--btf_encode_force" => o.force = true,
            "--lang_exclude=rust" => o.lang_exclude = vec![0x1c],
            "--lang_exclude=c99" => o.lang_exclude = vec![0x0c],
            "--lang=c99" => o.lang_include = vec![0x0c],
            "--lang=c++" => o.lang_include = vec![0x04],
            "-j1" => {}
            other => panic!("flag {other} not mapped in the test"),
        }
    }
    o
}

fn ours(file: &Path, opts: &btf_encode::Options) -> Option<Vec<u8>> {
    let data = std::fs::read(file).unwrap();
    btf_encode::encode(&data, opts)
        .unwrap_or_else(|e| panic!("btf-encode failed on {}: {e}", file.display()))
        .map(|b| b.to_bytes())
}

fn same(file: &Path, flags: &[&str], base: Option<(&Path, Arc<btf::Btf>)>, dir: &Path) -> bool {
    let stem = file.file_name().unwrap().to_string_lossy().into_owned();
    let flagtag = flags.join("").replace(['-', '='], "");
    let pout = dir.join(format!("{stem}.{flagtag}.pahole"));
    let expect = pahole(file, flags, base.as_ref().map(|b| b.0), &pout);
    let got = ours(file, &options(flags, base.map(|b| b.1)));
    if expect != got {
        if let Some(g) = &got {
            std::fs::write(dir.join(format!("{stem}.{flagtag}.ours")), g).unwrap();
        }
        eprintln!(
            "DIFFERENT: {} {:?} (outputs in {})",
            file.display(),
            flags,
            dir.display()
        );
        return false;
    }
    true
}

const STD: &[&str] = &["--btf_gen_floats", "-j1", "--lang_exclude=rust"];

fn c_sources() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    v.sort();
    v
}

fn compile(src: &Path, dwarf: &str, dir: &Path) -> PathBuf {
    compile_with("clang", src, dwarf, dir)
}

fn compile_with(cc: &str, src: &Path, dwarf: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!(
        "{}.{cc}{}.o",
        src.file_stem().unwrap().to_string_lossy(),
        dwarf.replace(' ', "")
    ));
    let st = Command::new(cc)
        .arg("-g")
        .args(dwarf.split_whitespace())
        .args(["-O2", "-c"])
        .arg(src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run the compiler");
    assert!(st.success(), "{cc} failed on {}", src.display());
    out
}

#[test]
fn clang_objects_equal_pahole() {
    if !oracle_program("pahole") || !oracle_program("clang") {
        return;
    }
    let dir = tmpdir("clang");
    let mut bad = 0;
    for src in c_sources() {
        for dwarf in [
            "-gdwarf-5",
            "-gdwarf-4",
            "-gdwarf-5 -fdebug-types-section",
            "-gdwarf-4 -fdebug-types-section",
        ] {
            let obj = compile(&src, dwarf, &dir);
            if !same(&obj, STD, None, &dir) {
                bad += 1;
            }
        }
    }
    assert_eq!(bad, 0, "objects differing from pahole");
}

/// The same sources built with gcc (which has no BTF attributes: it drops them).
#[test]
fn gcc_objects_equal_pahole() {
    if !oracle_program("pahole") || !oracle_program("gcc") {
        return;
    }
    let dir = tmpdir("gcc");
    let mut bad = 0;
    for src in c_sources() {
        // Type units: DWARF 4 puts them in `.debug_types`, DWARF 5 in
        // `.debug_info` sections of COMDAT groups.
        for dwarf in [
            "-gdwarf-5",
            "-gdwarf-4",
            "-gdwarf-5 -fdebug-types-section",
            "-gdwarf-4 -fdebug-types-section",
        ] {
            let obj = compile_with("gcc", &src, dwarf, &dir);
            if !same(&obj, STD, None, &dir) {
                bad += 1;
            }
        }
    }
    assert_eq!(bad, 0, "objects differing from pahole");
}

/// Every flag changes the output as it does pahole's.
#[test]
fn flags_equal_pahole() {
    if !oracle_program("pahole") || !oracle_program("clang") {
        return;
    }
    let dir = tmpdir("flags");
    let flag_sets: &[&[&str]] = &[
        &["-j1"],
        &["--btf_gen_floats", "--skip_encoding_btf_vars"],
        &["--btf_gen_floats", "--skip_encoding_btf_decl_tag"],
        &["--btf_gen_floats", "--skip_encoding_btf_type_tag"],
        &["--btf_gen_floats", "--skip_encoding_btf_enum64"],
        &["--btf_gen_floats", "--btf_encode_force"],
        &["--btf_gen_floats", "--lang_exclude=c99"],
        &["--btf_gen_floats", "--lang=c99"],
        &["--btf_gen_floats", "--lang=c++"],
    ];
    let mut bad = 0;
    for src in c_sources() {
        let obj = compile(&src, "-gdwarf-5", &dir);
        for flags in flag_sets {
            if !same(&obj, flags, None, &dir) {
                bad += 1;
            }
        }
    }
    assert_eq!(bad, 0, "flag combinations differing from pahole");
}

/// Split BTF of real modules on the Debian vmlinux (every Nth module).
#[test]
fn modules_equal_pahole() {
    if !oracle_program("pahole") {
        return;
    }
    let Some(vmlinux) = oracle_file(VMLINUX_61) else {
        return;
    };
    let base = Arc::new(btf::load(&vmlinux).unwrap());
    let mods: Vec<PathBuf> = modules_61()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "ko"))
        .collect();
    if !btfkit_tests::oracle(!mods.is_empty(), "6.1 modules") {
        return;
    }
    // BTFKIT_ALL_MODULES=1: all 1121 (about 40 minutes on a loaded 2-CPU machine).
    let step = if std::env::var("BTFKIT_ALL_MODULES").is_ok_and(|v| v == "1") {
        1
    } else if cfg!(debug_assertions) {
        97
    } else {
        23
    };
    let dir = tmpdir("modules");
    let (mut n, mut bad) = (0, 0);
    for m in mods.iter().step_by(step) {
        n += 1;
        if !same(m, STD, Some((&vmlinux, base.clone())), &dir) {
            bad += 1;
            continue;
        }
        // At -j too (the pipeline from `PARALLEL_MIN_INFO` on): pahole -j1's
        // bytes, which `same` left in the directory.
        let stem = m.file_name().unwrap().to_string_lossy().into_owned();
        let flagtag = STD.join("").replace(['-', '='], "");
        let expect = std::fs::read(dir.join(format!("{stem}.{flagtag}.pahole"))).ok();
        let mut o = options(STD, Some(base.clone()));
        o.jobs = Some(0);
        if ours(m, &o) != expect {
            eprintln!("DIFFERENT at -j: {}", m.display());
            bad += 1;
        }
    }
    eprintln!("modules compared: {n}, different: {bad}");
    assert_eq!(bad, 0, "modules differing from pahole");
}

/// `-j1`, `-j2` and `-j` give the same bytes (units decoded in parallel,
/// encoded in order), equal to pahole's `-j1`.
#[test]
fn jobs_do_not_change_bytes() {
    if !oracle_program("pahole") {
        return;
    }
    let Some(vmlinux) = oracle_file(VMLINUX_61) else {
        return;
    };
    let base = Arc::new(btf::load(&vmlinux).unwrap());
    let Some(m) = modules_61()
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with("/nf_tables.ko"))
    else {
        btfkit_tests::oracle(false, "nf_tables.ko");
        return;
    };
    let dir = tmpdir("jobs");
    let expect = pahole(&m, STD, Some(&vmlinux), &dir.join("nf_tables.pahole"));
    for jobs in [1, 2, 0] {
        let mut o = options(STD, Some(base.clone()));
        o.jobs = Some(jobs);
        // The pipeline even on a module this small.
        o.parallel_min_info = Some(0);
        assert_eq!(ours(&m, &o), expect, "jobs={jobs}");
    }
}

/// The `.host.o` objects of the btf_dump suite, their `.BTF` removed.
#[test]
fn btf_dump_suite_host_objects_equal_pahole() {
    if !oracle_program("pahole") || !oracle_program("objcopy") {
        return;
    }
    let Some(shared) = btfkit_tests::shared_dir() else {
        return;
    };
    let dir = tmpdir("suite");
    let mut objs: Vec<PathBuf> = std::fs::read_dir(shared.join("suites/btf_dump"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".host.o"))
        .collect();
    objs.sort();
    assert!(!objs.is_empty());
    let mut bad = 0;
    for o in &objs {
        let stripped = dir.join(o.file_name().unwrap());
        let st = Command::new("objcopy")
            .args(["--remove-section=.BTF", "--remove-section=.BTF.ext"])
            .arg(o)
            .arg(&stripped)
            .status()
            .unwrap();
        assert!(st.success());
        if !same(&stripped, STD, None, &dir) {
            bad += 1;
        }
    }
    assert_eq!(bad, 0, "suite objects differing from pahole");
}

/// The Debian 6.1 vmlinux (163 MB of DWARF 5): pahole's bytes. Release
/// builds only (scripts/test.sh); a debug build would take minutes.
#[test]
fn vmlinux_equals_pahole() {
    if cfg!(debug_assertions) {
        eprintln!("SKIP: vmlinux comparison runs in release builds");
        return;
    }
    if !oracle_program("pahole") {
        return;
    }
    let Some(vmlinux) = oracle_file(VMLINUX_61) else {
        return;
    };
    let dir = tmpdir("vmlinux");
    assert!(
        same(&vmlinux, STD, None, &dir),
        "vmlinux differs from pahole"
    );
    // On two threads dedup runs per batch of units while the next is
    // encoded (btf_dedup::Stream): the same bytes.
    let expect = std::fs::read(dir.join(format!(
        "{}.{}.pahole",
        vmlinux.file_name().unwrap().to_string_lossy(),
        STD.join("").replace(['-', '='], "")
    )))
    .unwrap();
    let mut o = options(STD, None);
    o.jobs = Some(2);
    assert!(
        ours(&vmlinux, &o) == Some(expect),
        "vmlinux at -j2 differs from pahole"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
