//! Any bytes: parse (raw, ELF or zstd), verify, and dump in every format.
//! Nothing may panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = btf::verify::verify_raw(data, None);
    if let Ok(btf) = btf::parse_any(data, None) {
        let mut sink = std::io::sink();
        let _ = btf_dump::raw::dump(&btf, &mut sink);
        let _ = btf_dump::c::dump(&btf, &mut sink);
        let _ = btf_dump::json::dump(&btf, &mut sink);
        let _ = btf.to_bytes();
    }
});
