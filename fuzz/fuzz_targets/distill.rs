//! Fuzz target: `btf::distill` and btf-resolve's BTF rewriting on arbitrary
//! split BTF (the input split at its first byte into a base blob and a split
//! blob). Must never panic or hang; what distill_base returns must write and
//! parse back, and sorting by name must keep every type.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else { return };
    let cut = (cut as usize * rest.len() / 256).min(rest.len());
    let Ok(base) = btf::Btf::parse(&rest[..cut]) else { return };
    let base = Arc::new(base);
    let Ok(split) = btf::read::raw::parse(&rest[cut..], Some(base.clone())) else {
        return;
    };
    if let Ok((nb, ns)) = btf::distill::distill_base(&split) {
        let b2 = Arc::new(btf::Btf::parse(&nb.to_bytes()).expect("distilled base parses"));
        let s2 = btf::read::raw::parse(&ns.to_bytes(), Some(b2)).expect("distilled split parses");
        assert_eq!(s2.own_type_count(), ns.own_type_count());
    }
    for b in [&*base, &split] {
        if let Ok(sorted) = btf_resolve::gen::sort_by_name(b) {
            assert_eq!(sorted.own_type_count(), b.own_type_count());
            assert_eq!(sorted.own_strings(), b.own_strings());
        }
    }
});
