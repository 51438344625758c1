//! The BTF features newer than pahole 1.24 (`decl_tag_kfuncs`, `global_var`,
//! `distilled_base`, `optimized_func`, `consistent_func`): what the output
//! contains, and where like can be compared with like, the same as the
//! newest pahole's (v1.31, built by hand from its source: the oracle
//! `BTFKIT_PAHOLE_NEW`, default `/work/pahole-new/bin/pahole`, its
//! libraries in `../lib` beside it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use btf::{Btf, Kind, TypeId};
use btfkit_tests::{oracle_file, oracle_program, pahole_new, MODULES_61, VMLINUX_61};
use object::{Object, ObjectSection};

const BIN: &str = env!("CARGO_BIN_EXE_btf-encode");

/// The 6.12 kernel's `--btf_features` (scripts/Makefile.btf, pahole 1.26+).
const KERNEL_FEATURES: &str = "--btf_features=encode_force,var,float,enum64,decl_tag,type_tag,\
optimized_func,consistent_func,decl_tag_kfuncs";

fn tmpdir(tag: &str) -> PathBuf {
    btfkit_tests::scratch_dir("encode-features", tag)
}

fn c_source(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/c")
            .join(name),
    )
    .unwrap()
}

fn clang(name: &str, out: &Path) {
    let c = out.with_extension("c");
    std::fs::write(&c, c_source(name)).unwrap();
    let st = Command::new("clang")
        .args(["-g", "-O2", "-c"])
        .arg(&c)
        .arg("-o")
        .arg(out)
        .status()
        .unwrap();
    assert!(st.success(), "clang {name}");
}

fn run_tool(tool: &Path, input: &Path, out: &Path, flags: &[&str]) {
    let mut c = Command::new(tool);
    if let Some(lib) = tool
        .parent()
        .and_then(|b| b.parent())
        .map(|p| p.join("lib"))
    {
        c.env("LD_LIBRARY_PATH", lib);
    }
    let o = c
        .arg("-J")
        .args(flags)
        .arg(format!("--btf_encode_detached={}", out.display()))
        .arg(input)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{} {flags:?} {}: {}",
        tool.display(),
        input.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Encodes `input` with our encoder and returns the parsed BTF.
fn ours(input: &Path, flags: &[&str], base: Option<&Arc<Btf>>) -> Btf {
    let out = input.with_extension(format!("ours{}.btf", flags.len()));
    run_tool(Path::new(BIN), input, &out, flags);
    btf::parse_any(&std::fs::read(&out).unwrap(), base.cloned()).unwrap()
}

fn theirs(tool: &Path, input: &Path, flags: &[&str], base: Option<&Arc<Btf>>) -> Btf {
    let out = input.with_extension(format!("new{}.btf", flags.len()));
    run_tool(tool, input, &out, flags);
    btf::parse_any(&std::fs::read(&out).unwrap(), base.cloned()).unwrap()
}

fn name(b: &Btf, id: TypeId) -> String {
    b.name_of(id).to_string()
}

/// The own FUNC names.
fn funcs(b: &Btf) -> BTreeSet<String> {
    b.own_types()
        .filter(|(_, t)| t.kind() == Kind::Func)
        .map(|(id, _)| name(b, id))
        .collect()
}

/// (tag, target FUNC name, component) of every own DECL_TAG on a FUNC.
fn func_tags(b: &Btf) -> BTreeSet<(String, String, i32)> {
    let mut out = BTreeSet::new();
    for (id, t) in b.own_types() {
        if let btf::types::TypeData::DeclTag(d) = &t.data {
            if b.is_kind(d.ty, Kind::Func) {
                out.insert((name(b, id), name(b, d.ty), d.component_idx));
            }
        }
    }
    out
}

/// (DATASEC, VAR, offset, size) of every own DATASEC entry.
fn datasec_vars(b: &Btf) -> BTreeSet<(String, String, u32, u32)> {
    let mut out = BTreeSet::new();
    for (id, t) in b.own_types() {
        if let btf::types::TypeData::Datasec(d) = &t.data {
            for v in &d.vars {
                out.insert((name(b, id), name(b, v.ty), v.offset, v.size));
            }
        }
    }
    out
}

fn has_tag(tags: &BTreeSet<(String, String, i32)>, tag: &str, func: &str) -> bool {
    tags.contains(&(tag.to_string(), func.to_string(), -1))
}

/// `decl_tag_kfuncs`: the FUNCs of a `BTF_SET8` kfunc set (flag
/// `BTF_SET8_KFUNCS`, laid out as before resolve_btfids: counts 0) get a
/// `bpf_kfunc` DECL_TAG, those flagged `KF_FASTCALL` also `bpf_fastcall`;
/// a set without the flag tags nothing. Under both function rules; the same
/// tags as pahole 1.31.
#[test]
fn kfunc_decl_tags() {
    if !oracle_program("clang") {
        return;
    }
    let d = tmpdir("kfuncs");
    let o = d.join("kfuncs.o");
    clang("kfuncs.c", &o);
    let new_rules = "--btf_features=decl_tag,decl_tag_kfuncs,optimized_func,consistent_func";
    for flags in [
        &["--btf_features=decl_tag,decl_tag_kfuncs"][..],
        &[new_rules],
    ] {
        let tags = func_tags(&ours(&o, flags, None));
        assert!(
            has_tag(&tags, "bpf_kfunc", "kf_acquire"),
            "{flags:?} {tags:?}"
        );
        assert!(has_tag(&tags, "bpf_kfunc", "kf_fast"), "{tags:?}");
        assert!(has_tag(&tags, "bpf_fastcall", "kf_fast"), "{tags:?}");
        assert_eq!(
            tags.len(),
            3,
            "not_kfunc's set is not a kfunc set: {tags:?}"
        );
    }
    let none = func_tags(&ours(&o, &["--btf_features=decl_tag"], None));
    assert!(none.is_empty(), "{none:?}");
    let no_decl = func_tags(&ours(&o, &["--btf_features=decl_tag_kfuncs"], None));
    assert!(
        no_decl.is_empty(),
        "decl_tag off: no kfunc tags: {no_decl:?}"
    );
    let Some(p) = pahole_new() else {
        return;
    };
    let t = theirs(&p, &o, &[new_rules], None);
    let b = ours(&o, &[new_rules], None);
    assert_eq!(func_tags(&b), func_tags(&t));
    assert_eq!(funcs(&b), funcs(&t));
}

/// `global_var`: every global variable with a static address as VAR, in a
/// DATASEC named by its ELF section (the per-CPU ones too); function
/// statics, `__UNIQUE_ID` names and declarations left out. Without it only
/// per-CPU variables. The same (DATASEC, VAR, offset, size) as pahole 1.31.
#[test]
fn global_variables() {
    if !oracle_program("clang") {
        return;
    }
    let d = tmpdir("globals");
    let o = d.join("globals.o");
    clang("globals.c", &o);
    let b = ours(&o, &["--btf_features=var,global_var"], None);
    let got = datasec_vars(&b);
    let names: BTreeSet<(&str, &str)> = got
        .iter()
        .map(|(s, v, _, _)| (s.as_str(), v.as_str()))
        .collect();
    for want in [
        (".data", "g_data"),
        (".data", "g_arr"),
        (".bss", "g_bss"),
        (".rodata", "g_ro"),
        (".data..percpu", "pcpu_var"),
        (".mysec", "in_mysec"),
    ] {
        assert!(names.contains(&want), "{want:?} missing: {got:?}");
    }
    assert!(
        !names
            .iter()
            .any(|(_, v)| matches!(*v, "calls" | "__UNIQUE_ID_skipme" | "ext_decl")),
        "{got:?}"
    );
    let percpu = datasec_vars(&ours(&o, &["--btf_features=var"], None));
    assert!(
        percpu.iter().all(|(s, _, _, _)| s == ".data..percpu"),
        "{percpu:?}"
    );
    let Some(p) = pahole_new() else {
        return;
    };
    let t = theirs(&p, &o, &["--btf_features=var,global_var"], None);
    assert_eq!(got, datasec_vars(&t));
}

/// `consistent_func`: a static function of one name with two prototypes in
/// two units is left out; `optimized_func` alone keeps it (the first
/// instance). The same FUNC sets as pahole 1.31.
#[test]
fn inconsistent_prototypes() {
    if !oracle_program("clang") || !oracle_program("ld") {
        return;
    }
    let d = tmpdir("proto");
    let (a, b, ab) = (d.join("a.o"), d.join("b.o"), d.join("ab.o"));
    clang("proto_a.c", &a);
    clang("proto_b.c", &b);
    let st = Command::new("ld")
        .arg("-r")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&ab)
        .status()
        .unwrap();
    assert!(st.success());
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let opt = ours(&ab, &["--btf_features=optimized_func"], None);
    assert_eq!(funcs(&opt), set(&["call_a", "call_b", "dup"]));
    let cons = ours(
        &ab,
        &["--btf_features=optimized_func,consistent_func"],
        None,
    );
    assert_eq!(funcs(&cons), set(&["call_a", "call_b"]));
    let flag = ours(&ab, &["--skip_encoding_btf_inconsistent_proto"], None);
    assert_eq!(funcs(&flag), set(&["call_a", "call_b"]));
    let Some(p) = pahole_new() else {
        return;
    };
    for f in [
        "--btf_features=optimized_func",
        "--btf_features=optimized_func,consistent_func",
    ] {
        assert_eq!(
            funcs(&ours(&ab, &[f], None)),
            funcs(&theirs(&p, &ab, &[f], None)),
            "{f}"
        );
    }
}

/// The 6.1 vmlinux with the 6.12 kernel's features: the same FUNC names as
/// pahole 1.31 (41492 here), fewer than pahole 1.24's rules give, and the
/// same kfunc tags (none: 6.1's sets predate `BTF_SET8_KFUNCS`). The same
/// bytes at -j1 and -j.
#[test]
fn vmlinux_function_rules_equal_newest_pahole() {
    let Some(v) = oracle_file(VMLINUX_61) else {
        return;
    };
    let d = tmpdir("vmlinux");
    let flags = ["--lang_exclude=rust", KERNEL_FEATURES];
    let run = |tool: &Path, out: &Path, extra: &[&str]| {
        let mut f: Vec<&str> = flags.to_vec();
        f.extend_from_slice(extra);
        run_tool(tool, &v, out, &f);
        std::fs::read(out).unwrap()
    };
    let ours_b = run(Path::new(BIN), &d.join("ours.btf"), &["-j1"]);
    let ours_j = run(Path::new(BIN), &d.join("ours-j.btf"), &["-j"]);
    assert!(ours_b == ours_j, "-j1 and -j differ");
    let Some(p) = pahole_new() else {
        return;
    };
    let theirs_b = run(&p, &d.join("new.btf"), &["-j1"]);
    let o = btf::parse_any(&ours_b, None).unwrap();
    let t = btf::parse_any(&theirs_b, None).unwrap();
    let (fo, ft) = (funcs(&o), funcs(&t));
    let only_ours: Vec<_> = fo.difference(&ft).take(10).collect();
    let only_theirs: Vec<_> = ft.difference(&fo).take(10).collect();
    assert!(
        fo == ft,
        "FUNC sets differ: {} ours, {} pahole 1.31; only ours {only_ours:?}, only pahole {only_theirs:?}",
        fo.len(),
        ft.len()
    );
    assert_eq!(func_tags(&o), func_tags(&t));
}

/// `distilled_base` on a module (in place, split on the vmlinux): a
/// `.BTF.base` section beside `.BTF`; `.BTF` parses as split BTF on it;
/// the distilled base holds only named structs, unions, enums and the
/// INTs/FLOATs/FWDs the module uses, and the same (kind, name) set as pahole
/// 1.31's. Without the feature, no `.BTF.base`.
#[test]
fn distilled_base_for_a_module() {
    let Some(v) = oracle_file(VMLINUX_61) else {
        return;
    };
    let m = Path::new(MODULES_61).join("kernel/fs/fat/fat.ko");
    let Some(m) = oracle_file(&m.display().to_string()) else {
        return;
    };
    let d = tmpdir("distilled");
    let sections = |elf: &Path| -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let data = std::fs::read(elf).unwrap();
        let f = object::File::parse(&*data).unwrap();
        let get = |n: &str| {
            f.section_by_name(n)
                .map(|s| s.uncompressed_data().unwrap().into_owned())
        };
        (get(".BTF"), get(".BTF.base"))
    };
    let in_place = |tool: &Path, copy: &Path, extra: &[&str]| {
        std::fs::copy(&m, copy).unwrap();
        let mut c = Command::new(tool);
        if let Some(lib) = tool
            .parent()
            .and_then(|b| b.parent())
            .map(|p| p.join("lib"))
        {
            c.env("LD_LIBRARY_PATH", lib);
        }
        let o = c
            .arg("-J")
            .arg("--btf_base")
            .arg(&v)
            .args(["--lang_exclude=rust", KERNEL_FEATURES])
            .args(extra)
            .arg(copy)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        sections(copy)
    };
    let plain = in_place(Path::new(BIN), &d.join("plain.ko"), &[]);
    assert!(plain.0.is_some() && plain.1.is_none());
    let (split, base) = in_place(
        Path::new(BIN),
        &d.join("ours.ko"),
        &["--btf_features=distilled_base"],
    );
    let base = Arc::new(btf::parse_any(&base.expect(".BTF.base"), None).unwrap());
    let split = btf::parse_any(&split.expect(".BTF"), Some(base.clone())).unwrap();
    let kinds = |b: &Btf| -> BTreeSet<(String, String)> {
        b.own_types()
            .map(|(id, t)| (format!("{:?}", t.kind()), name(b, id)))
            .collect()
    };
    for (id, t) in base.own_types() {
        assert!(
            matches!(
                t.kind(),
                Kind::Int
                    | Kind::Float
                    | Kind::Fwd
                    | Kind::Struct
                    | Kind::Union
                    | Kind::Enum
                    | Kind::Enum64
            ),
            "[{}] {:?} in the distilled base",
            id.0,
            t.kind()
        );
    }
    let copy = d.join("fat.ko");
    std::fs::copy(&m, &copy).unwrap();
    let full = ours(
        &copy,
        &[
            "--btf_base",
            &v.display().to_string(),
            "--lang_exclude=rust",
            KERNEL_FEATURES,
        ],
        Some(&Arc::new(btf::load(&v).unwrap())),
    );
    assert_eq!(funcs(&split), funcs(&full));
    // The base types the module uses that distillation does not keep
    // (typedefs, pointers, modifiers...) move into the split part.
    assert!(split.own_types().len() >= full.own_types().len());
    let Some(p) = pahole_new() else {
        return;
    };
    let (tsplit, tbase) = in_place(&p, &d.join("new.ko"), &["--btf_features=distilled_base"]);
    let tbase = Arc::new(btf::parse_any(&tbase.expect("pahole's .BTF.base"), None).unwrap());
    let tsplit = btf::parse_any(&tsplit.unwrap(), Some(tbase.clone())).unwrap();
    assert_eq!(kinds(&base), kinds(&tbase));
    assert_eq!(funcs(&split), funcs(&tsplit));
}
