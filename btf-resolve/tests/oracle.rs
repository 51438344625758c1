//! btf-resolve against resolve_btfids built from linux-source 6.1 and 6.12:
//! objects using every btf_ids.h macro, with found, missing and duplicated
//! names. Same `.BTF_ids` bytes (the whole file, in fact), same WARN lines;
//! a second run changes nothing (resolve_btfids' second run moves set8 flags).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn compare(obj: &Path, dir: &Path, version: &str, tool: &Path) {
    let name = obj.file_stem().unwrap().to_string_lossy().into_owned();
    let theirs = dir.join(format!("{name}.c-{version}.o"));
    let mine = dir.join(format!("{name}.ours-{version}.o"));
    std::fs::copy(obj, &theirs).unwrap();
    std::fs::copy(obj, &mine).unwrap();
    let c = Command::new(tool).arg(&theirs).output().unwrap();
    assert!(
        c.status.success(),
        "resolve_btfids {version} failed on {name}"
    );
    let o = ours(&[mine.as_os_str()]);
    assert!(
        o.status.success(),
        "btf-resolve failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (cb, ob) = (
        std::fs::read(&theirs).unwrap(),
        std::fs::read(&mine).unwrap(),
    );
    assert_eq!(
        ids_section(&cb),
        ids_section(&ob),
        "{name}: .BTF_ids differs from resolve_btfids {version}"
    );
    assert!(
        cb == ob,
        "{name}: bytes outside .BTF_ids differ from resolve_btfids {version}"
    );
    assert_eq!(
        warn_lines(&c.stderr),
        warn_lines(&o.stderr),
        "{name}: warnings differ ({version})"
    );
    // Something was resolved at all.
    assert_ne!(
        ids_section(&ob),
        ids_section(&std::fs::read(obj).unwrap()),
        "{name}: nothing resolved"
    );
    // Idempotent: a second run of ours, on ours and on resolve_btfids' output.
    let o2 = ours(&[mine.as_os_str()]);
    assert!(o2.status.success());
    assert!(
        std::fs::read(&mine).unwrap() == ob,
        "{name}: second run changed the file"
    );
    let o3 = ours(&[theirs.as_os_str()]);
    assert!(o3.status.success());
    assert!(
        std::fs::read(&theirs).unwrap() == cb,
        "{name}: a run on resolve_btfids' output changed it"
    );
}

#[test]
fn same_bytes_and_warnings_as_resolve_btfids() {
    let dir = tmp("oracle");
    let Some(both) = fixture(&dir, "both", &[("cu1.c", ""), ("cu2.c", "")], true) else {
        return;
    };
    let one = fixture(&dir, "one", &[("cu1.c", "")], true).unwrap();
    let two = fixture(&dir, "two", &[("cu2.c", "")], true).unwrap();
    let mut checked = 0;
    for version in ["6.1", "6.12"] {
        let Some(tool) = resolve_btfids(version) else {
            continue;
        };
        for obj in [&both, &one, &two] {
            compare(obj, &dir, version, &tool);
            checked += 1;
        }
    }
    if checked > 0 {
        assert_eq!(checked, 6);
    }
}

#[test]
fn warnings_are_resolve_btfids_lines() {
    let dir = tmp("warnings");
    let Some(both) = fixture(&dir, "both", &[("cu1.c", ""), ("cu2.c", "")], true) else {
        return;
    };
    let o = ours(&[both.as_os_str()]);
    assert!(o.status.success());
    let w = warn_lines(&o.stderr);
    assert!(
        w.iter()
            .any(|l| l.starts_with("WARN: multiple IDs found for 'file': ")),
        "{w:?}"
    );
    assert!(
        w.contains(&"WARN: resolve_btfids: unresolved symbol missing_func".to_string()),
        "{w:?}"
    );
}

#[test]
fn resolve_btfids_second_run_moves_set8_flags_ours_does_not() {
    let dir = tmp("second");
    let Some(one) = fixture(&dir, "one", &[("cu1.c", "")], true) else {
        return;
    };
    let Some(tool) = resolve_btfids("6.1") else {
        return;
    };
    let f = dir.join("twice.o");
    std::fs::copy(&one, &f).unwrap();
    assert!(Command::new(&tool).arg(&f).status().unwrap().success());
    let first = std::fs::read(&f).unwrap();
    assert!(Command::new(&tool).arg(&f).status().unwrap().success());
    let second = std::fs::read(&f).unwrap();
    // The C tool's bug, which ours fixes (see the other tests: ours is stable).
    assert_ne!(
        ids_section(&first),
        ids_section(&second),
        "resolve_btfids 6.1 is idempotent now?"
    );
}

#[test]
fn report_json_lists_sets_and_flags() {
    let dir = tmp("report");
    let Some(one) = fixture(&dir, "one", &[("cu1.c", "")], true) else {
        return;
    };
    let o = ours(&[
        std::ffi::OsStr::new("--report"),
        std::ffi::OsStr::new("json"),
        one.as_os_str(),
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    let sets = v["id_sets"].as_array().unwrap();
    let kf = sets.iter().find(|s| s["name"] == "kfuncs").unwrap();
    assert_eq!(kf["kind"], "set8");
    assert_eq!(kf["count"], 5);
    let e = kf["entries"].as_array().unwrap();
    let f3 = e.iter().find(|e| e["name"] == "bpf_f3").unwrap();
    assert_eq!(f3["flags"], 0x11);
    let ids: Vec<u64> = e.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] <= w[1]), "{ids:?}");
    assert_eq!(
        sets.iter().find(|s| s["name"] == "kfuncs2").unwrap()["flags"],
        1
    );
    let lists = v["lists"].as_array().unwrap();
    let l1 = lists.iter().find(|l| l["name"] == "list1").unwrap();
    assert_eq!(l1["entries"][1]["unused"], true);
    assert_eq!(l1["entries"][0]["name"], "task_struct");
}

#[test]
fn check_finds_bad_dtor_missing_ids_and_non_func_set8() {
    let dir = tmp("check");
    let Some(one) = fixture(&dir, "one", &[("cu1.c", "")], true) else {
        return;
    };
    let before = std::fs::read(&one).unwrap();
    let o = ours(&[std::ffi::OsStr::new("--check"), one.as_os_str()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("kobj_bad_dtor is not 'void kobj_bad_dtor(struct kobj *)'"),
        "{err}"
    );
    assert!(!err.contains("kobj_release is not"), "{err}");
    assert!(err.contains("'missing_func' not found"), "{err}");
    assert!(
        err.contains("set8 'kfuncs2'") && err.contains("not a FUNC"),
        "{err}"
    );
    assert!(
        std::fs::read(&one).unwrap() == before,
        "--check failure wrote the file"
    );
    // A clean object passes.
    let good = fixture(
        &dir,
        "good",
        &[(
            "good.c",
            "#include \"btf_ids.h\"\nstruct o { int r; };\n__attribute__((noinline)) void o_release(struct o *p) { p->r--; }\n\
             BTF_ID_LIST(o_dtor_ids)\nBTF_ID(struct, o)\nBTF_ID(func, o_release)\n\
             BTF_SET8_START(k)\nBTF_ID_FLAGS(func, o_release, 2)\nBTF_SET8_END(k)\n",
        )],
        true,
    )
    .unwrap();
    let o = ours(&[std::ffi::OsStr::new("--check"), good.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn btf_from_another_file_as_resolve_btfids() {
    let dir = tmp("btf-flag");
    let Some(both) = fixture(&dir, "both", &[("cu1.c", ""), ("cu2.c", "")], true) else {
        return;
    };
    let bare = fixture(&dir, "bare", &[("cu1.c", ""), ("cu2.c", "")], false).unwrap();
    let Some(tool) = resolve_btfids("6.12") else {
        return;
    };
    let (theirs, mine) = (dir.join("t.o"), dir.join("m.o"));
    std::fs::copy(&bare, &theirs).unwrap();
    std::fs::copy(&bare, &mine).unwrap();
    let c = Command::new(&tool)
        .arg("--btf")
        .arg(&both)
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(c.status.success());
    let o = ours(&[
        std::ffi::OsStr::new("--btf"),
        both.as_os_str(),
        mine.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&theirs).unwrap() == std::fs::read(&mine).unwrap());
    assert_eq!(warn_lines(&c.stderr), warn_lines(&o.stderr));
}

/// An object with more than 65280 sections, so the `.BTF_ids` symbols carry
/// `SHN_XINDEX` and their section is in `SHT_SYMTAB_SHNDX`: resolved as the
/// same unit alone is by resolve_btfids (which itself skips such symbols and
/// leaves the file unresolved).
#[test]
fn extended_section_indices() {
    let dir = tmp("xindex");
    let Some(one) = fixture(&dir, "one", &[("cu1.c", "")], true) else {
        return;
    };
    let Some(tool) = resolve_btfids("6.1") else {
        return;
    };
    let reference = dir.join("ref.o");
    std::fs::copy(&one, &reference).unwrap();
    assert!(Command::new(&tool)
        .arg(&reference)
        .status()
        .unwrap()
        .success());

    let s = dir.join("many.s");
    let mut text = String::new();
    for i in 0..65300 {
        text += &format!(".section .text.s{i},\"ax\",@progbits\nnop\n");
    }
    std::fs::write(&s, text).unwrap();
    let many = dir.join("many.o");
    assert!(Command::new("as")
        .arg(&s)
        .arg("-o")
        .arg(&many)
        .status()
        .unwrap()
        .success());
    let unit = fixture(&dir, "unit", &[("cu1.c", "")], false).unwrap();
    let big = dir.join("big.o");
    assert!(Command::new("ld")
        .arg("-r")
        .arg(&many)
        .arg(&unit)
        .arg("-o")
        .arg(&big)
        .output()
        .unwrap()
        .status
        .success());
    assert!(Command::new("pahole")
        .arg("-J")
        .arg(&big)
        .status()
        .unwrap()
        .success());
    let sec = match btf_resolve::elf::read(&std::fs::read(&big).unwrap()).unwrap() {
        btf_resolve::elf::Found::Ids(s) => s,
        _ => panic!("no .BTF_ids"),
    };
    assert!(sec.index > 0xff00, ".BTF_ids is section {}", sec.index);
    assert!(!sec.symbols.is_empty());
    let o = ours(&[big.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        ids_section(&std::fs::read(&big).unwrap()),
        ids_section(&std::fs::read(&reference).unwrap())
    );
}
