//! What btf-match knows of a kernel: its BTF (for pointee lookups by name and
//! kind), its destructor pairs, and which version's rules apply.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use btf::{Btf, Kind, NameIndex, TypeId};

use crate::dtor::DtorTable;
use crate::Error;

/// The rule sets btf-match implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// 5.19 to 6.1: tags `kptr` (unreferenced) and `kptr_ref` (referenced);
    /// kptrs only as direct members of the value, 8-byte aligned (any
    /// misaligned member spoils the whole kptr table); no special-field pass
    /// at `BPF_BTF_LOAD`; pointees must be kernel structs.
    V6_1,
    /// 6.13 and later as the running 6.18 behaves: `kptr_untrusted`, `kptr`
    /// (referenced), `percpu_kptr`, `uptr`; nested structs and arrays; program
    /// local pointees; structs with kptr members checked at `BPF_BTF_LOAD`.
    V6_18,
}

impl Version {
    /// Parses `X.Y` (or `X.Y.Z`, the patch level ignored). 5.19 to 6.1 take
    /// the 6.1 rules, 6.13 and later the 6.18 rules; 6.2 to 6.12 (rules in
    /// between) and anything before 5.19 (no kptrs) are errors.
    pub fn parse(s: &str) -> Result<Version, Error> {
        let mut it = s.trim().split('.');
        let num = |p: Option<&str>| p.and_then(|p| p.parse::<u32>().ok());
        let (Some(major), Some(minor)) = (num(it.next()), num(it.next())) else {
            return Err(Error(format!("kernel version '{s}': expected X.Y")));
        };
        match (major, minor) {
            (5, 19..) | (6, 0..=1) => Ok(Version::V6_1),
            (6, 13..) | (7.., _) => Ok(Version::V6_18),
            (6, 2..=12) => Err(Error(format!(
                "kernel {major}.{minor}: no rules for 6.2 to 6.12 (supported: 5.19 to 6.1, 6.13 and later)"
            ))),
            _ => Err(Error(format!(
                "kernel {major}.{minor}: kptrs came in 5.19 (supported: 5.19 to 6.1, 6.13 and later)"
            ))),
        }
    }

    /// The rules a kernel BTF implies: `struct bpf_refcount` (6.4+) means
    /// the 6.18 rules, its absence the 6.1 rules.
    pub fn from_kernel_btf(btf: &Btf, index: &NameIndex) -> Version {
        if index.find(btf, "bpf_refcount", Kind::Struct).is_some() {
            Version::V6_18
        } else {
            Version::V6_1
        }
    }

    /// The core verifier's rules for the same kernel.
    pub fn verify_rules(self) -> btf::verify::Rules {
        match self {
            Version::V6_1 => btf::verify::Rules::Linux6_1,
            Version::V6_18 => btf::verify::Rules::Linux6_18,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V6_1 => "6.1",
            Version::V6_18 => "6.18",
        })
    }
}

/// A kernel as the checks see it.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// The kernel's BTF (vmlinux).
    pub btf: Arc<Btf>,
    /// Its name index.
    pub index: Arc<NameIndex>,
    /// The destructor pairs (struct id in `btf` → dtor FUNC id).
    pub dtors: DtorTable,
    /// The rules.
    pub version: Version,
}

impl Kernel {
    /// A kernel from its BTF and dtor table; the version from the BTF unless given.
    pub fn new(btf: Arc<Btf>, dtors: DtorTable, version: Option<Version>) -> Kernel {
        let index = Arc::new(NameIndex::new(&btf));
        let version = version.unwrap_or_else(|| Version::from_kernel_btf(&btf, &index));
        Kernel {
            btf,
            index,
            dtors,
            version,
        }
    }

    /// The running kernel: `/sys/kernel/btf/vmlinux` with the dtor pairs of
    /// the version's built-in table.
    pub fn running() -> Result<Kernel, Error> {
        Kernel::from_path("/sys/kernel/btf/vmlinux", None)
    }

    /// A kernel from a BTF file (raw, or an ELF with `.BTF`, where the dtor
    /// pairs come from its `.BTF_ids`); else the built-in table of the version.
    pub fn from_path(path: &str, version: Option<Version>) -> Result<Kernel, Error> {
        let data = std::fs::read(path).map_err(|e| Error(format!("{path}: {e}")))?;
        let btf = Arc::new(btf::parse_any(&data, None).map_err(|e| Error(format!("{path}: {e}")))?);
        let index = NameIndex::new(&btf);
        let version = version.unwrap_or_else(|| Version::from_kernel_btf(&btf, &index));
        let dtors = if btf::read::elf::is_elf(&data) {
            let ids =
                crate::btf_ids::BtfIds::read(&data).map_err(|e| Error(format!("{path}: {e}")))?;
            if ids.dtors.is_empty() {
                DtorTable::builtin(version, &btf, &index)
            } else {
                DtorTable::from_btf_ids(&ids)
            }
        } else {
            DtorTable::builtin(version, &btf, &index)
        };
        Ok(Kernel::new(btf, dtors, Some(version)))
    }

    /// `bpf_find_btf_id`: the kernel type of this name and kind.
    pub fn find(&self, name: &str, kind: Kind) -> Option<TypeId> {
        if name.is_empty() {
            return None;
        }
        self.index.find(&self.btf, name, kind)
    }

    /// The destructor FUNC of a kernel struct, by id (`btf_find_dtor_kfunc`).
    pub fn find_dtor(&self, struct_id: TypeId) -> Option<TypeId> {
        self.dtors.find_dtor(struct_id)
    }

    /// The dtor pairs by struct name.
    pub fn dtor_names(&self) -> BTreeMap<String, String> {
        self.dtors
            .pairs()
            .map(|(s, f)| {
                (
                    self.btf.name_of(s).to_string(),
                    self.btf.name_of(f).to_string(),
                )
            })
            .collect()
    }
}
