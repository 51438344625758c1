//! The newer interface (Linux 6.19+ gen-btf.sh): `<elf>.BTF_ids`, `<elf>.BTF`
//! and `<elf>.BTF.base` written beside an untouched ELF. resolve_btfids 6.12
//! is the oracle for the ids: run in place on the ELF with our rewritten
//! `.BTF` embedded, it must write exactly our `<elf>.BTF_ids`.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use btf::{Btf, Builder, Kind, TypeData, TypeId};
use common::*;

fn out(elf: &Path, suffix: &str) -> PathBuf {
    btf_resolve::gen::out_path(elf, suffix)
}

/// `dst`: a copy of `elf` with `btf` as its `.BTF` (replaced, or added when
/// `elf` has none).
fn objcopy_btf(elf: &Path, btf: &Path, dst: &Path) {
    std::fs::copy(elf, dst).unwrap();
    let has = btf::read::elf::section_data(&std::fs::read(elf).unwrap(), ".BTF")
        .unwrap()
        .is_some();
    let op = if has { "update" } else { "add" };
    let st = Command::new("objcopy")
        .arg(format!("--{op}-section=.BTF={}", btf.display()))
        .arg(dst)
        .status()
        .unwrap();
    assert!(st.success(), "objcopy --{op}-section .BTF");
}

/// resolve_btfids 6.12 in place on `elf` with `btf` as its `.BTF`: its `.BTF_ids`.
fn oracle_ids(tool: &Path, elf: &Path, btf: &Path, dir: &Path) -> Vec<u8> {
    let c = dir.join("oracle.o");
    objcopy_btf(elf, btf, &c);
    let o = Command::new(tool).arg(&c).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    ids_section(&std::fs::read(&c).unwrap())
}

fn sorted_by_name(btf: &Btf) -> bool {
    let names: Vec<&[u8]> = btf
        .own_types()
        .map(|(_, t)| btf.str_bytes(t.name_off).unwrap_or_default())
        .collect();
    names.windows(2).all(|w| w[0] <= w[1])
}

#[test]
fn files_mode_matches_resolve_btfids_on_the_rewritten_btf() {
    let dir = tmp("gen-files");
    let Some(both) = fixture(&dir, "both", &[("cu1.c", ""), ("cu2.c", "")], true) else {
        return;
    };
    let before = std::fs::read(&both).unwrap();
    let o = ours(&[
        OsStr::new("--mode"),
        OsStr::new("files"),
        OsStr::new("-v"),
        both.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read(&both).unwrap() == before,
        "files mode changed the ELF"
    );
    let blob = std::fs::read(out(&both, ".BTF_ids")).unwrap();
    let raw = std::fs::read(out(&both, ".BTF")).unwrap();
    assert!(!out(&both, ".BTF.base").exists());
    let btf = Btf::parse(&raw).unwrap();
    assert!(sorted_by_name(&btf));
    let orig = btf::parse_any(&before, None).unwrap();
    assert_eq!(btf.own_type_count(), orig.own_type_count());
    assert_eq!(
        btf.own_strings(),
        orig.own_strings(),
        "strings kept as they were"
    );
    // Idempotent: a second run writes the same files.
    let o2 = ours(&[OsStr::new("--mode"), OsStr::new("files"), both.as_os_str()]);
    assert!(o2.status.success());
    assert!(std::fs::read(out(&both, ".BTF_ids")).unwrap() == blob);
    assert!(std::fs::read(out(&both, ".BTF")).unwrap() == raw);
    // Same warning lines as in place (on the sorted BTF the ids differ, the names do not).
    let inplace = dir.join("inplace.o");
    std::fs::copy(&both, &inplace).unwrap();
    let oi = ours(&[inplace.as_os_str()]);
    let strip = |v: Vec<String>| -> Vec<String> {
        let mut v: Vec<String> = v
            .into_iter()
            .map(|l| l.split(':').take(2).collect::<Vec<_>>().join(":"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(strip(warn_lines(&o.stderr)), strip(warn_lines(&oi.stderr)));

    let Some(tool) = resolve_btfids("6.12") else {
        return;
    };
    assert_eq!(oracle_ids(&tool, &both, &out(&both, ".BTF"), &dir), blob);
    // --patch_btfids puts the blob in: the ELF is then what resolve_btfids
    // makes of it, byte for byte.
    let patched = dir.join("patched.o");
    objcopy_btf(&both, &out(&both, ".BTF"), &patched);
    let p = ours(&[
        OsStr::new("--patch_btfids"),
        out(&both, ".BTF_ids").as_os_str(),
        patched.as_os_str(),
    ]);
    assert!(p.status.success());
    assert_eq!(ids_section(&std::fs::read(&patched).unwrap()), blob);
}

/// The gen-btf.sh flow: pahole writes the BTF beside the ELF, we are called
/// with `--btf ELF.BTF.1` on an ELF without `.BTF` (auto picks files mode), the build
/// adds `.BTF` and patches `.BTF_ids` from the blob.
#[test]
fn gen_btf_flow_with_detached_btf() {
    let dir = tmp("gen-flow");
    let Some(bare) = fixture(&dir, "bare", &[("cu1.c", ""), ("cu2.c", "")], false) else {
        return;
    };
    let btf1 = out(&bare, ".BTF.1");
    let st = Command::new("pahole")
        .arg("-J")
        .arg(format!("--btf_encode_detached={}", btf1.display()))
        .arg(&bare)
        .status()
        .unwrap();
    assert!(
        st.success() && btf1.exists(),
        "pahole --btf_encode_detached"
    );
    let before = std::fs::read(&bare).unwrap();
    let o = ours(&[OsStr::new("--btf"), btf1.as_os_str(), bare.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&bare).unwrap() == before, "ELF changed");
    let blob = std::fs::read(out(&bare, ".BTF_ids")).unwrap();
    let elf = dir.join("final.o");
    objcopy_btf(&bare, &out(&bare, ".BTF"), &elf);
    let p = ours(&[
        OsStr::new("--patch_btfids"),
        out(&bare, ".BTF_ids").as_os_str(),
        elf.as_os_str(),
    ]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    assert_eq!(ids_section(&std::fs::read(&elf).unwrap()), blob);
    // The slots name what they hold in the embedded BTF.
    let r = ours(&[
        OsStr::new("--report"),
        OsStr::new("json"),
        OsStr::new("--mode"),
        OsStr::new("elf"),
        elf.as_os_str(),
    ]);
    assert!(r.status.success());
    assert!(std::fs::read(&elf).unwrap() == std::fs::read(dir.join("final.o")).unwrap());
    let Some(tool) = resolve_btfids("6.12") else {
        return;
    };
    let c = dir.join("c.o");
    objcopy_btf(&bare, &out(&bare, ".BTF"), &c);
    assert!(Command::new(&tool).arg(&c).status().unwrap().success());
    assert_eq!(ids_section(&std::fs::read(&c).unwrap()), blob);
}

const KFUNCS: &str = r#"#include "btf_ids.h"
struct bpf_prog_aux { int x; };
struct btf_struct_meta { int y; };
__attribute__((noinline)) int bpf_kf_a(int a, struct bpf_prog_aux *aux) { return a + (aux ? aux->x : 0); }
__attribute__((noinline)) int bpf_kf_b(int a, void *p, const struct btf_struct_meta *m, int z) { return a + (p != 0) + (m ? m->y : 0) + z; }
__attribute__((noinline)) int bpf_kf_c(int a, struct bpf_prog_aux *aux) { return a + (aux != 0); }
__attribute__((noinline)) int bpf_kf_d_impl(int a, struct bpf_prog_aux *aux) { return a - (aux != 0); }
__attribute__((noinline)) int bpf_kf_d(int a, struct bpf_prog_aux *aux) { return bpf_kf_d_impl(a, aux); }
BTF_SET8_START(kf)
BTF_ID_FLAGS(func, bpf_kf_a, 0x10000)
BTF_ID_FLAGS(func, bpf_kf_b, 0x10001)
BTF_ID_FLAGS(func, bpf_kf_c, 1)
BTF_ID_FLAGS(func, bpf_kf_d, 0x10000)
BTF_SET8_END(kf)
BTF_ID_LIST(kl)
BTF_ID(func, bpf_kf_a)
BTF_ID(func, bpf_kf_a_impl)
"#;

fn func(btf: &Btf, name: &str) -> TypeId {
    let i = btf::NameIndex::new(btf);
    i.find(btf, name, Kind::Func)
        .unwrap_or_else(|| panic!("no FUNC {name}"))
}

fn params(btf: &Btf, f: TypeId) -> Vec<String> {
    let TypeData::Func(x) = &btf.get(f).unwrap().data else {
        panic!()
    };
    let TypeData::FuncProto(p) = &btf.get(x.proto).unwrap().data else {
        panic!()
    };
    p.params
        .iter()
        .map(|p| btf.str_at(p.name_off).unwrap().to_string())
        .collect()
}

fn tags_on(btf: &Btf, f: TypeId) -> Vec<(String, i32, bool)> {
    btf.types()
        .filter_map(|(_, t)| match &t.data {
            TypeData::DeclTag(d) if d.ty == f => Some((
                btf.str_at(t.name_off).unwrap().to_string(),
                d.component_idx,
                t.kind_flag,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn kf_implicit_args_rewrite_the_btf() {
    let dir = tmp("gen-implicit");
    let Some(obj) = fixture(&dir, "kf", &[("kf.c", KFUNCS)], true) else {
        return;
    };
    // pahole 1.24 on gcc output has no decl tags: add the ones the kernel's
    // __bpf_kfunc makes, plus others that must follow to the _impl FUNC.
    let orig = btf::parse_any(&std::fs::read(&obj).unwrap(), None).unwrap();
    let mut b = Builder::from_btf(&orig);
    for n in ["bpf_kf_a", "bpf_kf_b", "bpf_kf_c", "bpf_kf_d"] {
        b.add_decl_tag("bpf_kfunc", func(&orig, n), -1);
    }
    b.add_decl_tag("other", func(&orig, "bpf_kf_a"), -1);
    b.add_decl_tag("arg", func(&orig, "bpf_kf_a"), 1);
    b.add_decl_attr("attr", func(&orig, "bpf_kf_a"), -1);
    let tagged = b.finish().unwrap();
    let raw = dir.join("kf.btf");
    std::fs::write(&raw, tagged.to_bytes()).unwrap();

    let o = ours(&[
        OsStr::new("--mode"),
        OsStr::new("files"),
        OsStr::new("-v"),
        OsStr::new("--btf"),
        raw.as_os_str(),
        obj.as_os_str(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("updated BTF for kfunc with implicit args bpf_kf_a (added _impl)"),
        "{err}"
    );
    assert!(
        err.contains("updated BTF for kfunc with implicit args bpf_kf_d\n"),
        "{err}"
    );
    let btf = Btf::parse(&std::fs::read(out(&obj, ".BTF")).unwrap()).unwrap();
    assert!(sorted_by_name(&btf));
    assert_eq!(
        btf.own_type_count(),
        tagged.own_type_count() + 2 + 3 + 1 + 1 + 1
    );
    let a = func(&btf, "bpf_kf_a");
    assert_eq!(params(&btf, a), ["a"]);
    let ai = func(&btf, "bpf_kf_a_impl");
    assert_eq!(params(&btf, ai), ["a", "aux"]);
    let mut t = tags_on(&btf, ai);
    t.sort();
    assert_eq!(
        t,
        [
            ("arg".into(), 1, false),
            ("attr".into(), -1, true),
            ("other".into(), -1, false)
        ]
    );
    assert_eq!(params(&btf, func(&btf, "bpf_kf_b")), ["a", "p"]);
    assert!(btf::NameIndex::new(&btf)
        .find(&btf, "bpf_kf_b_impl", Kind::Func)
        .is_some());
    assert_eq!(
        params(&btf, func(&btf, "bpf_kf_c")),
        ["a", "aux"],
        "no KF_IMPLICIT_ARGS"
    );
    assert_eq!(params(&btf, func(&btf, "bpf_kf_d")), ["a"]);
    assert_eq!(params(&btf, func(&btf, "bpf_kf_d_impl")), ["a", "aux"]);
    assert_eq!(tags_on(&btf, func(&btf, "bpf_kf_d_impl")), []);
    // The ids in the blob are those of the rewritten BTF: the list names
    // bpf_kf_a and the added bpf_kf_a_impl; resolve_btfids 6.12 agrees.
    let blob = std::fs::read(out(&obj, ".BTF_ids")).unwrap();
    let Some(tool) = resolve_btfids("6.12") else {
        return;
    };
    let with_tags = dir.join("tagged.o");
    objcopy_btf(&obj, &raw, &with_tags);
    assert_eq!(
        oracle_ids(&tool, &with_tags, &out(&obj, ".BTF"), &dir),
        blob
    );
}

/// `--distill_base` on a real Debian module: `.BTF.base` holds only base
/// types the module needs, memberless; the module's types follow their
/// names; the ids in `.BTF_ids` name the right types of the new split BTF.
#[test]
fn distill_base_on_a_real_module() {
    if !oracle(Path::new(VMLINUX_61).exists(), "Debian 6.1 vmlinux") {
        return;
    }
    let dir = tmp("gen-distill");
    let Some(m) = modules_61()
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with("/nf_conntrack.ko"))
    else {
        assert!(!in_ci(), "nf_conntrack.ko missing");
        return;
    };
    // As the linker leaves it: ids 0, set8 flags beside their kfuncs.
    let ko = dir.join("m.ko");
    let src = btf_resolve::Sources {
        btf: None,
        base: Some(VMLINUX_61.into()),
    };
    assert!(btf_resolve::unresolve_file(&m, &ko, &src).unwrap());
    let pre = std::fs::read(&ko).unwrap();
    let o = ours(&[
        OsStr::new("--distill_base"),
        OsStr::new("-b"),
        OsStr::new(VMLINUX_61),
        ko.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&ko).unwrap() == pre);
    let base = Arc::new(Btf::parse(&std::fs::read(out(&ko, ".BTF.base")).unwrap()).unwrap());
    let split = btf::read::raw::parse(
        &std::fs::read(out(&ko, ".BTF")).unwrap(),
        Some(base.clone()),
    )
    .unwrap();
    let vmlinux = btf::load(VMLINUX_61).unwrap();
    assert!(
        base.type_count() < vmlinux.type_count() / 10,
        "{} base types",
        base.type_count()
    );
    for (_, t) in base.own_types() {
        match &t.data {
            TypeData::Int(_) | TypeData::Float(_) | TypeData::Fwd => {}
            TypeData::Struct(c) | TypeData::Union(c) => {
                assert!(c.members.is_empty() && t.name_off.0 != 0)
            }
            TypeData::Enum(e) => assert!(e.values.is_empty() && t.name_off.0 != 0),
            d => panic!("{:?} in distilled base", d.kind()),
        }
    }
    assert!(sorted_by_name(&split));
    let orig = btf::load_with_base(&m, Some(Arc::new(vmlinux))).unwrap();
    assert!(split.own_type_count() >= orig.own_type_count());
    // Before sorting: each module type, relocated onto the full vmlinux by
    // name, kind and size, is the type it was.
    let (db, ds) = btf::distill::distill_base(&orig).unwrap();
    assert_eq!(db.to_bytes(), base.to_bytes());
    let diff = orig.start_id() - ds.start_id();
    for (id, _) in orig.own_types() {
        assert!(
            btf::distill::relocates_to(&orig, id, &ds, TypeId(id.0 - diff)),
            "module type {} does not relocate",
            id.0
        );
    }
    let r = btf_resolve::gen::gen(
        &ko,
        &src,
        &btf_resolve::Options::default(),
        &btf_resolve::gen::GenOptions {
            distill_base: true,
            dry: true,
        },
    )
    .unwrap();
    let plan = r.plan.unwrap();
    assert!(plan.bytes == std::fs::read(out(&ko, ".BTF_ids")).unwrap());
    // Every name resolved to a type of its name and kind in the new BTF, and
    // its id is in the blob (set members are sorted, so not at their slot).
    let words: std::collections::HashSet<u32> = plan
        .bytes
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
        .collect();
    let mut n = 0;
    for ((kind, name), &id) in &plan.ids {
        if id != 0 {
            let t = split.get(TypeId(id)).unwrap();
            assert_eq!(t.kind(), kind.btf_kind());
            assert_eq!(split.str_bytes(t.name_off).unwrap(), &name[..]);
            assert!(words.contains(&id));
            n += 1;
        }
    }
    assert!(n > 5, "{n} names resolved");
}

/// A failing run of the newer interface writes no file: every output is
/// computed before the first is written.
#[test]
fn failing_files_run_writes_nothing() {
    let dir = tmp("gen-fail");
    let Some(both) = fixture(&dir, "both", &[("cu1.c", ""), ("cu2.c", "")], true) else {
        return;
    };
    let o = ours(&[
        OsStr::new("--mode"),
        OsStr::new("files"),
        OsStr::new("--fatal_warnings"),
        both.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("fatal with --fatal_warnings"));
    for s in [".BTF_ids", ".BTF", ".BTF.base"] {
        assert!(!out(&both, s).exists(), "{s} written by a failing run");
    }
    // --distill_base without a base: nothing to distill, no .BTF.base (as upstream).
    let o = ours(&[OsStr::new("--distill_base"), both.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out(&both, ".BTF_ids").exists() && out(&both, ".BTF").exists());
    assert!(!out(&both, ".BTF.base").exists());
    // An ELF without .BTF_ids still gets its .BTF (modules without kfuncs).
    let plain = fixture(
        &dir,
        "plain",
        &[("plain.c", "int f(int x) { return x; }\n")],
        true,
    )
    .unwrap();
    let o = ours(&[
        OsStr::new("--mode"),
        OsStr::new("files"),
        OsStr::new("-v"),
        plain.as_os_str(),
    ]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("skip symbols resolution"));
    assert!(out(&plain, ".BTF").exists() && !out(&plain, ".BTF_ids").exists());
}

/// `-vv`: each slot with its symbol, object file, id and kind; each set entry.
#[test]
fn very_verbose_prints_each_slot_and_entry() {
    let dir = tmp("gen-vv");
    let Some(one) = fixture(&dir, "one", &[("cu1.c", "")], true) else {
        return;
    };
    let v = ours(&[OsStr::new("-v"), one.as_os_str()]);
    let one2 = dir.join("one2.o");
    std::fs::copy(&one, &one2).unwrap();
    let vv = ours(&[OsStr::new("-vv"), one2.as_os_str()]);
    assert!(v.status.success() && vv.status.success());
    let (v, vv) = (
        String::from_utf8_lossy(&v.stderr).into_owned(),
        String::from_utf8_lossy(&vv.stderr).into_owned(),
    );
    assert!(v.contains("patching addr") && !v.contains("slot "), "{v}");
    assert!(vv.contains("patching addr"), "{vv}");
    assert!(
        vv.contains("section(") && vv.contains(".BTF_ids, size"),
        "{vv}"
    );
    let slot = vv
        .lines()
        .find(|l| l.starts_with("slot ") && l.contains("struct") && l.contains("task_struct -> "))
        .unwrap_or_else(|| panic!("{vv}"));
    assert!(
        slot.contains("(STRUCT)") && slot.contains("__BTF_ID__struct__task_struct__"),
        "{slot}"
    );
    assert!(
        vv.lines()
            .any(|l| l.starts_with("set8 ") && l.contains("kfuncs cnt 5")),
        "{vv}"
    );
    assert!(vv.lines().any(|l| l.trim_start().starts_with("entry ") && l.contains("bpf_f3 (FUNC) flags 0x11")), "{vv}");
}
