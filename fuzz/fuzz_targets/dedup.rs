//! Any bytes that parse as BTF: deduplicate them. Nothing may panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(btf) = btf::Btf::parse(data) {
        let _ = btf;
        // Filled in when btf-dedup lands: btf_dedup::dedup(&btf, &Default::default()).
    }
});
