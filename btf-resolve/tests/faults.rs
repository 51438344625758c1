//! Bad input: a clear message, a non-zero exit, no panic, and the file left
//! byte-identical.

mod common;

use std::ffi::OsStr;
use std::path::Path;

use common::*;
use object::read::elf::{FileHeader, SectionHeader};

/// Runs btf-resolve on `file` with `args`; asserts it fails cleanly and
/// leaves the file as it was; returns stderr.
fn fails(file: &Path, args: &[&str]) -> String {
    let before = std::fs::read(file).unwrap();
    let mut a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    a.push(file.as_os_str());
    let o = ours(&a);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1 on {}: {err}",
        file.display()
    );
    assert!(err.contains("FAILED: btf-resolve: "), "{err}");
    assert!(
        std::fs::read(file).unwrap() == before,
        "{}: file changed by a failing run",
        file.display()
    );
    err
}

#[test]
fn set_without_end() {
    let dir = tmp("noend");
    let src = "#include \"btf_ids.h\"\n__attribute__((noinline)) int f(int x) { return x; }\n\
               BTF_SET_START(open_set)\nBTF_ID(func, f)\n";
    let Some(obj) = fixture(&dir, "noend", &[("noend.c", src)], true) else {
        return;
    };
    let err = fails(&obj, &[]);
    assert!(
        err.contains("set 'open_set'") && err.contains("BTF_SET_END is missing"),
        "{err}"
    );
    assert!(
        err.contains("object file noend-0-noend.c") || err.contains("object file"),
        "{err}"
    );
}

#[test]
fn duplicate_set_name() {
    let dir = tmp("dupset");
    let src = "#include \"btf_ids.h\"\n__attribute__((noinline)) int f(int x) { return x; }\n\
               BTF_SET_START(same)\nBTF_ID(func, f)\nBTF_SET_END(same)\n";
    let src2 = "#include \"btf_ids.h\"\n__attribute__((noinline)) int g(int x) { return x; }\n\
                BTF_SET_START(same)\nBTF_ID(func, g)\nBTF_SET_END(same)\n";
    let Some(obj) = fixture(&dir, "dupset", &[("a.c", src), ("b.c", src2)], true) else {
        return;
    };
    let err = fails(&obj, &[]);
    assert!(err.contains("duplicate set name 'same'"), "{err}");
    assert!(err.contains("at .BTF_ids offset 0x"), "{err}");
}

#[test]
fn fatal_warnings() {
    let dir = tmp("fatal");
    let Some(obj) = fixture(&dir, "one", &[("cu1.c", "")], true) else {
        return;
    };
    let err = fails(&obj, &["--fatal_warnings"]);
    assert!(
        err.contains("unresolved symbol missing_func") && err.contains("--fatal_warnings"),
        "{err}"
    );
}

#[test]
fn elf_without_btf() {
    let dir = tmp("nobtf");
    let Some(obj) = fixture(&dir, "nobtf", &[("cu1.c", "")], false) else {
        return;
    };
    let err = fails(&obj, &[]);
    assert!(
        err.contains("no .BTF section: BTF generation failed or was skipped"),
        "{err}"
    );
}

#[test]
fn truncated_elf() {
    let dir = tmp("trunc");
    let Some(obj) = fixture(&dir, "one", &[("cu1.c", "")], true) else {
        return;
    };
    let full = std::fs::read(&obj).unwrap();
    let f = dir.join("t.o");
    for len in [
        0,
        4,
        16,
        63,
        64,
        200,
        full.len() / 2,
        full.len() - 64,
        full.len() - 1,
    ] {
        std::fs::write(&f, &full[..len]).unwrap();
        let err = fails(&f, &[]);
        assert!(!err.trim().is_empty());
    }
}

/// (offset of the symbol table, its entry size, offset of the section header
/// table, entry size, count) of an ELF64 little-endian object.
fn layout(data: &[u8]) -> (usize, usize, usize, usize, usize) {
    let h = object::elf::FileHeader64::<object::Endianness>::parse(data).unwrap();
    let e = h.endian().unwrap();
    let secs = h.sections(e, data).unwrap();
    let (_, sym) = secs
        .enumerate()
        .find(|(_, s)| s.sh_type(e) == object::elf::SHT_SYMTAB)
        .unwrap();
    (
        sym.sh_offset(e) as usize,
        sym.sh_entsize(e) as usize,
        h.e_shoff.get(e) as usize,
        h.e_shentsize.get(e) as usize,
        h.e_shnum.get(e) as usize,
    )
}

/// The one-unit fixture with one 8-byte field (at `field` bytes into the
/// ELF64 symbol: 8 is `st_value`, 16 `st_size`) of the first `.BTF_ids`
/// symbol whose name starts with `prefix` set to `value(section size)`,
/// written to `dir/name`. Returns the file and the symbol's name.
fn patch_symbol(
    dir: &std::path::Path,
    prefix: &[u8],
    field: usize,
    value: impl Fn(u64) -> u64,
    name: &str,
) -> Option<(std::path::PathBuf, String)> {
    let obj = fixture(dir, "one", &[("cu1.c", "")], true)?;
    let mut data = std::fs::read(&obj).unwrap();
    let sec = match btf_resolve::elf::read(&data).unwrap() {
        btf_resolve::elf::Found::Ids(s) => s,
        _ => unreachable!(),
    };
    let victim = sec
        .symbols
        .iter()
        .find(|s| s.name.starts_with(prefix))
        .unwrap();
    let (symoff, symsz, ..) = layout(&data);
    let at = symoff + victim.index * symsz + field;
    data[at..at + 8].copy_from_slice(&value(sec.size).to_le_bytes());
    let f = dir.join(name);
    std::fs::write(&f, &data).unwrap();
    Some((f, String::from_utf8_lossy(&victim.name).into_owned()))
}

#[test]
fn symbol_outside_the_section() {
    let dir = tmp("outside");
    let past_end = |size: u64| size + 4;
    let Some((f, victim)) = patch_symbol(&dir, b"__BTF_ID__func__", 8, past_end, "out.o") else {
        return;
    };
    let err = fails(&f, &[]);
    assert!(err.contains("points outside .BTF_ids"), "{err}");
    assert!(err.contains(&victim), "{err}");
}

#[test]
fn huge_set_size() {
    let dir = tmp("hugeset");
    let Some((f, _)) = patch_symbol(
        &dir,
        b"__BTF_ID__set8__",
        16,
        |_| u64::MAX.wrapping_sub(7),
        "huge.o",
    ) else {
        return;
    };
    let err = fails(&f, &[]);
    assert!(err.contains("past the end of .BTF_ids"), "{err}");
}

#[test]
fn random_corruptions_fail_cleanly_or_succeed() {
    let dir = tmp("random");
    let Some(obj) = fixture(&dir, "one", &[("cu1.c", ""), ("cu2.c", "")], true) else {
        return;
    };
    let data = std::fs::read(&obj).unwrap();
    let sec = match btf_resolve::elf::read(&data).unwrap() {
        btf_resolve::elf::Found::Ids(s) => s,
        _ => unreachable!(),
    };
    let (symoff, symsz, shoff, shsz, shnum) = layout(&data);
    let ids_syms: Vec<usize> = sec.symbols.iter().map(|s| s.index).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let f = dir.join("m.o");
    let (mut failed, mut ok) = (0, 0);
    for round in 0..300 {
        let mut m = data.clone();
        for _ in 0..1 + rng.below(4) {
            let at = match round % 3 {
                0 => (sec.file_offset + rng.below(sec.size)) as usize,
                1 => {
                    symoff
                        + ids_syms[rng.below(ids_syms.len() as u64) as usize] * symsz
                        + rng.below(symsz as u64) as usize
                }
                _ => shoff + rng.below((shsz * shnum) as u64) as usize,
            };
            m[at] = match rng.below(4) {
                0 => 0,
                1 => 0xff,
                _ => rng.next() as u8,
            };
        }
        std::fs::write(&f, &m).unwrap();
        let o = ours(&[f.as_os_str()]);
        let err = String::from_utf8_lossy(&o.stderr);
        match o.status.code() {
            Some(0) => ok += 1,
            Some(1) => {
                failed += 1;
                assert!(
                    err.contains("FAILED: btf-resolve: "),
                    "round {round}: {err}"
                );
                assert!(
                    std::fs::read(&f).unwrap() == m,
                    "round {round}: failing run changed the file"
                );
            }
            c => panic!("round {round}: exit {c:?} (panic or signal): {err}"),
        }
    }
    eprintln!("300 corruptions: {failed} clean failures, {ok} resolved");
    assert!(
        failed > 30,
        "only {failed} failures: are the corruptions reaching anything?"
    );
}

/// The library in-process on 5000 more mutations (any byte of the file):
/// every step returns, none panics, and a plan that succeeds is stable.
#[test]
fn in_process_mutations_never_panic() {
    let dir = tmp("inproc");
    let Some(obj) = fixture(&dir, "both", &[("cu1.c", ""), ("cu2.c", "")], true) else {
        return;
    };
    let data = std::fs::read(&obj).unwrap();
    // BTF_RESOLVE_SEED=N explores other mutations.
    let seed = std::env::var("BTF_RESOLVE_SEED")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut rng = Rng(seed.unwrap_or(0x1234_5678_9abc_def1));
    let mut planned = 0;
    for _ in 0..5000 {
        let mut m = data.clone();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(m.len() as u64) as usize;
            m[at] = rng.next() as u8;
        }
        let Ok(btf_resolve::elf::Found::Ids(sec)) = btf_resolve::elf::read(&m) else {
            continue;
        };
        let Ok(btf) = btf_resolve::load_btf(&obj, &m, &Default::default()) else {
            continue;
        };
        let index = btf::NameIndex::new(&btf);
        let (lo, hi) = (
            sec.file_offset as usize,
            (sec.file_offset + sec.size) as usize,
        );
        let opts = btf_resolve::Options {
            check: rng.below(2) == 0,
            ..Default::default()
        };
        if let Ok(p) = btf_resolve::plan(sec.clone(), &m[lo..hi], &btf, &index, &opts) {
            planned += 1;
            let _ = btf_resolve::report_json(&p, &btf);
            let again = btf_resolve::plan(sec, &p.bytes, &btf, &index, &opts).unwrap();
            assert_eq!(again.bytes, p.bytes, "not idempotent");
        }
    }
    assert!(planned > 100, "only {planned} mutated files planned");
}
