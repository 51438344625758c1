//! Fuzz target: parse + dedup of arbitrary bytes, as base BTF and as split
//! BTF on a small fixed base. Must never panic, hang or overflow the stack;
//! whatever it outputs must parse again, and two runs must agree.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;

fn base() -> &'static Arc<btf::Btf> {
    static B: OnceLock<Arc<btf::Btf>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = btf::Builder::new();
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        let p = b.add_ptr(int);
        b.add_struct("s", 16, &[("a", int, 0), ("p", p, 64)]);
        b.add_fwd("f", false);
        Arc::new(b.finish().expect("base builds"))
    })
}

fuzz_target!(|data: &[u8]| {
    let opts = btf_dedup::Options::default();
    if let Ok(out) = btf_dedup::dedup_raw(data, None, &opts) {
        btf::Btf::parse(&out).expect("output parses");
        // Deterministic: the same input gives the same bytes.
        let again = btf_dedup::dedup_raw(data, None, &opts).expect("second run");
        assert_eq!(again, out, "dedup is not deterministic");
    }
    if let Ok(out) = btf_dedup::dedup_raw(data, Some(base()), &opts) {
        btf::Btf::parse_split(&out, base().clone()).expect("split output parses");
    }
});
