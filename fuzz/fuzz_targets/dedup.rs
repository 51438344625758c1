//! Any bytes: deduplicate them as raw BTF, as libbpf's `btf__dedup` would.
//! Nothing may panic or hang; bad input is an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = btf_dedup::dedup_raw(data, None, &btf_dedup::Options::default()) {
        // Whatever dedup writes must parse again.
        assert!(btf::Btf::parse(&out).is_ok(), "dedup output does not parse");
    }
});
