//! The Debian 6.1 kernel as the oracle: its build resolved `.BTF_ids` of
//! vmlinux and of the modules. From a pre-resolve copy (slots and set counts
//! 0, set8 flags back beside their kfuncs' slots) btf-resolve gives back the
//! shipped bytes, and a second run changes nothing.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use btf::{Btf, NameIndex};
use btf_resolve::elf::Found;
use btf_resolve::{plan, unresolved_section, Options};
use common::*;

#[test]
fn vmlinux_pre_resolve_copy_gives_back_the_shipped_file() {
    let v = Path::new(VMLINUX_61);
    if !oracle(v.exists(), VMLINUX_61) {
        return;
    }
    let dir = tmp("vmlinux");
    let pre = dir.join("vmlinux.pre");
    let shipped = std::fs::read(v).unwrap();
    assert!(btf_resolve::unresolve_file(v, &pre, &Default::default()).unwrap());
    let pre_bytes = std::fs::read(&pre).unwrap();
    let (sec, ids) = match btf_resolve::elf::read(&shipped).unwrap() {
        Found::Ids(s) => (s.clone(), ids_section(&shipped)),
        Found::Nothing(w) => panic!("{w}"),
    };
    // The copy differs from the shipped file inside .BTF_ids only.
    let (lo, hi) = (
        sec.file_offset as usize,
        (sec.file_offset + sec.size) as usize,
    );
    assert_eq!(pre_bytes.len(), shipped.len());
    assert!(pre_bytes[..lo] == shipped[..lo] && pre_bytes[hi..] == shipped[hi..]);
    assert_ne!(&pre_bytes[lo..hi], &ids[..]);
    drop(pre_bytes);

    let o = ours(&[std::ffi::OsStr::new("-v"), pre.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("453 symbols: 439 id slots")
            && err.contains("and 1 BTF_ID_UNUSED (440 id words)")
            && err.contains("8 sets, 6 set8; update ok"),
        "{}",
        err.lines().last().unwrap_or("")
    );
    let got = std::fs::read(&pre).unwrap();
    assert!(
        got == shipped,
        "resolved copy differs from the shipped vmlinux"
    );
    drop(got);
    let o = ours(&[std::ffi::OsStr::new("-v"), pre.as_os_str()]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("update not needed"));
    assert!(
        std::fs::read(&pre).unwrap() == shipped,
        "second run changed the file"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The 6.1 modules (uncompressed `.ko` files).
fn modules() -> Vec<PathBuf> {
    modules_61()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "ko"))
        .collect()
}

#[test]
fn every_module_with_btf_ids_round_trips() {
    if !oracle(
        Path::new(VMLINUX_61).exists() && Path::new(MODULES_61).exists(),
        MODULES_61,
    ) {
        return;
    }
    let base = Arc::new(btf::load(VMLINUX_61).unwrap());
    let base_index = Arc::new(NameIndex::new(&base));
    let mods = modules();
    assert!(mods.len() > 1000, "only {} modules", mods.len());
    let (mut with_ids, mut slots, mut sets) = (0, 0, 0);
    for m in &mods {
        let data = std::fs::read(m).unwrap();
        let sec = match btf_resolve::elf::read(&data).unwrap() {
            Found::Ids(s) => s,
            Found::Nothing(_) => continue,
        };
        with_ids += 1;
        let raw = btf::read::elf::section_data(&data, ".BTF")
            .unwrap()
            .unwrap();
        let split = Btf::parse_split(&raw, base.clone()).unwrap();
        let index = NameIndex::with_base(&split, base_index.clone()).unwrap();
        let (lo, hi) = (
            sec.file_offset as usize,
            (sec.file_offset + sec.size) as usize,
        );
        let shipped = &data[lo..hi];
        let again = plan(sec.clone(), shipped, &split, &index, &Options::default())
            .unwrap_or_else(|e| panic!("{}: {e}", m.display()));
        assert_eq!(
            again.bytes,
            shipped,
            "{}: a run on the shipped module changes it",
            m.display()
        );
        let pre = unresolved_section(&again);
        let fresh = plan(sec, &pre, &split, &index, &Options::default()).unwrap();
        assert_eq!(
            fresh.bytes,
            shipped,
            "{}: pre-resolve copy does not resolve to the shipped bytes",
            m.display()
        );
        slots += fresh.stats.slots;
        sets += fresh.stats.sets + fresh.stats.set8s;
    }
    eprintln!("{with_ids} modules with .BTF_ids, {slots} slots, {sets} sets: all identical");
    assert!(with_ids >= 4, "only {with_ids} modules have .BTF_ids");
}

/// The modules' files end to end: a pre-resolve copy, `btf-resolve -b
/// vmlinux`, the shipped file back; and resolve_btfids 6.1 on the same copy
/// gives the same file.
#[test]
fn modules_files_with_base_match_shipped_and_resolve_btfids() {
    if !oracle(
        Path::new(VMLINUX_61).exists() && Path::new(MODULES_61).exists(),
        MODULES_61,
    ) {
        return;
    }
    let tool = resolve_btfids("6.1");
    let dir = tmp("modules");
    let src = btf_resolve::Sources {
        btf: None,
        base: Some(PathBuf::from(VMLINUX_61)),
    };
    let mut n = 0;
    for m in modules() {
        let data = std::fs::read(&m).unwrap();
        if !matches!(btf_resolve::elf::read(&data).unwrap(), Found::Ids(_)) {
            continue;
        }
        n += 1;
        let name = m.file_name().unwrap().to_string_lossy().into_owned();
        let pre = dir.join(format!("{name}.pre"));
        assert!(btf_resolve::unresolve_file(&m, &pre, &src).unwrap());
        let mine = dir.join(format!("{name}.ours"));
        std::fs::copy(&pre, &mine).unwrap();
        let o = ours(&[
            std::ffi::OsStr::new("-b"),
            std::ffi::OsStr::new(VMLINUX_61),
            mine.as_os_str(),
        ]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            std::fs::read(&mine).unwrap() == data,
            "{name}: not the shipped bytes"
        );
        if let Some(tool) = &tool {
            let theirs = dir.join(format!("{name}.c"));
            std::fs::copy(&pre, &theirs).unwrap();
            let c = std::process::Command::new(tool)
                .arg("-b")
                .arg(VMLINUX_61)
                .arg(&theirs)
                .output()
                .unwrap();
            assert!(c.status.success(), "resolve_btfids failed on {name}");
            assert!(
                std::fs::read(&theirs).unwrap() == data,
                "{name}: resolve_btfids does not give the shipped bytes from the pre-resolve copy"
            );
            assert_eq!(
                warn_lines(&c.stderr),
                warn_lines(&o.stderr),
                "{name}: warnings"
            );
        }
    }
    assert!(n >= 4, "{n} modules with .BTF_ids");
}
