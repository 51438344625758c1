//! # btf-match: the kernel's kfunc and kptr type checks
//!
//! The BTF checks the verifier makes on map values with kernel pointers
//! (kptrs) and on kfunc calls, made before load so a loader can refuse with a
//! clear message instead of an errno, and at build time (btf-resolve
//! `--check`) with the same code.
//!
//! - [`map`]: `BPF_BTF_LOAD` and `BPF_MAP_CREATE` of a map value
//!   ([`check_map_value`]), with the special-field table the kernel builds
//!   ([`fields`]).
//! - [`dtor`]: destructor pairs and their shape rule.
//! - [`kernel`]: the kernel's BTF, dtor table and version rules (6.1, 6.18).
//!
//! ```no_run
//! use btf_match::{check_map_value, Kernel, MapSpec, MapType};
//! use btf::{Builder, TypeId};
//!
//! // A map value `struct v { struct task_struct __kptr *t; }` in program BTF.
//! let mut b = Builder::new();
//! let int = b.add_int("int", 4, 1);
//! let task = b.add_struct("task_struct", 0, &[]);
//! let tag = b.add_type_tag("kptr", task);
//! let ptr = b.add_ptr(tag);
//! let v = b.add_struct("v", 8, &[("t", ptr, 0)]);
//! let raw = b.finish()?.to_bytes();
//!
//! // Before BPF_BTF_LOAD and BPF_MAP_CREATE: would the running kernel take it?
//! let kernel = Kernel::running()?;
//! let spec = MapSpec::usual(MapType::Array, int, v, 8, 0);
//! match check_map_value(&raw, &kernel, &spec) {
//!     Ok(value) => {
//!         for f in &value.record.fields {
//!             println!("{} at {}: {}", f.path, f.offset, f.ty.name());
//!         }
//!         // ... now bpf(BPF_BTF_LOAD) and bpf(BPF_MAP_CREATE)
//!     }
//!     Err(r) => eprintln!("would fail: {r}"), // step, errno, field, offset, rule
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod btf_ids;
pub mod dtor;
pub mod errno;
pub mod fields;
pub mod kernel;
pub mod kfunc;
pub mod map;
pub mod progs;

pub use crate::dtor::{check_dtor_shape, DtorTable};
pub use crate::fields::{Field, FieldType, Problem, Record};
pub use crate::kernel::{Kernel, Version};
pub use crate::map::{
    check_btf_load, check_map_create, check_map_value, MapSpec, MapType, MapValue, Rejection, Step,
};

/// An error in btf-match's inputs (a file, a version string).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error {
    /// A new error.
    pub fn new(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }
}

impl std::error::Error for Error {}
