//! Output format `c` (to be written).

use std::io::{self, Write};

/// Dumps `btf` (its own types for split BTF) as `bpftool btf dump file F format c` does.
pub fn dump(btf: &btf::Btf, out: &mut dyn Write) -> io::Result<()> {
    let _ = (btf, out);
    Ok(())
}
