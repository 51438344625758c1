//! The `btf-dump` command (to be written).
fn main() {}
