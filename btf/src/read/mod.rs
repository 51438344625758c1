//! Reading BTF: the raw format ([`raw`]), `.BTF` sections of ELF files ([`elf`]),
//! and files on disk whatever their container ([`file`](mod@file)).

pub mod elf;
pub mod file;
pub mod raw;

pub use file::{load, load_with_base, parse_any, parse_any_lenient, raw_btf_bytes, sysfs_base_for};
pub use raw::Header;
pub use raw::{parse_lenient, Lenient};
