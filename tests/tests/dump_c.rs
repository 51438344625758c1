//! `btf_dump::c`: the C header must be byte-identical to what
//! `bpftool btf dump file F [-B BASE] format c` (bpftool 7.1) prints, and the
//! emitter must never panic or hang, whatever the BTF.
//!
//! Big inputs (every vmlinux type, modules) are slow in a debug build: those
//! tests are ignored there; run them with `cargo test --release`.

use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use btf::{Btf, Builder, TypeId};
use btf_dump::c::{dump, dump_with, Options};
use btfkit_tests::{
    modules_61, oracle, oracle_file, oracle_program, output_with_timeout, shared_dir, VMLINUX_61,
};

const CASES: [&str; 7] = [
    "bitfields",
    "multidim",
    "namespacing",
    "ordering",
    "packing",
    "padding",
    "syntax",
];

/// Our C dump of a file (split on `base` when given).
fn ours(file: &Path, base: Option<Arc<Btf>>) -> Vec<u8> {
    let btf = btf::load_with_base(file, base).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut out = Vec::new();
    dump(&btf, &mut out).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    out
}

/// `bpftool btf dump file F [-B BASE] format c`.
fn bpftool(file: &Path, base: Option<&Path>) -> Vec<u8> {
    let mut cmd = Command::new("bpftool");
    cmd.args(["btf", "dump", "file"]).arg(file);
    if let Some(b) = base {
        cmd.arg("-B").arg(b);
    }
    cmd.args(["format", "c"]);
    btfkit_tests::run(&mut cmd)
}

/// The first line where two outputs differ, for failure messages.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (mut line, mut pos) = (1, 0);
    while pos < a.len() && pos < b.len() && a[pos] == b[pos] {
        if a[pos] == b'\n' {
            line += 1;
        }
        pos += 1;
    }
    let excerpt = |x: &[u8]| {
        let start = x[..pos.min(x.len())]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1);
        let end = (start + 160).min(x.len());
        String::from_utf8_lossy(&x[start..end]).into_owned()
    };
    format!(
        "line {line} (byte {pos}, lengths {} vs {}):\n  ours:   {:?}\n  theirs: {:?}",
        a.len(),
        b.len(),
        excerpt(a),
        excerpt(b)
    )
}

fn assert_same(what: &str, ours: &[u8], theirs: &[u8]) {
    if ours != theirs {
        panic!("{what}: differs at {}", first_difference(ours, theirs));
    }
}

fn suite_dir() -> Option<PathBuf> {
    Some(shared_dir()?.join("suites/btf_dump"))
}

#[test]
fn suite_objects_match_recorded_bpftool_output() {
    let Some(dir) = suite_dir() else { return };
    for case in CASES {
        let obj = dir.join(format!("btf_dump_test_case_{case}.bpf.o"));
        let recorded = std::fs::read(dir.join(format!("btf_dump_test_case_{case}.bpftool.h")))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_same(case, &ours(&obj, None), &recorded);
    }
}

#[test]
fn suite_objects_without_header_match_selftest_expectation() {
    let Some(dir) = suite_dir() else { return };
    let opts = Options {
        header: false,
        roots: None,
    };
    for case in CASES {
        let obj = dir.join(format!("btf_dump_test_case_{case}.bpf.o"));
        let expected = std::fs::read(dir.join(format!("btf_dump_test_case_{case}.expected.h")))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let btf = btf::load(&obj).unwrap_or_else(|e| panic!("{case}: {e}"));
        let got = btf_dump::c::dump_to_vec(&btf, &opts).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_same(case, &got, &expected);
    }
}

#[test]
fn suite_objects_match_live_bpftool() {
    let Some(dir) = suite_dir() else { return };
    if !oracle_program("bpftool") {
        return;
    }
    for case in CASES {
        for flavour in ["bpf", "host"] {
            let obj = dir.join(format!("btf_dump_test_case_{case}.{flavour}.o"));
            assert_same(
                &format!("{case}.{flavour}.o"),
                &ours(&obj, None),
                &bpftool(&obj, None),
            );
        }
    }
}

#[test]
fn roots_dump_what_they_need_in_order() {
    let Some(dir) = suite_dir() else { return };
    let obj = dir.join("btf_dump_test_case_syntax.bpf.o");
    let btf = btf::load(&obj).expect("syntax.bpf.o");
    let all = btf_dump::c::dump_to_vec(&btf, &Options::default()).expect("dump");
    // Every id as a root, in order, is the whole dump.
    let roots = (1..btf.type_count()).map(TypeId).collect();
    let opts = Options {
        header: true,
        roots: Some(roots),
    };
    assert_same(
        "roots",
        &btf_dump::c::dump_to_vec(&btf, &opts).expect("dump"),
        &all,
    );
    // An id out of range is an error naming it.
    let opts = Options {
        header: false,
        roots: Some(vec![TypeId(btf.type_count())]),
    };
    let e = btf_dump::c::dump_to_vec(&btf, &opts).expect_err("out of range");
    assert_eq!(e.type_id(), Some(btf.type_count()));
}

#[test]
#[cfg_attr(debug_assertions, ignore = "big input: run with --release")]
fn sys_vmlinux_matches_bpftool() {
    let Some(f) = oracle_file(btfkit_tests::SYS_VMLINUX) else {
        return;
    };
    if !oracle_program("bpftool") {
        return;
    }
    assert_same(
        "/sys/kernel/btf/vmlinux",
        &ours(&f, None),
        &bpftool(&f, None),
    );
}

#[test]
#[cfg_attr(debug_assertions, ignore = "big input: run with --release")]
fn debian_61_vmlinux_matches_bpftool() {
    let Some(f) = oracle_file(VMLINUX_61) else {
        return;
    };
    if !oracle_program("bpftool") {
        return;
    }
    assert_same(VMLINUX_61, &ours(&f, None), &bpftool(&f, None));
}

/// Modules with split BTF on the Debian 6.1 vmlinux: a deterministic sample
/// of every 7th module (161 of 1121), or all of them with
/// `BTFKIT_ALL_MODULES=1`. Runs on 3 threads.
#[test]
#[cfg_attr(debug_assertions, ignore = "big input: run with --release")]
fn debian_61_modules_match_bpftool() {
    let Some(vmlinux) = oracle_file(VMLINUX_61) else {
        return;
    };
    if !oracle_program("bpftool") {
        return;
    }
    let mut mods = modules_61();
    if !oracle(!mods.is_empty(), btfkit_tests::MODULES_61) {
        return;
    }
    let all = std::env::var("BTFKIT_ALL_MODULES").is_ok_and(|v| v == "1");
    if !all {
        mods = mods.into_iter().step_by(7).collect();
    }
    let base = Arc::new(btf::load(&vmlinux).expect("vmlinux"));
    // bpftool reads a raw base much faster than the ELF.
    let raw_base = tempfile("vmlinux-6.1.btf");
    {
        let data = std::fs::read(&vmlinux).expect("vmlinux");
        let raw = btf::read::raw_btf_bytes(&data).expect(".BTF");
        std::fs::write(&raw_base, &raw[..]).expect("write raw base");
    }
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(m) = mods.get(i) else { break };
                let got = ours(m, Some(base.clone()));
                let want = bpftool(m, Some(&raw_base));
                if got != want {
                    let msg = format!("{}: {}", m.display(), first_difference(&got, &want));
                    failures.lock().unwrap_or_else(|e| e.into_inner()).push(msg);
                }
            });
        }
    });
    let _ = std::fs::remove_file(&raw_base);
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    eprintln!(
        "{} modules compared ({}), {} differ",
        mods.len(),
        if all { "all" } else { "every 7th" },
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn tempfile(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("btfkit-dump-c-{}-{name}", std::process::id()))
}

// ---- hostile BTF ----

/// A writer that accepts at most `left` bytes, then fails (so that BTF whose
/// dump is legitimately enormous stops early).
struct Limited {
    left: usize,
}

impl Write for Limited {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.left {
            self.left = 0;
            return Err(io::Error::other("output limit"));
        }
        self.left -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Dumps `btf` under `catch_unwind`: `Err` describes a panic.
fn dump_no_panic(btf: &Btf, limit: usize) -> Result<Result<(), btf::Error>, String> {
    let mut out = Limited { left: limit };
    catch_unwind(AssertUnwindSafe(|| {
        dump_with(btf, &mut out, &Options::default())
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Hand-made BTF that libbpf loops on, crashes on, or prints for ages.
fn hostile_cases() -> Vec<(&'static str, Btf)> {
    let mut v = Vec::new();
    let mut add = |name, f: &dyn Fn(&mut Builder)| {
        let mut b = Builder::new();
        f(&mut b);
        v.push((name, b.finish().expect(name)));
    };
    add("typedef cycle", &|b| {
        let next = b.next_id().0;
        b.add_typedef("a", TypeId(next + 1));
        b.add_typedef("b", TypeId(next));
    });
    add(
        "absurd nesting of anonymous structs (beyond the depth bound)",
        &|b| {
            let mut last = b.add_int("int", 4, btf::types::INT_SIGNED);
            for _ in 0..20_000 {
                last = b.add_struct("", 4, &[("x", last, 0)]);
            }
            b.add_struct("top", 4, &[("x", last, 0)]);
        },
    );
    add("typedef to itself", &|b| {
        let next = b.next_id();
        b.add_typedef("self", next);
    });
    add("const/volatile cycle", &|b| {
        let next = b.next_id().0;
        b.add_const(TypeId(next + 1));
        b.add_volatile(TypeId(next));
    });
    add("pointer cycle", &|b| {
        let next = b.next_id().0;
        b.add_ptr(TypeId(next + 1));
        b.add_ptr(TypeId(next));
        b.add_typedef("p", TypeId(next));
    });
    add("array of itself", &|b| {
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        let next = b.next_id();
        b.add_array(next, int, 4);
    });
    add("prototype returning itself", &|b| {
        let next = b.next_id();
        b.add_func_proto(next, &[("x", next)]);
        b.add_ptr(next);
    });
    add("struct containing itself", &|b| {
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        let next = b.next_id();
        b.add_struct("s", 8, &[("a", int, 0), ("me", next, 32)]);
    });
    add("anonymous struct pointing to itself", &|b| {
        let next = b.next_id().0;
        b.add_struct("", 8, &[("p", TypeId(next + 1), 0)]);
        b.add_ptr(TypeId(next));
        b.add_struct("outer", 8, &[("x", TypeId(next), 0)]);
    });
    add("huge struct", &|b| {
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        b.add_int("long", 8, btf::types::INT_SIGNED);
        b.add_struct("big", 0x003f_fff3, &[("a", int, 0)]);
    });
    // "absurd" cases are not compared with bpftool: hundreds of MB of output.
    add("absurd struct", &|b| {
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        b.add_struct("big", 0x0fff_ffff, &[("a", int, 0)]);
    });
    add("size wrapping 32-bit bit offsets", &|b| {
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        b.add_struct(
            "wrap",
            0x2000_0001,
            &[("a", int, 0), ("b", int, 0xffff_ffe0)],
        );
    });
    add("huge array", &|b| {
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        let arr = b.add_array(int, int, u32::MAX);
        let arr2 = b.add_array(arr, int, u32::MAX);
        b.add_struct("s", 16, &[("a", arr2, 0), ("b", int, 64)]);
    });
    add("member of forward type (no alignment)", &|b| {
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        let fwd = b.add_fwd("opaque", false);
        b.add_struct("s", 16, &[("a", int, 0), ("f", fwd, 64)]);
        b.add_struct("t", 16, &[("a", int, 0), ("f", fwd, 32)]);
    });
    add("zero-size int member", &|b| {
        let z = b.add_int("zero", 0, 0);
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        b.add_struct("s", 16, &[("a", int, 0), ("z", z, 64)]);
    });
    add("prototype fan-out", &|b| {
        // p[i] takes two pointers to p[i+1]: libbpf visits 2^n paths.
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        let mut last = int;
        for _ in 0..60 {
            let proto = b.add_func_proto(int, &[("a", last), ("b", last)]);
            last = b.add_ptr(proto);
        }
        b.add_typedef("fan", last);
    });
    add("long typedef chain", &|b| {
        let mut last = b.add_int("int", 4, btf::types::INT_SIGNED);
        for i in 0..5000 {
            last = b.add_typedef(&format!("t{i}"), last);
        }
    });
    add("long pointer chain", &|b| {
        let mut last = b.add_int("int", 4, btf::types::INT_SIGNED);
        for _ in 0..5000 {
            last = b.add_ptr(last);
        }
        b.add_typedef("deep", last);
    });
    add("nested anonymous structs (100 levels)", &|b| {
        let mut last = b.add_int("int", 4, btf::types::INT_SIGNED);
        for _ in 0..100 {
            last = b.add_struct("", 4, &[("x", last, 0)]);
        }
        b.add_struct("top", 4, &[("x", last, 0)]);
    });
    add("deeply nested anonymous structs", &|b| {
        let mut last = b.add_int("int", 4, btf::types::INT_SIGNED);
        for _ in 0..2500 {
            last = b.add_struct("", 4, &[("x", last, 0)]);
        }
        b.add_struct("top", 4, &[("x", last, 0)]);
    });
    add("FUNC, VAR, DATASEC and DECL_TAG as member types", &|b| {
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        let proto = b.add_func_proto(int, &[]);
        let func = b.add_func("f", proto, 1);
        let var = b.add_var("v", int, 1);
        let tag = b.add_decl_tag("tag", int, -1);
        b.add_struct("s", 16, &[("f", func, 0), ("v", var, 32), ("t", tag, 64)]);
        b.add_typedef("tf", func);
        b.add_ptr(var);
    });
    add("long names colliding", &|b| {
        let long = "n".repeat(300);
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        for _ in 0..3 {
            b.add_struct(&long, 4, &[("x", int, 0)]);
            b.add_typedef(&long, int);
            b.add_enum(&long, 4, false, &[(&long[..280], 1)]);
        }
    });
    v
}

#[test]
fn hostile_btf_never_panics_or_hangs() {
    for (name, btf) in hostile_cases() {
        let t0 = std::time::Instant::now();
        match dump_no_panic(&btf, 64 << 20) {
            Err(p) => panic!("{name}: panicked: {p}"),
            Ok(r) => eprintln!("{name}: {:?}", r.map(|_| "ok").map_err(|e| e.to_string())),
        }
        assert!(
            t0.elapsed().as_secs() < 20,
            "{name}: took {:?}",
            t0.elapsed()
        );
    }
}

/// Where bpftool survives the hostile BTF, its output (even the part printed
/// before an error) is ours.
#[test]
#[cfg_attr(debug_assertions, ignore = "slow: run with --release")]
fn hostile_btf_matches_bpftool_where_it_survives() {
    if !oracle_program("bpftool") {
        return;
    }
    for (name, btf) in hostile_cases() {
        if name.starts_with("absurd") {
            continue;
        }
        let path = tempfile("hostile.btf");
        std::fs::write(&path, btf.to_bytes()).expect("write");
        // libbpf recurses forever on some (until the stack overflows) and
        // takes exponential time on the prototype fan-out.
        let out = output_with_timeout(
            Command::new("bpftool")
                .args(["btf", "dump", "file"])
                .arg(&path)
                .args(["format", "c"]),
            Duration::from_secs(10),
        )
        .expect("bpftool runs");
        let _ = std::fs::remove_file(&path);
        let mut ours = Vec::new();
        let res = dump(&btf, &mut ours);
        match out.as_ref().and_then(|o| o.status.code().map(|c| (c, o))) {
            None | Some((128..=159, _)) => {
                eprintln!("{name}: bpftool crashed or hung; ours: {res:?}")
            }
            Some((code, out)) => {
                eprintln!("{name}: bpftool exit {code}; ours: {res:?}");
                assert_eq!(code == 0, res.is_ok(), "{name}: success differs");
                assert_same(name, &ours, &out.stdout);
            }
        }
    }
}

/// A struct/union type with raw members `(name, type, offset word)`; with
/// `kflag` the offset words hold `bitfield_size << 24 | bit_offset`.
fn composite(
    b: &mut Builder,
    union: bool,
    name: &str,
    size: u32,
    kflag: bool,
    members: &[(&str, TypeId, u32)],
) -> TypeId {
    use btf::types::{Composite, Member};
    let members = members
        .iter()
        .map(|&(n, ty, offset)| Member {
            name_off: b.add_str(n),
            ty,
            offset,
        })
        .collect();
    let c = Composite { size, members };
    let mut t = btf::Type::named(
        b.add_str(name),
        if union {
            btf::TypeData::Union(c)
        } else {
            btf::TypeData::Struct(c)
        },
    );
    t.kind_flag = kflag;
    b.add_type(t)
}

/// Valid but unusual BTF, each exercising a rule of libbpf's emitter that
/// the real inputs rarely or never reach. `base` is set for split BTF.
fn unusual_cases() -> Vec<(&'static str, Btf, Option<Arc<Btf>>)> {
    use btf::types::{Enum64, Enum64Value, INT_CHAR, INT_SIGNED};
    let mut v = Vec::new();
    let mut add = |name, f: &dyn Fn(&mut Builder)| {
        let mut b = Builder::new();
        f(&mut b);
        v.push((name, b.finish().expect(name), None));
    };
    add("ARM poly types and va_list quirks", &|b| {
        let p8 = b.add_int("__Poly8_t", 1, 0);
        let p128 = b.add_int("__Poly128_t", 16, 0);
        let void_td = b.add_typedef("__gnuc_va_list", TypeId(0));
        let bva = b.add_int("char", 1, INT_CHAR);
        let pbva = b.add_ptr(bva);
        let builtin = b.add_typedef("__builtin_va_list", pbva);
        let va = b.add_typedef("va_list", builtin);
        b.add_struct(
            "s",
            48,
            &[
                ("a", p8, 0),
                ("b", p128, 128),
                ("c", void_td, 256),
                ("d", va, 320),
            ],
        );
    });
    add("enums: signed, sizes, ENUM64, empty, anonymous", &|b| {
        b.add_enum("neg", 4, true, &[("M1", -1), ("MIN", i64::from(i32::MIN))]);
        b.add_enum("byte", 1, false, &[("B0", 0), ("B255", 255)]);
        b.add_enum("empty", 4, false, &[]);
        b.add_enum("", 4, false, &[("TOP_LEVEL_ANON", 7)]);
        for (name, signed) in [("big_u", false), ("big_s", true)] {
            let vals = [(u64::MAX, "X"), (1 << 40, "Y"), (0, "Z")]
                .iter()
                .map(|&(val, n)| Enum64Value {
                    name_off: b.add_str(&format!("{n}_{name}")),
                    val,
                })
                .collect();
            let mut t = btf::Type::named(
                b.add_str(name),
                btf::TypeData::Enum64(Enum64 {
                    size: 8,
                    values: vals,
                }),
            );
            t.kind_flag = signed;
            b.add_type(t);
        }
        let int = b.add_int("int", 4, INT_SIGNED);
        let anon = b.add_enum("", 4, false, &[("IN_STRUCT", 1)]);
        let ret_only = b.add_enum("", 4, false, &[("RETURNED", 1)]);
        b.add_struct("holder", 8, &[("e", anon, 0), ("f", anon, 32)]);
        let proto = b.add_func_proto(ret_only, &[("x", int)]);
        let pp = b.add_ptr(proto);
        b.add_typedef("ret_fn", pp);
    });
    add("name collisions across kinds", &|b| {
        let int = b.add_int("int", 4, INT_SIGNED);
        b.add_int("foo", 4, 0);
        b.add_struct("foo", 4, &[("x", int, 0)]);
        b.add_union("foo", 4, &[("x", int, 0)]);
        b.add_typedef("foo", int);
        b.add_enum("foo", 4, false, &[("foo", 1), ("int", 2)]);
        b.add_enum("bar", 4, false, &[("foo", 3)]);
        b.add_fwd("foo", false);
        b.add_enum("foo", 4, false, &[]);
        b.add_struct("", 4, &[("foo", int, 0)]);
        let td = b.add_typedef("foo", int);
        b.add_struct("user", 4, &[("x", td, 0)]);
    });
    add("bitfields, packing, padding, empty", &|b| {
        let ch = b.add_int("char", 1, INT_SIGNED);
        let int = b.add_int("int", 4, INT_SIGNED);
        let long = b.add_int("long", 8, INT_SIGNED);
        let ull = b.add_int("unsigned long long", 8, 0);
        composite(
            b,
            false,
            "bits",
            24,
            true,
            &[
                ("a", int, 3 << 24),
                ("b", int, (5 << 24) | 3),
                ("", int, (2 << 24) | 8),
                ("c", ull, (40 << 24) | 64),
                ("d", ch, 136),
                ("e", long, (1 << 24) | 160),
            ],
        );
        b.add_struct(
            "packed",
            13,
            &[("c", ch, 0), ("l", long, 8), ("i", int, 72)],
        );
        b.add_struct("gap", 64, &[("c", ch, 0), ("l", long, 256)]);
        b.add_struct("tail", 40, &[("c", ch, 0)]);
        b.add_union("u", 32, &[("c", ch, 0), ("i", int, 0)]);
        b.add_struct("empty", 0, &[]);
        b.add_struct("sized_empty", 8, &[]);
        b.add_union("uempty", 0, &[]);
    });
    add(
        "declarators: arrays, function pointers, qualifiers, tags",
        &|b| {
            let int = b.add_int("int", 4, INT_SIGNED);
            let ch = b.add_int("char", 1, INT_CHAR);
            let dbl = b.add_float("double", 8);
            let cch = b.add_const(ch);
            let tag = b.add_type_tag("user", cch);
            let pt = b.add_ptr(tag);
            let vpt = b.add_volatile(pt);
            let a3 = b.add_array(vpt, int, 3);
            let a23 = b.add_array(a3, int, 2);
            let pa = b.add_ptr(a23);
            let proto = b.add_func_proto(dbl, &[("", int), ("", TypeId(0))]);
            let fp = b.add_ptr(proto);
            let cfp = b.add_const(fp);
            let afp = b.add_array(cfp, int, 4);
            let none = b.add_func_proto(TypeId(0), &[]);
            let pnone = b.add_ptr(none);
            let ret_fp = b.add_func_proto(pnone, &[("cb", fp)]);
            let pret = b.add_ptr(ret_fp);
            let mid_void = b.add_func_proto(int, &[("a", TypeId(0)), ("b", int)]);
            let pmid = b.add_ptr(mid_void);
            let restrict = b.add_type(btf::Type::new(btf::TypeData::Restrict(pt)));
            b.add_struct(
                "decls",
                160,
                &[
                    ("a", a23, 0),
                    ("p", pa, 384),
                    ("f", afp, 448),
                    ("g", pret, 704),
                    ("h", pmid, 768),
                    ("r", restrict, 832),
                    ("d", dbl, 896),
                ],
            );
            b.add_func("fn", proto, 1);
            b.add_var("var", int, 1);
            b.add_decl_tag("tagged", int, -1);
        },
    );
    add("anonymous nesting past 13 tabs", &|b| {
        let mut last = b.add_int("int", 4, INT_SIGNED);
        for i in 0..16 {
            let name = if i % 2 == 0 { "x" } else { "" };
            last = b.add_struct("", 4, &[(name, last, 0)]);
        }
        b.add_struct("deep", 4, &[("d", last, 0)]);
    });
    add("forward declarations and weak typedefs", &|b| {
        let int = b.add_int("int", 4, INT_SIGNED);
        let next = b.next_id().0;
        // struct a { struct b *b; }; struct b { struct a a; pa_t p; };
        let pb = b.add_ptr(TypeId(next + 1));
        let a = b.add_struct("a", 8, &[("b", pb, 0)]);
        let pa = b.add_ptr(a);
        let pa_t = b.add_typedef("pa_t", pa);
        b.add_struct("b", 16, &[("a", a, 0), ("p", pa_t, 64)]);
        let fwd = b.add_fwd("opaque", true);
        let pf = b.add_ptr(fwd);
        b.add_typedef("opaque_p", pf);
        b.add_fwd("", false);
        let anon = b.add_struct("", 4, &[("x", int, 0)]);
        let panon = b.add_ptr(anon);
        b.add_typedef("anon_p", panon);
        let s_td = b.add_typedef("self_t", TypeId(b.next_id().0 + 2));
        let ps = b.add_ptr(s_td);
        b.add_struct("self", 8, &[("next", ps, 0)]);
    });
    add("32-bit long (pointer size 4)", &|b| {
        let long = b.add_int("long int", 4, INT_SIGNED);
        let ch = b.add_int("char", 1, INT_SIGNED);
        let p = b.add_ptr(ch);
        b.add_struct(
            "s",
            32,
            &[("c", ch, 0), ("l", long, 32), ("p", p, 64), ("z", ch, 200)],
        );
    });
    add("names that are not UTF-8", &|b| {
        let n = b.add_str_bytes(b"caf\xe9");
        let int = b.add_int("int", 4, INT_SIGNED);
        let mut t = btf::Type::named(n, btf::TypeData::Typedef(int));
        t.kind_flag = false;
        b.add_type(t);
    });
    // Split BTF on a base: names count across both.
    let mut base = Builder::new();
    let int = base.add_int("int", 4, INT_SIGNED);
    base.add_struct("dup", 4, &[("x", int, 0)]);
    base.add_typedef("t", int);
    let base = Arc::new(base.finish().expect("base"));
    let mut b = Builder::new_split(base.clone());
    let s = b.add_struct("dup", 8, &[("x", int, 0), ("y", int, 32)]);
    b.add_typedef("t", s);
    b.add_enum("", 4, false, &[("t", 1)]);
    v.push((
        "split BTF with colliding names",
        b.finish().expect("split"),
        Some(base),
    ));
    v
}

#[test]
fn unusual_btf_never_panics() {
    for (name, btf, _) in unusual_cases() {
        match dump_no_panic(&btf, 64 << 20) {
            Err(p) => panic!("{name}: panicked: {p}"),
            Ok(r) => r.unwrap_or_else(|e| panic!("{name}: {e}")),
        }
    }
}

/// Unusual but valid BTF: bpftool prints it, and so do we, identically.
#[test]
fn unusual_btf_matches_bpftool() {
    if !oracle_program("bpftool") {
        return;
    }
    for (name, btf, base) in unusual_cases() {
        let path = tempfile("unusual.btf");
        let base_path = tempfile("unusual-base.btf");
        std::fs::write(&path, btf.to_bytes()).expect("write");
        if let Some(b) = &base {
            std::fs::write(&base_path, b.to_bytes()).expect("write");
        }
        let want = bpftool(&path, base.as_ref().map(|_| base_path.as_path()));
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&base_path);
        let mut got = Vec::new();
        dump(&btf, &mut got).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_same(name, &got, &want);
    }
}

use btfkit_tests::Rng;

/// The raw blobs mutated by the corruption test: every suite object's
/// `.BTF`, and a blob with every kind.
fn seed_blobs() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    if let Some(dir) = suite_dir() {
        for case in CASES {
            for flavour in ["bpf", "host"] {
                let p = dir.join(format!("btf_dump_test_case_{case}.{flavour}.o"));
                let data = std::fs::read(&p).expect("suite object");
                let raw = btf::read::raw_btf_bytes(&data).expect(".BTF").into_owned();
                seeds.push((format!("{case}.{flavour}.o"), raw));
            }
        }
    }
    let mut b = Builder::new();
    let int = b.add_int("int", 4, btf::types::INT_SIGNED);
    let long = b.add_int("long", 8, btf::types::INT_SIGNED);
    let ch = b.add_int("char", 1, btf::types::INT_CHAR);
    let tag = b.add_type_tag("user", ch);
    let p = b.add_ptr(tag);
    let c = b.add_const(p);
    let arr = b.add_array(c, int, 3);
    let e = b.add_enum("e", 4, true, &[("X", -1), ("Y", 2)]);
    let fl = b.add_float("double", 8);
    let fwd = b.add_fwd("u", true);
    let pf = b.add_ptr(fwd);
    let s = b.add_struct(
        "s",
        48,
        &[("a", arr, 0), ("e", e, 192), ("d", fl, 256), ("u", pf, 320)],
    );
    let ps = b.add_ptr(s);
    let proto = b.add_func_proto(long, &[("s", ps), ("", TypeId(0))]);
    let f = b.add_func("fn", proto, 1);
    b.add_decl_tag("kfunc", f, -1);
    b.add_decl_tag("arg", f, 0);
    let td = b.add_typedef("s_t", s);
    b.add_var("v", td, 1);
    let u = b.add_union("", 8, &[("a", int, 0), ("b", long, 0)]);
    b.add_typedef("u_t", u);
    let btf = b.finish().expect("all kinds");
    seeds.push(("all kinds".into(), btf.to_bytes()));
    seeds
}

/// One corrupted copy of `blob`: truncated, bytes flipped, or words of the
/// type section replaced (often by small values, which make valid-looking
/// ids and so loops).
fn mutate(blob: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = blob.to_vec();
    let hdr = 24usize;
    let type_len = v
        .get(12..16)
        .map_or(0, |w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize);
    let types = hdr..(hdr + type_len).min(v.len());
    let rounds = 1 + rng.below(3);
    for _ in 0..rounds {
        match rng.below(10) {
            0 => {
                let n = rng.below(v.len() + 1);
                v.truncate(n);
            }
            1..=3 => {
                if !v.is_empty() {
                    let i = rng.below(v.len());
                    v[i] ^= 1 << rng.below(8);
                }
            }
            _ => {
                if types.len() >= 4 {
                    let i = types.start + rng.below(types.len() / 4) * 4;
                    let word = match rng.below(6) {
                        0 => rng.below(64) as u32,
                        1 => rng.next() as u32,
                        2 => [0, u32::MAX, i32::MAX as u32, 0x8000_0000, 0x0100_0000][rng.below(5)],
                        3 => {
                            // Keep the low bits, change the kind/flag byte.
                            let old = v
                                .get(i..i + 4)
                                .map_or(0, |w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
                            (old & 0x00ff_ffff) | ((rng.below(256) as u32) << 24)
                        }
                        4 => 1 << rng.below(32),
                        _ => rng.below(16) as u32,
                    };
                    if let Some(w) = v.get_mut(i..i + 4) {
                        w.copy_from_slice(&word.to_le_bytes());
                    }
                }
            }
        }
    }
    v
}

#[test]
fn corrupted_btf_never_panics() {
    let seeds = seed_blobs();
    let per_seed = if cfg!(debug_assertions) { 350 } else { 3000 };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut parsed, mut dumped, mut refused, mut total) = (0, 0, 0, 0);
    let mut panics = Vec::new();
    for (name, blob) in &seeds {
        for i in 0..per_seed {
            let data = mutate(blob, &mut rng);
            total += 1;
            let Ok(Ok(btf)) = catch_unwind(|| Btf::parse(&data)) else {
                continue;
            };
            parsed += 1;
            match dump_no_panic(&btf, 4 << 20) {
                Ok(Ok(())) => dumped += 1,
                Ok(Err(_)) => refused += 1,
                Err(p) => panics.push(format!("{name} variant {i}: {p}")),
            }
        }
    }
    eprintln!(
        "{total} variants of {} blobs: {parsed} parsed, {dumped} dumped, {refused} refused, {} panics",
        seeds.len(),
        panics.len()
    );
    assert!(total >= 5000, "too few variants");
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}

/// How many corrupted variants the comparison with bpftool must reach (it
/// compares all 180 with bpftool 7.1).
const MIN_CORRUPTED_COMPARED: usize = 150;

/// Corrupted BTF that both we and bpftool parse and dump: same output.
/// (Where bpftool crashes or fails, only the absence of a panic is checked,
/// by `corrupted_btf_never_panics`.)
#[test]
#[cfg_attr(debug_assertions, ignore = "slow: run with --release")]
fn corrupted_btf_matches_bpftool_where_both_succeed() {
    if !oracle_program("bpftool") {
        return;
    }
    let seeds = seed_blobs();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let path = tempfile("corrupt.btf");
    let (mut compared, mut tried_all, mut hung, mut failed, mut differ) = (0, 0, 0, 0, Vec::new());
    for (name, blob) in &seeds {
        let mut tried = 0;
        for i in 0..2000 {
            if tried >= 12 {
                break;
            }
            let data = mutate(blob, &mut rng);
            let Ok(btf) = Btf::parse(&data) else { continue };
            let mut ours = Vec::new();
            // Skip what we refuse, and giant paddings (slow to compare).
            if dump_with(&btf, &mut ours, &Options::default()).is_err() || ours.len() > 1 << 20 {
                continue;
            }
            tried += 1;
            tried_all += 1;
            std::fs::write(&path, &data).expect("write");
            // libbpf takes exponential time on some (unmemoized alignments):
            // a time limit, kept here rather than by a `timeout` program. Not
            // being able to run bpftool at all is a failure, not a skip.
            let out = output_with_timeout(
                Command::new("bpftool")
                    .args(["btf", "dump", "file"])
                    .arg(&path)
                    .args(["format", "c"]),
                Duration::from_secs(5),
            )
            .unwrap_or_else(|e| panic!("cannot run bpftool: {e}"));
            let Some(out) = out else {
                hung += 1;
                continue;
            };
            if out.status.code() != Some(0) {
                failed += 1;
                continue;
            }
            compared += 1;
            if ours != out.stdout {
                differ.push(format!(
                    "{name} variant {i}: {}",
                    first_difference(&ours, &out.stdout)
                ));
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    eprintln!(
        "{tried_all} corrupted variants we dump: bpftool hung on {hung}, failed on {failed}; \
         {compared} compared, {} differ",
        differ.len()
    );
    // The comparison must have happened: the seeds are the 14 suite objects
    // and the all-kinds blob (up to 12 variants each).
    assert!(
        compared >= MIN_CORRUPTED_COMPARED,
        "only {compared} of {tried_all} corrupted variants compared with bpftool \
         (hung {hung}, failed {failed}); expected at least {MIN_CORRUPTED_COMPARED}"
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
