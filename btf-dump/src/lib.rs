//! `btf-dump`: BTF as `bpftool btf dump` prints it — raw text ([`raw`]), a C
//! header ([`c`]), JSON ([`json`]) — and a structural [`diff`] of two BTFs.

pub mod c;
pub mod diff;
pub mod json;
pub mod raw;
