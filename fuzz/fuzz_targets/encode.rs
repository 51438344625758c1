//! Fuzz target: DWARF to BTF on arbitrary bytes (seeded with ELF objects).
//! Must never panic, hang or overflow the stack; BTF it returns must parse
//! again, and the result must not depend on the thread count.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut opts = btf_encode::Options {
        gen_floats: true,
        jobs: Some(1),
        ..Default::default()
    };
    let one = btf_encode::encode(data, &opts);
    if let Ok(Some(btf)) = &one {
        btf::Btf::parse(&btf.to_bytes()).expect("output parses");
    }
    opts.jobs = Some(2);
    // The parallel pipeline even on inputs this small.
    opts.parallel_min_info = Some(0);
    let two = btf_encode::encode(data, &opts);
    // The appending ELF writer (in place, for what object's builder
    // refuses) on the same input: never a panic; what it writes parses and
    // holds the section.
    if let Ok(Some(btf)) = &one {
        let raw = btf.to_bytes();
        if let Ok(out) = btf_encode::elf_write::append(data, b".BTF", &raw) {
            use object::{Object, ObjectSection};
            let f = object::File::parse(&*out).expect("appended ELF parses");
            let s = f.section_by_name(".BTF").expect("appended .BTF");
            if f.sections().filter(|s| s.name() == Ok(".BTF")).count() == 1 {
                assert_eq!(s.data().expect(".BTF data"), &raw[..]);
            }
        }
    }
    match (one, two) {
        (Ok(a), Ok(b)) => assert_eq!(
            a.map(|b| b.to_bytes()),
            b.map(|b| b.to_bytes()),
            "output depends on the thread count"
        ),
        (Err(_), Err(_)) => {}
        _ => panic!("success depends on the thread count"),
    }
});
