//! The `Builder` makes every kind with every flag, and what it makes is right
//! by three oracles: the parser (same bytes back), the running kernel's
//! `bpf(BPF_BTF_LOAD)` (and our verifier agrees with its verdict), and
//! bpftool's raw and JSON dumps (ours must be identical).
//!
//! Two blobs: `kernel` holds what the running kernel (6.18) accepts — every
//! kind and flag, DECL_TAG/TYPE_TAG `kind_flag` attributes included; `full`
//! adds what no kernel loads (an `extern` FUNC, a VAR with `extern` linkage),
//! checked through the parser and bpftool, and refused by the kernel and by
//! our verifier alike.

mod verify_common;

use std::path::Path;
use std::process::Command;

use btf::types::{linkage, INT_BOOL, INT_CHAR, INT_SIGNED};
use btf::{Btf, Builder, Kind, TypeId};
use btfkit_tests::{oracle_program, run};
use verify_common::{kernel_available, kernel_load};

/// Every kind and flag; with `extern_linkage`, also the linkages the kernel refuses.
fn build(extern_linkage: bool) -> Btf {
    let mut b = Builder::new();
    // INT: signed, unsigned, char, bool, and a 128-bit one.
    let int = b.add_int("int", 4, INT_SIGNED);
    let uint = b.add_int("unsigned int", 4, 0);
    let ch = b.add_int("char", 1, INT_CHAR);
    let bool_ = b.add_int("_Bool", 1, INT_BOOL);
    b.add_int("__int128", 16, INT_SIGNED);
    let long = b.add_int("long", 8, INT_SIGNED);
    // PTR, ARRAY.
    let pch = b.add_ptr(ch);
    let arr = b.add_array(int, uint, 4);
    // STRUCT and UNION, plain and bitfield (kind_flag).
    let plain = b.add_struct(
        "plain",
        24,
        &[("a", int, 0), ("p", pch, 64), ("b", bool_, 128)],
    );
    b.add_union("u", 16, &[("a", int, 0), ("arr", arr, 0)]);
    let bits = b.add_bitfield_struct(
        "bits",
        8,
        &[
            ("lo", uint, 0, 3),
            ("mid", uint, 3, 13),
            ("", uint, 16, 0),
            ("hi", int, 32, 0),
        ],
    );
    b.add_bitfield_union("ubits", 4, &[("x", uint, 0, 7), ("y", int, 0, 0)]);
    // ENUM: signed and unsigned, sizes 1, 2, 4, 8, at the ends of their ranges.
    for (size, lo, hi) in [
        (1u32, -128i64, 127i64),
        (2, -32768, 32767),
        (4, i64::from(i32::MIN), i64::from(i32::MAX)),
        (8, i64::from(i32::MIN), i64::from(i32::MAX)),
    ] {
        b.add_enum(&format!("s{size}"), size, true, &[("LO", lo), ("HI", hi)]);
        let umax = if size < 4 {
            (1i64 << (8 * size)) - 1
        } else {
            i64::from(u32::MAX)
        };
        b.add_enum(&format!("u{size}"), size, false, &[("Z", 0), ("MAX", umax)]);
    }
    // ENUM64, signed and unsigned, and a 4-byte one.
    b.add_enum64(
        "s64",
        8,
        true,
        &[
            ("LO", i128::from(i64::MIN)),
            ("M1", -1),
            ("HI", i128::from(i64::MAX)),
        ],
    );
    b.add_enum64("u64", 8, false, &[("Z", 0), ("MAX", i128::from(u64::MAX))]);
    b.add_enum64("u64_4", 4, false, &[("MAX", i128::from(u32::MAX))]);
    // FWD struct and union.
    let fs = b.add_fwd("fwd_s", false);
    b.add_fwd("fwd_u", true);
    b.add_ptr(fs);
    // TYPEDEF and the modifiers.
    b.add_typedef("plain_t", plain);
    let v = b.add_volatile(int);
    let c = b.add_const(v);
    let pc = b.add_ptr(c);
    b.add_restrict(pc);
    // TYPE_TAG with and without kind_flag, in front of the modifiers.
    let tt = b.add_type_tag("user", c);
    let ta = b.add_type_attr("address_space(1)", tt);
    b.add_ptr(ta);
    // FUNC_PROTO with varargs; FUNC static and global (and extern).
    let proto = b.add_func_proto_variadic(int, &[("fmt", pch), ("n", long)]);
    let f_static = b.add_func("f_static", proto, linkage::STATIC);
    b.add_func("f_global", proto, linkage::GLOBAL);
    if extern_linkage {
        b.add_func("f_extern", proto, linkage::EXTERN);
    }
    // VAR static and global, in a DATASEC; FLOAT.
    let vs = b.add_var("v_static", int, linkage::STATIC);
    let vg = b.add_var("v_global", long, linkage::GLOBAL);
    let mut vars = vec![(vs, 0, 4), (vg, 8, 8)];
    if extern_linkage {
        vars.push((b.add_var("v_extern", int, linkage::EXTERN), 16, 4));
    }
    b.add_datasec(".data", 24, &vars);
    b.add_float("double", 8);
    b.add_float("long double", 16);
    // DECL_TAG on a type, a member and a parameter, with and without kind_flag.
    b.add_decl_tag("on_type", plain, -1);
    b.add_decl_tag("on_member", plain, 1);
    b.add_decl_tag("on_param", f_static, 1);
    b.add_decl_tag("on_var", vs, -1);
    b.add_decl_attr("aligned(8)", bits, -1);
    b.add_decl_attr("packed", bits, 3);
    b.add_decl_attr("nonnull", f_static, 0);
    b.finish().expect("every kind builds")
}

fn kinds_and_flags(btf: &Btf) -> Vec<(Kind, bool)> {
    let mut v: Vec<(Kind, bool)> = btf.types().map(|(_, t)| (t.kind(), t.kind_flag)).collect();
    v.sort_by_key(|&(k, f)| (k.as_u8(), f));
    v.dedup();
    v
}

#[test]
fn every_kind_and_flag_is_built() {
    let btf = build(true);
    let have = kinds_and_flags(&btf);
    for k in 1..=Kind::MAX {
        let k = Kind::from_u8(k).unwrap();
        assert!(have.iter().any(|&(x, _)| x == k), "{k:?} missing");
    }
    for k in [
        Kind::Struct,
        Kind::Union,
        Kind::Enum,
        Kind::Enum64,
        Kind::Fwd,
        Kind::DeclTag,
        Kind::TypeTag,
    ] {
        assert!(have.contains(&(k, true)), "{k:?} with kind_flag missing");
        assert!(
            have.contains(&(k, false)),
            "{k:?} without kind_flag missing"
        );
    }
    let linkages: Vec<u32> = btf
        .types()
        .filter(|(_, t)| t.kind() == Kind::Func)
        .map(|(_, t)| t.vlen())
        .collect();
    assert_eq!(
        linkages,
        [linkage::STATIC, linkage::GLOBAL, linkage::EXTERN]
    );
}

#[test]
fn every_kind_roundtrips_through_the_parser() {
    for btf in [build(false), build(true)] {
        let bytes = btf.to_bytes();
        let back = Btf::parse(&bytes).expect("parses");
        assert_eq!(back.own_type_slice(), btf.own_type_slice());
        assert_eq!(back.to_bytes(), bytes, "bytes differ after a parse");
        for (id, t) in btf.types() {
            assert_eq!(back.name_of(id), btf.name_of(id), "{id}: {t:?}");
        }
    }
}

#[test]
fn kernel_loads_every_kind() {
    if !kernel_available() {
        return;
    }
    let blob = build(false).to_bytes();
    let k = kernel_load(&blob, 1 << 20);
    assert!(k.loaded, "kernel refused (errno {}): {}", k.errno, k.log);
    let ours = btf::verify::verify_raw(&blob, None);
    assert!(ours.is_ok(), "our verifier refuses: {:?}", ours.err());
    // extern FUNC/VAR: the kernel refuses, and so do we.
    let blob = build(true).to_bytes();
    let k = kernel_load(&blob, 1 << 20);
    assert!(!k.loaded, "kernel loaded an extern FUNC");
    let ours = btf::verify::verify_raw(&blob, None);
    assert!(ours.is_err(), "our verifier accepts an extern FUNC");
    eprintln!(
        "kernel: {:?}; ours: {}",
        k.log.lines().last(),
        ours.err().map(|r| r.message).unwrap_or_default()
    );
}

fn bpftool(file: &Path, json: bool) -> Vec<u8> {
    let mut c = Command::new("bpftool");
    if json {
        c.arg("-j");
    }
    c.args(["btf", "dump", "file"]).arg(file);
    run(&mut c)
}

#[test]
fn raw_and_json_dumps_match_bpftool() {
    if !oracle_program("bpftool") {
        return;
    }
    for (label, btf) in [("kernel", build(false)), ("full", build(true))] {
        let path =
            std::env::temp_dir().join(format!("btfkit-builder-{label}-{}.btf", std::process::id()));
        std::fs::write(&path, btf.to_bytes()).expect("write");
        let (theirs_raw, theirs_json) = (bpftool(&path, false), bpftool(&path, true));
        let _ = std::fs::remove_file(&path);
        let mut raw = Vec::new();
        btf_dump::raw::dump(&btf, &mut raw).expect("raw dump");
        let lines = String::from_utf8_lossy(&theirs_raw).lines().count();
        assert!(
            lines > btf.type_count() as usize,
            "{label}: bpftool printed {lines} lines"
        );
        if raw != theirs_raw {
            let (a, b) = (
                String::from_utf8_lossy(&raw),
                String::from_utf8_lossy(&theirs_raw),
            );
            let d = a.lines().zip(b.lines()).find(|(x, y)| x != y);
            panic!("{label}: raw dump differs from bpftool's: {d:?}");
        }
        let mut json = Vec::new();
        btf_dump::json::dump(&btf, &mut json).expect("json dump");
        let a: serde_json::Value = serde_json::from_slice(&json).expect("our JSON");
        let b: serde_json::Value = serde_json::from_slice(&theirs_json).expect("bpftool's JSON");
        assert_eq!(a, b, "{label}: JSON differs from bpftool's");
    }
}

#[test]
fn over_limit_and_out_of_range_values_are_errors() {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, INT_SIGNED);
    let members: Vec<(&str, TypeId, u32)> = (0..70_000).map(|i| ("", int, 32 * i)).collect();
    let s = b.add_struct("huge", 280_000, &members);
    let e = b.finish().unwrap_err();
    assert_eq!(e.type_id(), Some(s.0), "{e}");
    assert!(e.to_string().contains("vlen"), "{e}");

    let mut b = Builder::new();
    let e8 = b.add_enum("e", 1, false, &[("X", 256)]);
    let e = b.finish().unwrap_err();
    assert_eq!(e.type_id(), Some(e8.0), "{e}");

    let mut b = Builder::new();
    let e = b.add_enum("e", 4, true, &[("X", 1 << 40)]);
    let err = b.finish().unwrap_err();
    assert_eq!(err.type_id(), Some(e.0));
    assert!(err.to_string().contains("add_enum64"), "{err}");

    let mut b = Builder::new();
    let proto = b.add_func_proto(TypeId::VOID, &[]);
    let f = b.add_func("f", proto, 70_000);
    let err = b.finish().unwrap_err();
    assert_eq!(err.type_id(), Some(f.0), "{err}");
}
