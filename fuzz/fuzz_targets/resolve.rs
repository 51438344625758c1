//! Fuzz target: btf-resolve's ELF reader, symbol collection and plan on
//! arbitrary bytes (an ELF's own `.BTF` when it parses, else a small fixed
//! BTF). Must never panic or hang; a plan that succeeds must be stable (a
//! second plan on its bytes gives the same bytes).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn fixed() -> &'static btf::Btf {
    static B: OnceLock<btf::Btf> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = btf::Builder::new();
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        let proto = b.add_func_proto(int, &[("x", int)]);
        b.add_func("f", proto, 0);
        b.add_func("g", proto, 0);
        b.add_struct("s", 4, &[("a", int, 0)]);
        b.finish().expect("fixed BTF builds")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(btf_resolve::elf::Found::Ids(sec)) = btf_resolve::elf::read(data) else {
        return;
    };
    let own = btf::read::elf::section_data(data, ".BTF")
        .ok()
        .flatten()
        .and_then(|s| btf::Btf::parse(&s).ok());
    let btf: &btf::Btf = match &own {
        Some(b) => b,
        None => fixed(),
    };
    let index = btf::NameIndex::new(btf);
    let (off, size) = (sec.file_offset as usize, sec.size as usize);
    let old = &data[off..off + size];
    let opts = btf_resolve::Options::default();
    if let Ok(p) = btf_resolve::plan(sec.clone(), old, btf, &index, &opts) {
        let _ = btf_resolve::check(&p, btf);
        let _ = btf_resolve::report_json(&p, btf);
        let _ = btf_resolve::unresolved_section(&p);
        if let Ok(again) = btf_resolve::plan(sec, &p.bytes, btf, &index, &opts) {
            assert_eq!(again.bytes, p.bytes, "second plan changed the bytes");
        }
    }
});
