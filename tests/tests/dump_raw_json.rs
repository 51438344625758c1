//! `btf_dump::raw` and `btf_dump::json` against bpftool 7.1, run here: the raw
//! text must be byte-identical, the JSON equal as parsed JSON (`serde_json::Value`).
//!
//! Inputs: /sys/kernel/btf/vmlinux, the 6.1 vmlinux ELF, all 1121 6.1 modules
//! on that vmlinux (raw and JSON), a /sys/kernel/btf module when one is loaded,
//! and the 14 objects of `../shared/suites/btf_dump`. Big inputs: run with
//! `cargo test --release -p btfkit-tests --test dump_raw_json`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use btf::Btf;
use btfkit_tests::{
    bpftool_dump, first_difference, kernel_has_modules, module_61_as_sysfs, modules_61, oracle,
    oracle_file, oracle_program, run, shared_dir, suite_objects, SYS_VMLINUX, VMLINUX_61,
};

fn ours_raw(btf: &Btf) -> Vec<u8> {
    let mut v = Vec::new();
    btf_dump::raw::dump(btf, &mut v).unwrap();
    v
}

fn ours_json(btf: &Btf) -> Vec<u8> {
    let mut v = Vec::new();
    btf_dump::json::dump(btf, &mut v).unwrap();
    v
}

/// bpftool's output for `[-j] btf dump [-B base] file FILE`.
fn bpftool(file: &Path, base: Option<&Path>, json: bool) -> Vec<u8> {
    run(&mut bpftool_dump(
        file,
        base,
        if json { "json" } else { "raw" },
    ))
}

/// Why two JSON documents differ as parsed JSON, or `None` when equal.
fn json_difference(ours: &[u8], theirs: &[u8]) -> Option<String> {
    let a: serde_json::Value = match serde_json::from_slice(ours) {
        Ok(v) => v,
        Err(e) => return Some(format!("our JSON does not parse: {e}")),
    };
    let b: serde_json::Value = match serde_json::from_slice(theirs) {
        Ok(v) => v,
        Err(e) => return Some(format!("bpftool's JSON does not parse: {e}")),
    };
    if a == b {
        return None;
    }
    let (ta, tb) = (&a["types"], &b["types"]);
    let (Some(ta), Some(tb)) = (ta.as_array(), tb.as_array()) else {
        return Some("no `types` array".into());
    };
    for (x, y) in ta.iter().zip(tb) {
        if x != y {
            return Some(format!("ours {x}\n bpftool {y}"));
        }
    }
    Some(format!("{} types, bpftool {}", ta.len(), tb.len()))
}

/// Checks raw (and JSON when `json`) for `file` on `base`.
fn check(file: &Path, base: Option<(&Path, &Arc<Btf>)>, json: bool) -> Result<(), String> {
    let btf = btf::load_with_base(file, base.map(|b| b.1.clone()))
        .map_err(|e| format!("{}: cannot load: {e}", file.display()))?;
    let base_path = base.map(|b| b.0);
    if let Some(d) = first_difference(&ours_raw(&btf), &bpftool(file, base_path, false)) {
        return Err(format!("{}: raw differs: {d}", file.display()));
    }
    if json {
        if let Some(d) = json_difference(&ours_json(&btf), &bpftool(file, base_path, true)) {
            return Err(format!("{}: JSON differs: {d}", file.display()));
        }
    }
    Ok(())
}

fn check_whole(path: &str) {
    if !oracle_program("bpftool") {
        return;
    }
    let Some(p) = oracle_file(path) else { return };
    // /sys/kernel/btf/<module> is read on vmlinux, as bpftool does by itself.
    let btf = btf::load(&p).unwrap();
    let raw = ours_raw(&btf);
    if let Some(d) = first_difference(&raw, &bpftool(&p, None, false)) {
        panic!("{path}: raw differs: {d}");
    }
    if let Some(d) = json_difference(&ours_json(&btf), &bpftool(&p, None, true)) {
        panic!("{path}: JSON differs: {d}");
    }
}

#[test]
fn sys_vmlinux_raw_and_json() {
    check_whole(SYS_VMLINUX);
}

#[test]
fn vmlinux_61_elf_raw_and_json() {
    check_whole(VMLINUX_61);
}

#[test]
fn sys_module_raw_and_json() {
    if !kernel_has_modules() {
        // No module can ever be under /sys/kernel/btf: compare what sysfs
        // would show for a module, a 6.1 module's raw split BTF, with
        // bpftool given the 6.1 vmlinux as its base.
        if !oracle_program("bpftool") {
            return;
        }
        let (Some(v), Some(m)) = (
            oracle_file(VMLINUX_61),
            module_61_as_sysfs(&std::env::temp_dir()),
        ) else {
            return;
        };
        let base = Arc::new(btf::load(&v).unwrap());
        let btf = Btf::parse_split(&std::fs::read(&m).unwrap(), base).unwrap();
        if let Some(d) = first_difference(&ours_raw(&btf), &bpftool(&m, Some(&v), false)) {
            panic!("{}: raw differs: {d}", m.display());
        }
        if let Some(d) = json_difference(&ours_json(&btf), &bpftool(&m, Some(&v), true)) {
            panic!("{}: JSON differs: {d}", m.display());
        }
        let _ = std::fs::remove_file(&m);
        return;
    }
    // The running kernel's first module with BTF.
    let module = std::fs::read_dir("/sys/kernel/btf").ok().and_then(|rd| {
        let mut names: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n != "vmlinux"))
            .collect();
        names.sort();
        names.into_iter().next()
    });
    // No module loaded is a missing oracle: a skip locally, a failure in CI.
    if let Some(m) = module {
        check_whole(&m.to_string_lossy());
    } else {
        oracle(false, "a module with BTF under /sys/kernel/btf");
    }
}

#[test]
fn suite_objects_raw_and_json() {
    if !oracle_program("bpftool") {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    for o in &suite_objects(&shared) {
        check(o, None, true).unwrap();
    }
}

/// A big-endian copy of real BTF (bpftool byte-swaps it on reading).
#[test]
fn big_endian_raw_and_json() {
    if !oracle_program("bpftool") {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let obj = shared.join("suites/btf_dump/btf_dump_test_case_syntax.bpf.o");
    let mut btf = btf::load(&obj).unwrap();
    btf.set_endian(btf::Endian::Big);
    let f = std::env::temp_dir().join(format!("btfkit-be-{}.btf", std::process::id()));
    std::fs::write(&f, btf.to_bytes()).unwrap();
    let r = check(&f, None, true);
    let _ = std::fs::remove_file(&f);
    r.unwrap();
}

/// Every kind and the corners of the formats, built by hand: signed and
/// unsigned ENUM/ENUM64 extremes, FWD union, all linkages (and an unknown
/// one), INT encodings, DECL_TAG on a member, TYPE_TAG, FLOAT, a DATASEC
/// variable of type 0, bitfields, and names needing JSON escapes.
#[test]
fn all_kinds_by_hand() {
    use btf::types::*;
    use btf::{Type, TypeData, TypeId};
    if !oracle_program("bpftool") {
        return;
    }
    let mut b = btf::Builder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    b.add_int("char", 1, INT_CHAR);
    b.add_int("_Bool", 1, INT_BOOL);
    b.add_int("unsigned int", 4, 0);
    b.add_int("odd", 4, INT_SIGNED | INT_CHAR);
    let mut bits = Type::named(
        b.add_str("with\\back\"slash\ttab"),
        TypeData::Struct(Composite {
            size: 8,
            members: vec![
                Member {
                    name_off: b.add_str("a"),
                    ty: int,
                    offset: 3 << 24,
                },
                Member {
                    name_off: b.add_str(""),
                    ty: int,
                    offset: (5 << 24) | 3,
                },
                Member {
                    name_off: b.add_str("c"),
                    ty: int,
                    offset: 32,
                },
            ],
        }),
    );
    bits.kind_flag = true;
    let s = b.add_type(bits);
    b.add_union("u", 4, &[("x", int, 0), ("y", int, 0)]);
    b.add_enum(
        "se",
        4,
        true,
        &[
            ("MIN", i64::from(i32::MIN)),
            ("M1", -1),
            ("MAX", i64::from(i32::MAX)),
        ],
    );
    b.add_enum(
        "ue",
        4,
        false,
        &[("BIG", 0x8000_0000), ("ALL", 0xffff_ffff), ("Z", 0)],
    );
    for signed in [false, true] {
        let mut e = Type::named(
            b.add_str(if signed { "se64" } else { "ue64" }),
            TypeData::Enum64(Enum64 {
                size: 8,
                values: vec![
                    Enum64Value {
                        name_off: b.add_str("A"),
                        val: u64::MAX,
                    },
                    Enum64Value {
                        name_off: b.add_str("B"),
                        val: 1 << 63,
                    },
                    Enum64Value {
                        name_off: b.add_str("C"),
                        val: 42,
                    },
                ],
            }),
        );
        e.kind_flag = signed;
        b.add_type(e);
    }
    b.add_fwd("fs", false);
    b.add_fwd("fu", true);
    let c = b.add_const(int);
    let v = b.add_volatile(c);
    b.add_type(Type::new(TypeData::Restrict(v)));
    let tt = b.add_type_tag("user", int);
    let p = b.add_ptr(tt);
    let idx = b.add_int("__ARRAY_SIZE_TYPE__", 4, 0);
    b.add_array(p, idx, 7);
    b.add_typedef("td", s);
    let proto = b.add_func_proto(int, &[("x", int), ("", p), ("", TypeId(0))]);
    let mut funcs = Vec::new();
    for (i, l) in [0u32, 1, 2, 9].into_iter().enumerate() {
        funcs.push(b.add_func(&format!("f{i}"), proto, l));
    }
    let mut vars = Vec::new();
    for (i, l) in [0u32, 1, 2, 7].into_iter().enumerate() {
        vars.push(b.add_var(&format!("v{i}"), int, l));
    }
    b.add_float("double", 8);
    b.add_decl_tag("whole", s, -1);
    b.add_decl_tag("member", s, 2);
    b.add_decl_tag("param", funcs[0], 0);
    let sec = Datasec {
        size: 16,
        vars: vars
            .iter()
            .enumerate()
            .map(|(i, &ty)| VarSecInfo {
                ty,
                offset: 4 * i as u32,
                size: 4,
            })
            .chain([
                VarSecInfo {
                    ty: TypeId(0),
                    offset: 0,
                    size: 0,
                },
                VarSecInfo {
                    ty: funcs[1],
                    offset: 0,
                    size: 0,
                },
            ])
            .collect(),
    };
    let n = b.add_str(".data");
    b.add_type(Type::named(n, TypeData::Datasec(sec)));
    let btf = b.finish().unwrap();
    let f = std::env::temp_dir().join(format!("btfkit-kinds-{}.btf", std::process::id()));
    std::fs::write(&f, btf.to_bytes()).unwrap();
    let r = check(&f, None, true);
    let _ = std::fs::remove_file(&f);
    r.unwrap();
}

/// All 1121 modules of the 6.1 kernel on its vmlinux, raw and JSON, on a few
/// threads. bpftool gets the vmlinux `.BTF` extracted once to a raw file as -B.
#[test]
fn modules_61_raw_and_json() {
    if !oracle_program("bpftool") {
        return;
    }
    let Some(vmlinux) = oracle_file(VMLINUX_61) else {
        return;
    };
    let modules = modules_61();
    assert_eq!(
        modules.len(),
        1121,
        "modules under {}",
        btfkit_tests::MODULES_61
    );
    let data = std::fs::read(&vmlinux).unwrap();
    let raw = btf::read::raw_btf_bytes(&data).unwrap();
    let base_file =
        std::env::temp_dir().join(format!("btfkit-vmlinux61-{}.btf", std::process::id()));
    std::fs::write(&base_file, &raw).unwrap();
    let base = Arc::new(Btf::parse(&raw).unwrap());
    drop(data);

    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(m) = modules.get(i) else { break };
                if let Err(e) = check(m, Some((&base_file, &base)), true) {
                    failures.lock().unwrap().push(e);
                }
            });
        }
    });
    let _ = std::fs::remove_file(&base_file);
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} modules differ; first: {}",
        failures.len(),
        modules.len(),
        failures[0]
    );
}
