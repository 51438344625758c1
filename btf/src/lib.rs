//! # btf: the BPF Type Format
//!
//! The core crate of btfkit: a model of every BTF kind (INT through ENUM64), a
//! parser for raw BTF in either byte order, ELF `.BTF` sections (compressed or
//! not), zstd-compressed files and `/sys/kernel/btf/*`, split BTF on a base, a
//! writer that gives back the bytes it read, a [`Builder`], a [`NameIndex`], and
//! a verifier with the kernel's rules ([`verify`]).
//!
//! ```no_run
//! use std::sync::Arc;
//! use btf::{Kind, NameIndex, TypeData};
//!
//! // The running kernel's BTF, and a module's split BTF on top of it.
//! let vmlinux = Arc::new(btf::load("/sys/kernel/btf/vmlinux")?);
//! let index = NameIndex::new(&vmlinux);
//! let id = index.find(&vmlinux, "task_struct", Kind::Struct).expect("no task_struct");
//! if let TypeData::Struct(s) = &vmlinux.get(id)?.data {
//!     for m in &s.members {
//!         let name = vmlinux.str_at(m.name_off).unwrap_or("?");
//!         println!("{name} at bit {}", m.bit_offset(vmlinux.get(id)?.kind_flag));
//!     }
//! }
//! // Modules are split BTF; the base is found automatically under /sys.
//! let module = btf::load("/sys/kernel/btf/nf_tables")?;
//! assert!(module.base().is_some());
//! # Ok::<(), btf::Error>(())
//! ```
//!
//! Layout follows gimli: [`read`](mod@read) and [`write`](mod@write) mirror each other, [`ids`] holds
//! the typed indices ([`TypeId`], [`StrOff`]) so ids and string offsets cannot be
//! mixed up.

#![deny(missing_docs)]

mod append;
mod btf;
pub mod builder;
pub mod distill;
pub mod error;
pub mod format;
pub mod hash;
pub mod ids;
pub mod index;
pub mod kind;
pub mod read;
pub mod types;
pub mod verify;
pub mod write;

pub use crate::btf::{Btf, Endian, ModWalk};
pub use crate::builder::{Builder, StringTable};
pub use crate::error::{Error, Result};
pub use crate::format::MAX_RESOLVE_DEPTH;
pub use crate::ids::{StrOff, TypeId};
pub use crate::index::{DeclTags, NameIndex};
pub use crate::kind::Kind;
pub use crate::read::{load, load_with_base, parse_any};
pub use crate::types::{Type, TypeData};
