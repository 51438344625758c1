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
//! - [`kfunc`]: a kfunc call site ([`kfunc::check_call`]: may the program
//!   type call it, do its arguments pass, in the verifier's order and words),
//!   `bpf_kptr_xchg` into a map value, a global function's context argument,
//!   struct id matching and context types.
//! - [`progs`]: program types, kfunc hooks and the per-version tables of
//!   which program types may call which kfunc set (with the kfuncs' flags).
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
//!
//! A kfunc call before `BPF_PROG_LOAD`: the loader's analysis says what each
//! argument register holds; btf-match answers as the verifier would.
//!
//! ```no_run
//! use btf::Kind;
//! use btf_match::kfunc::{check_call, Arg};
//! use btf_match::progs::{Prog, ProgType};
//! use btf_match::Kernel;
//!
//! let kernel = Kernel::running()?;
//! let task = kernel.find("task_struct", Kind::Struct).ok_or("no task_struct")?;
//! let tracing = Prog::new(ProgType::Tracing);
//! // bpf_task_release(bpf_get_current_task_btf()): trusted, not referenced.
//! let e = check_call(&kernel, &tracing, "bpf_task_release", &[Arg::trusted(task)]).unwrap_err();
//! assert_eq!(e.message, "release kernel function bpf_task_release expects refcounted PTR_TO_BTF_ID");
//! // An EXT program replacing a function of an XDP program takes XDP's kfunc sets.
//! let e = check_call(&kernel, &Prog::ext(ProgType::Xdp), "bpf_cpumask_create", &[]).unwrap_err();
//! assert_eq!(e.message, "calling kernel function bpf_cpumask_create is not allowed");
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
