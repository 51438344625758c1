//! GCC's `DW_TAG_GNU_annotation` (0x6001): no GCC here emits it, so the DWARF
//! is written with `gimli::write`, once with clang's `DW_TAG_LLVM_annotation`
//! (0x6000) and once with GCC's tag, into an ELF object (`gcc -c` of an empty
//! file, sections added with `objcopy`). pahole 1.24 is the oracle for the
//! clang spelling; the GCC spelling must give the same BTF.

use std::path::{Path, PathBuf};
use std::process::Command;

use btfkit_tests::oracle_program;
use gimli::write::{AttributeValue, DwarfUnit, UnitEntryId};
use gimli::{Encoding, Format};

fn tmpdir(tag: &str) -> PathBuf {
    btfkit_tests::scratch_dir("encode-gnu", tag)
}

/// A unit: `int`, `struct s { int a; } __decl("sd")` with a member decl tag,
/// `int __tag("user") *p` as a typedef'd pointer with a type tag, and a
/// typedef with a decl tag; annotations use `tag`.
fn dwarf(annotation: u16) -> Vec<(&'static str, Vec<u8>)> {
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
    u.unit
        .get_mut(root)
        .set(gimli::DW_AT_name, AttributeValue::String(b"gnu.c".to_vec()));
    let add = |u: &mut DwarfUnit, parent: UnitEntryId, tag: gimli::DwTag| u.unit.add(parent, tag);
    let name = |u: &mut DwarfUnit, id: UnitEntryId, n: &str| {
        u.unit.get_mut(id).set(
            gimli::DW_AT_name,
            AttributeValue::String(n.as_bytes().to_vec()),
        )
    };
    let annot = |u: &mut DwarfUnit, parent: UnitEntryId, kind: &str, value: &str| {
        let a = u.unit.add(parent, gimli::DwTag(annotation));
        u.unit.get_mut(a).set(
            gimli::DW_AT_name,
            AttributeValue::String(kind.as_bytes().to_vec()),
        );
        u.unit.get_mut(a).set(
            gimli::DW_AT_const_value,
            AttributeValue::String(value.as_bytes().to_vec()),
        );
    };
    let int = add(&mut u, root, gimli::DW_TAG_base_type);
    name(&mut u, int, "int");
    u.unit
        .get_mut(int)
        .set(gimli::DW_AT_byte_size, AttributeValue::Data1(4));
    u.unit.get_mut(int).set(
        gimli::DW_AT_encoding,
        AttributeValue::Encoding(gimli::DW_ATE_signed),
    );
    let s = add(&mut u, root, gimli::DW_TAG_structure_type);
    name(&mut u, s, "s");
    u.unit
        .get_mut(s)
        .set(gimli::DW_AT_byte_size, AttributeValue::Data1(4));
    let m = add(&mut u, s, gimli::DW_TAG_member);
    name(&mut u, m, "a");
    u.unit
        .get_mut(m)
        .set(gimli::DW_AT_type, AttributeValue::UnitRef(int));
    u.unit
        .get_mut(m)
        .set(gimli::DW_AT_data_member_location, AttributeValue::Data1(0));
    annot(&mut u, m, "btf_decl_tag", "member_tag");
    annot(&mut u, s, "btf_decl_tag", "struct_tag");
    let p = add(&mut u, root, gimli::DW_TAG_pointer_type);
    u.unit
        .get_mut(p)
        .set(gimli::DW_AT_byte_size, AttributeValue::Data1(8));
    u.unit
        .get_mut(p)
        .set(gimli::DW_AT_type, AttributeValue::UnitRef(s));
    annot(&mut u, p, "btf_type_tag", "user");
    annot(&mut u, p, "btf_type_tag", "rcu");
    let t = add(&mut u, root, gimli::DW_TAG_typedef);
    name(&mut u, t, "sp_t");
    u.unit
        .get_mut(t)
        .set(gimli::DW_AT_type, AttributeValue::UnitRef(p));
    annot(&mut u, t, "btf_decl_tag", "typedef_tag");
    btfkit_tests::dwarf_sections(&mut u)
}

/// An ELF object holding the sections.
fn object(dir: &Path, tag: &str, sections: &[(&str, Vec<u8>)]) -> PathBuf {
    btfkit_tests::object_with_sections(dir, tag, "int unused_symbol;\n", &[], sections)
}

#[test]
fn gnu_annotation_as_clangs() {
    if !oracle_program("gcc") || !oracle_program("objcopy") || !oracle_program("pahole") {
        return;
    }
    let d = tmpdir("annot");
    let llvm = object(&d, "llvm", &dwarf(0x6000));
    let gnu = object(&d, "gnu", &dwarf(0x6001));
    let opts = btf_encode::Options::default();
    let ours_llvm = btf_encode::encode(&std::fs::read(&llvm).unwrap(), &opts)
        .unwrap()
        .expect("types");
    let ours_gnu = btf_encode::encode(&std::fs::read(&gnu).unwrap(), &opts)
        .unwrap()
        .expect("types");
    assert_eq!(
        ours_llvm.to_bytes(),
        ours_gnu.to_bytes(),
        "GCC's tag reads as clang's"
    );
    // pahole 1.24 on the clang spelling.
    let out = d.join("pahole.btf");
    let st = Command::new("pahole")
        .arg("-J")
        .arg(format!("--btf_encode_detached={}", out.display()))
        .arg(&llvm)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        std::fs::read(&out).unwrap(),
        ours_llvm.to_bytes(),
        "clang's annotation as pahole 1.24 encodes it"
    );
    let kinds: Vec<btf::Kind> = ours_gnu.types().map(|(_, t)| t.kind()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == btf::Kind::TypeTag).count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == btf::Kind::DeclTag).count(),
        3,
        "{kinds:?}"
    );
}
