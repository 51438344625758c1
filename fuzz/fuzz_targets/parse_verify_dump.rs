//! Any bytes: parse (raw, ELF or zstd), verify, and dump in every format,
//! from the strict parse and from the lenient read (which must agree with
//! the strict parse whenever it reports no problem).
//! Nothing may panic, hang or allocate without bound.
//!
//! The dumps write into a sink that fails past 4 MiB: a C header's padding is
//! legitimately proportional to the struct sizes the input declares (up to
//! 4 GiB each), so the dumpers must stop at the first write error instead.
#![no_main]

use std::io::{self, Write};

use libfuzzer_sys::fuzz_target;

struct Limited(usize);

impl Write for Limited {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0 < buf.len() {
            return Err(io::Error::other("output limit"));
        }
        self.0 -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const LIMIT: usize = 4 << 20;

fuzz_target!(|data: &[u8]| {
    let _ = btf::verify::verify_raw(data, None);
    if let Ok(btf) = btf::parse_any(data, None) {
        let _ = btf_dump::raw::dump(&btf, &mut Limited(LIMIT));
        let _ = btf_dump::c::dump(&btf, &mut Limited(LIMIT));
        let _ = btf_dump::json::dump(&btf, &mut Limited(LIMIT));
        let _ = btf.to_bytes();
    }
    if let Ok(l) = btf::read::parse_any_lenient(data, None) {
        let btf = l.for_display();
        let _ = btf_dump::raw::dump(btf, &mut Limited(LIMIT));
        let _ = btf_dump::c::dump(btf, &mut Limited(LIMIT));
        let _ = btf_dump::json::dump(btf, &mut Limited(LIMIT));
        let strict = btf::parse_any(data, None);
        assert_eq!(l.problem().is_none(), strict.is_ok(), "lenient and strict disagree");
    }
});
