//! `consistent_func`'s register rule on DWARF written with `gimli::write`
//! (no compiler here can be made to emit each case): a function whose first
//! parameter's location is a register other than the ABI's (x86-64: `rdi`,
//! DWARF register 5) is left out, unless a parameter is a struct; the
//! expected register, as `DW_OP_regN` or as `DW_OP_entry_value(DW_OP_regN)`,
//! keeps it; a location without a register (optimized out) keeps it.
//! Without `consistent_func` every function is kept.

use std::path::{Path, PathBuf};
use std::process::Command;

use btfkit_tests::oracle_program;
use gimli::write::{AttributeValue, DwarfUnit, Expression, UnitEntryId};
use gimli::{Encoding, Format};

fn tmpdir(tag: &str) -> PathBuf {
    btfkit_tests::scratch_dir("encode-regs", tag)
}

/// How the first parameter's location is written.
enum Loc {
    Reg(u16),
    EntryValue(u16),
    Stack,
}

/// Functions `(name, first parameter's location, its type is a struct)`.
fn dwarf(funcs: &[(&str, Loc, bool)]) -> Vec<(&'static str, Vec<u8>)> {
    let enc = Encoding {
        format: Format::Dwarf32,
        version: 5,
        address_size: 8,
    };
    let mut u = DwarfUnit::new(enc);
    let root = u.unit.root();
    u.unit.get_mut(root).set(
        gimli::DW_AT_language,
        AttributeValue::Language(gimli::DW_LANG_C11),
    );
    u.unit.get_mut(root).set(
        gimli::DW_AT_name,
        AttributeValue::String(b"regs.c".to_vec()),
    );
    let set_name = |u: &mut DwarfUnit, id: UnitEntryId, n: &str| {
        u.unit.get_mut(id).set(
            gimli::DW_AT_name,
            AttributeValue::String(n.as_bytes().to_vec()),
        )
    };
    let int = u.unit.add(root, gimli::DW_TAG_base_type);
    set_name(&mut u, int, "int");
    u.unit
        .get_mut(int)
        .set(gimli::DW_AT_byte_size, AttributeValue::Data1(4));
    u.unit.get_mut(int).set(
        gimli::DW_AT_encoding,
        AttributeValue::Encoding(gimli::DW_ATE_signed),
    );
    let s = u.unit.add(root, gimli::DW_TAG_structure_type);
    set_name(&mut u, s, "pair");
    u.unit
        .get_mut(s)
        .set(gimli::DW_AT_byte_size, AttributeValue::Data1(8));
    for (name, loc, is_struct) in funcs {
        let f = u.unit.add(root, gimli::DW_TAG_subprogram);
        set_name(&mut u, f, name);
        u.unit
            .get_mut(f)
            .set(gimli::DW_AT_external, AttributeValue::Flag(true));
        u.unit
            .get_mut(f)
            .set(gimli::DW_AT_type, AttributeValue::UnitRef(int));
        let p = u.unit.add(f, gimli::DW_TAG_formal_parameter);
        set_name(&mut u, p, "a");
        let ty = if *is_struct { s } else { int };
        u.unit
            .get_mut(p)
            .set(gimli::DW_AT_type, AttributeValue::UnitRef(ty));
        let mut e = Expression::new();
        match loc {
            Loc::Reg(r) => e.op_reg(gimli::Register(*r)),
            Loc::EntryValue(r) => {
                let mut inner = Expression::new();
                inner.op_reg(gimli::Register(*r));
                e.op_entry_value(inner);
                e.op(gimli::DW_OP_stack_value);
            }
            Loc::Stack => e.op_fbreg(-8),
        }
        u.unit
            .get_mut(p)
            .set(gimli::DW_AT_location, AttributeValue::Exprloc(e));
    }
    btfkit_tests::dwarf_sections(&mut u)
}

/// An x86-64 ELF object with a function symbol per name and the sections.
fn object(dir: &Path, names: &[&str], sections: &[(&str, Vec<u8>)]) -> PathBuf {
    let src: String = names
        .iter()
        .map(|n| format!("int {n}(int a) {{ return a; }}\n"))
        .collect();
    btfkit_tests::object_with_sections(dir, "funcs", &src, &["-O2"], sections)
}

fn func_names(data: &[u8], opts: &btf_encode::Options) -> Vec<String> {
    let b = btf_encode::encode(data, opts).unwrap().expect("types");
    let mut v: Vec<String> = b
        .types()
        .filter(|(_, t)| t.kind() == btf::Kind::Func)
        .map(|(id, _)| b.name_of(id).to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn unexpected_register_parameters() {
    if !oracle_program("gcc") || !oracle_program("objcopy") {
        return;
    }
    let funcs = [
        ("in_rdi", Loc::Reg(5), false),
        ("in_rsi", Loc::Reg(4), false),
        ("entry_rdi", Loc::EntryValue(5), false),
        ("entry_rsi", Loc::EntryValue(4), false),
        ("on_stack", Loc::Stack, false),
        ("struct_rsi", Loc::Reg(4), true),
    ];
    let names: Vec<&str> = funcs.iter().map(|f| f.0).collect();
    let d = tmpdir("regs");
    let o = object(&d, &names, &dwarf(&funcs));
    let data = std::fs::read(&o).unwrap();
    let mut all: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    all.sort();
    let new_rules = btf_encode::Options {
        new_functions: true,
        ..Default::default()
    };
    assert_eq!(
        func_names(&data, &new_rules),
        all,
        "optimized_func keeps all"
    );
    let consistent = btf_encode::Options {
        new_functions: true,
        skip_inconsistent_proto: true,
        ..Default::default()
    };
    let mut kept = all.clone();
    kept.retain(|n| n != "in_rsi" && n != "entry_rsi");
    assert_eq!(func_names(&data, &consistent), kept);
    assert_eq!(
        func_names(&data, &btf_encode::Options::default()),
        all,
        "pahole 1.24's rules look at no location"
    );
    // The same sets as pahole 1.31 (the oracle of tests/features.rs).
    let Some(p) = btfkit_tests::pahole_new() else {
        return;
    };
    for (list, want) in [
        ("optimized_func", &all),
        ("optimized_func,consistent_func", &kept),
    ] {
        let out = d.join("pahole.btf");
        let mut c = Command::new(&p);
        if let Some(lib) = p.parent().and_then(|b| b.parent()).map(|x| x.join("lib")) {
            c.env("LD_LIBRARY_PATH", lib);
        }
        let st = c
            .arg("-J")
            .arg(format!("--btf_features={list}"))
            .arg(format!("--btf_encode_detached={}", out.display()))
            .arg(&o)
            .status()
            .unwrap();
        assert!(st.success());
        let b = btf::parse_any(&std::fs::read(&out).unwrap(), None).unwrap();
        let mut got: Vec<String> = b
            .types()
            .filter(|(_, t)| t.kind() == btf::Kind::Func)
            .map(|(id, _)| b.name_of(id).to_string())
            .collect();
        got.sort();
        assert_eq!(&got, want, "pahole 1.31 with {list}");
    }
}
