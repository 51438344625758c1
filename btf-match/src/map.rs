//! `BPF_BTF_LOAD` and `BPF_MAP_CREATE` as far as a map value's BTF decides
//! them: the kernel's `btf_parse` (type checks, then the special-field pass),
//! `map_create`'s attribute checks for the map types that take BTF values,
//! and `map_check_btf` with the map-type rules of each special field.

use std::fmt;

use btf::{Btf, TypeData, TypeId};

use crate::errno::*;
use crate::fields::{self, mask, FieldType, Problem, Record};
use crate::kernel::{Kernel, Version};

/// `BPF_F_NO_PREALLOC`.
pub const F_NO_PREALLOC: u32 = 1;
/// `BPF_F_RDONLY_PROG`.
pub const F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_WRONLY_PROG`.
pub const F_WRONLY_PROG: u32 = 1 << 8;

/// Map types that take a BTF value with special fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum MapType {
    Hash,
    Array,
    PercpuHash,
    PercpuArray,
    LruHash,
    LruPercpuHash,
    SkStorage,
    InodeStorage,
    TaskStorage,
    CgrpStorage,
}

impl MapType {
    /// Every type, with its name as bpftool spells it.
    pub const ALL: [(MapType, &'static str); 10] = [
        (MapType::Hash, "hash"),
        (MapType::Array, "array"),
        (MapType::PercpuHash, "percpu_hash"),
        (MapType::PercpuArray, "percpu_array"),
        (MapType::LruHash, "lru_hash"),
        (MapType::LruPercpuHash, "lru_percpu_hash"),
        (MapType::SkStorage, "sk_storage"),
        (MapType::InodeStorage, "inode_storage"),
        (MapType::TaskStorage, "task_storage"),
        (MapType::CgrpStorage, "cgrp_storage"),
    ];

    /// By bpftool's name.
    pub fn parse(s: &str) -> Option<MapType> {
        MapType::ALL.iter().find(|(_, n)| *n == s).map(|(t, _)| *t)
    }

    /// bpftool's name.
    pub fn name(self) -> &'static str {
        MapType::ALL
            .iter()
            .find(|(t, _)| *t == self)
            .map_or("?", |(_, n)| n)
    }

    /// `enum bpf_map_type`.
    pub fn raw(self) -> u32 {
        match self {
            MapType::Hash => 1,
            MapType::Array => 2,
            MapType::PercpuHash => 5,
            MapType::PercpuArray => 6,
            MapType::LruHash => 9,
            MapType::LruPercpuHash => 10,
            MapType::SkStorage => 24,
            MapType::InodeStorage => 28,
            MapType::TaskStorage => 29,
            MapType::CgrpStorage => 32,
        }
    }

    /// Whether this is a local storage map (sk, inode, task, cgroup).
    pub fn is_local_storage(self) -> bool {
        matches!(
            self,
            MapType::SkStorage
                | MapType::InodeStorage
                | MapType::TaskStorage
                | MapType::CgrpStorage
        )
    }

    fn is_array(self) -> bool {
        matches!(self, MapType::Array | MapType::PercpuArray)
    }
}

impl fmt::Display for MapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `BPF_MAP_CREATE` attributes that matter here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// The map type.
    pub map_type: MapType,
    /// `key_size`.
    pub key_size: u32,
    /// `value_size`.
    pub value_size: u32,
    /// `max_entries`.
    pub max_entries: u32,
    /// `map_flags`.
    pub map_flags: u32,
    /// `btf_key_type_id`.
    pub key_type_id: TypeId,
    /// `btf_value_type_id`.
    pub value_type_id: TypeId,
}

impl MapSpec {
    /// The usual attributes for a value type of `value_size` bytes: a 4-byte
    /// INT key `key_type_id`, `max_entries` 1 (0 and `BPF_F_NO_PREALLOC` for
    /// local storage), `map_flags` added.
    pub fn usual(
        map_type: MapType,
        key_type_id: TypeId,
        value_type_id: TypeId,
        value_size: u32,
        map_flags: u32,
    ) -> MapSpec {
        let local = map_type.is_local_storage();
        MapSpec {
            map_type,
            key_size: 4,
            value_size,
            max_entries: u32::from(!local),
            map_flags: map_flags | if local { F_NO_PREALLOC } else { 0 },
            key_type_id,
            value_type_id,
        }
    }
}

/// Which syscall step rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `BPF_BTF_LOAD`.
    BtfLoad,
    /// `BPF_MAP_CREATE`.
    MapCreate,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::BtfLoad => "BPF_BTF_LOAD",
            Step::MapCreate => "BPF_MAP_CREATE",
        })
    }
}

/// A rejection: the step, the errno, and what broke which rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The step that fails.
    pub step: Step,
    /// The kernel's errno.
    pub errno: i32,
    /// The type the problem is in (`struct v`), when there is one.
    pub type_name: String,
    /// The field, offset and rule.
    pub problem: Problem,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} fails with {}", self.step, errno_name(self.errno))?;
        if !self.type_name.is_empty() {
            write!(f, ": struct {}", self.type_name)?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// What the kernel makes of an accepted map value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapValue {
    /// The special fields the map has, sorted by offset (empty: none).
    pub record: Record,
    /// A field search that failed at `BPF_MAP_CREATE`: the kernel keeps the
    /// map and treats the value as plain data (no special fields at all).
    pub plain_data: Option<Problem>,
}

fn reject(step: Step, type_name: &str, problem: Problem) -> Rejection {
    Rejection {
        step,
        errno: problem.errno,
        type_name: type_name.to_string(),
        problem,
    }
}

/// `BPF_BTF_LOAD` of a raw blob: the core verifier's type checks, then the
/// special-field pass with the kernel's pointee and destructor lookups.
pub fn check_btf_load(raw: &[u8], kernel: &Kernel) -> Result<Btf, Rejection> {
    if let Err(f) = btf::verify::verify_types_with(raw, None, kernel.version.verify_rules()) {
        return Err(reject(
            Step::BtfLoad,
            "",
            Problem {
                errno: f.errno,
                field: String::new(),
                offset: 0,
                rule: format!("the BTF is invalid: {}", f.rejection.message),
            },
        ));
    }
    let btf = btf::read::raw::parse(raw, None).map_err(|e| {
        reject(
            Step::BtfLoad,
            "",
            Problem {
                errno: EINVAL,
                field: String::new(),
                offset: 0,
                rule: format!("the BTF does not parse: {e}"),
            },
        )
    })?;
    if let Err((name, p)) = fields::check_struct_metas(&btf, kernel) {
        return Err(reject(Step::BtfLoad, &name, p));
    }
    Ok(btf)
}

fn whole(errno: i32, rule: impl Into<String>) -> Problem {
    Problem {
        errno,
        field: String::new(),
        offset: 0,
        rule: rule.into(),
    }
}

/// `btf_type_id_size`: the size of a type after modifiers and typedefs.
fn type_size(btf: &Btf, id: TypeId) -> Option<u32> {
    let t = btf.skip_mods(id, true);
    let ty = btf.type_by_id(t)?;
    match &ty.data {
        TypeData::Ptr(_) => Some(8),
        TypeData::Array(_) => btf
            .resolve_size(t, 8)
            .ok()
            .and_then(|s| u32::try_from(s).ok()),
        TypeData::Func(_)
        | TypeData::FuncProto(_)
        | TypeData::Fwd
        | TypeData::Var(_)
        | TypeData::DeclTag(_) => None,
        _ => ty.size(),
    }
}

fn is_int32(btf: &Btf, id: TypeId) -> bool {
    matches!(btf.type_by_id(id).map(|t| &t.data), Some(TypeData::Int(i)) if i.bits == 32 && i.offset == 0)
        && btf.type_by_id(id).and_then(|t| t.size()) == Some(4)
}

/// `BPF_MAP_CREATE` with a BTF the kernel has loaded: the attribute checks
/// (`map_alloc_check` of the type), then `map_check_btf`.
pub fn check_map_create(btf: &Btf, kernel: &Kernel, spec: &MapSpec) -> Result<MapValue, Rejection> {
    let mt = spec.map_type;
    let value_name = btf.name_of(spec.value_type_id).to_string();
    let r = |p: Problem| reject(Step::MapCreate, &value_name, p);
    // Attribute checks before BTF is looked at.
    let access = F_RDONLY_PROG | F_WRONLY_PROG;
    if mt.is_local_storage() {
        if kernel.version == Version::V6_1 && mt == MapType::CgrpStorage {
            return Err(r(whole(EINVAL, "cgrp_storage maps came in 6.2")));
        }
        if spec.map_flags & !(F_NO_PREALLOC | (1 << 9)) != 0 {
            return Err(r(whole(
                EINVAL,
                format!("{mt} maps take only BPF_F_NO_PREALLOC and BPF_F_CLONE"),
            )));
        }
        if spec.map_flags & F_NO_PREALLOC == 0
            || spec.max_entries != 0
            || spec.key_size != 4
            || spec.value_size == 0
        {
            return Err(r(whole(
                EINVAL,
                format!(
                    "{mt} maps need BPF_F_NO_PREALLOC, max_entries 0, a 4-byte key and a value"
                ),
            )));
        }
    } else {
        if spec.map_flags & (access) == access {
            return Err(r(whole(
                EINVAL,
                "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together",
            )));
        }
        if spec.max_entries == 0 || spec.key_size == 0 || spec.value_size == 0 {
            return Err(r(whole(
                EINVAL,
                "max_entries, key_size and value_size must be non-zero",
            )));
        }
        if mt.is_array() && spec.key_size != 4 {
            return Err(r(whole(EINVAL, "array maps take a 4-byte key")));
        }
    }
    // map_check_btf
    if !spec.key_type_id.is_void() {
        if type_size(btf, spec.key_type_id) != Some(spec.key_size) {
            return Err(r(whole(
                EINVAL,
                format!(
                    "the key type [{}] is not {} bytes",
                    spec.key_type_id.0, spec.key_size
                ),
            )));
        }
    } else {
        return Err(r(whole(
            EINVAL,
            "no key type (only a one-entry array of a DATASEC may have none)",
        )));
    }
    let vid = btf.skip_mods(spec.value_type_id, true);
    if type_size(btf, spec.value_type_id) != Some(spec.value_size) {
        return Err(r(whole(
            EINVAL,
            format!(
                "the value type [{}] is not {} bytes",
                spec.value_type_id.0, spec.value_size
            ),
        )));
    }
    let mut out = MapValue::default();
    match kernel.version {
        Version::V6_18 => {
            match fields::parse_fields(btf, kernel, vid, mask::MAP_VALUE, spec.value_size) {
                Ok(Some(rec)) => {
                    if spec.map_flags & access != 0 {
                        let f = &rec.fields[0];
                        return Err(r(Problem {
                            errno: EACCES,
                            field: f.path.clone(),
                            offset: f.offset,
                            rule: format!(
                                "{} in a map with BPF_F_RDONLY_PROG or BPF_F_WRONLY_PROG",
                                f.ty.name()
                            ),
                        }));
                    }
                    check_types_6_18(&rec, mt).map_err(r)?;
                    fields::check_and_fixup(btf, &rec).map_err(r)?;
                    out.record = rec;
                }
                Ok(None) => {}
                Err(p) => out.plain_data = Some(p),
            }
        }
        Version::V6_1 => {
            let (lock, timer, kptrs) = fields::parse_fields_6_1(btf, kernel, vid);
            let mut plain = None;
            let mut take = |res: Result<Option<fields::Field>, Problem>| match res {
                Ok(f) => f,
                Err(p) => {
                    plain.get_or_insert(p);
                    None
                }
            };
            if let Some(f) = take(lock) {
                if spec.map_flags & F_RDONLY_PROG != 0 {
                    return Err(r(field_problem(
                        EACCES,
                        &f,
                        "bpf_spin_lock in a map with BPF_F_RDONLY_PROG",
                    )));
                }
                if !matches!(
                    mt,
                    MapType::Hash
                        | MapType::Array
                        | MapType::SkStorage
                        | MapType::InodeStorage
                        | MapType::TaskStorage
                ) {
                    return Err(r(field_problem(
                        ENOTSUPP,
                        &f,
                        format!("bpf_spin_lock is not allowed in {mt} maps"),
                    )));
                }
                out.record.fields.push(f);
            }
            if let Some(f) = take(timer) {
                if spec.map_flags & F_RDONLY_PROG != 0 {
                    return Err(r(field_problem(
                        EACCES,
                        &f,
                        "bpf_timer in a map with BPF_F_RDONLY_PROG",
                    )));
                }
                if !matches!(mt, MapType::Hash | MapType::LruHash | MapType::Array) {
                    return Err(r(field_problem(
                        EOPNOTSUPP,
                        &f,
                        format!("bpf_timer is not allowed in {mt} maps"),
                    )));
                }
                out.record.fields.push(f);
            }
            let ks = match kptrs {
                Ok(v) => v,
                Err(p) => {
                    plain.get_or_insert(p);
                    Vec::new()
                }
            };
            if let Some(f) = ks.first() {
                if spec.map_flags & access != 0 {
                    return Err(r(field_problem(
                        EACCES,
                        f,
                        "kptr in a map with BPF_F_RDONLY_PROG or BPF_F_WRONLY_PROG",
                    )));
                }
                if !matches!(
                    mt,
                    MapType::Hash | MapType::LruHash | MapType::Array | MapType::PercpuArray
                ) {
                    return Err(r(field_problem(
                        EOPNOTSUPP,
                        f,
                        format!("kptrs are not allowed in {mt} maps"),
                    )));
                }
            }
            out.record.fields.extend(ks);
            out.record.fields.sort_by_key(|f| f.offset);
            out.plain_data = plain;
        }
    }
    // The map type's own map_check_btf.
    let kt = spec.key_type_id;
    if mt.is_array() && !is_int32(btf, kt) {
        return Err(r(whole(EINVAL, "an array map's key must be a 32-bit INT")));
    }
    if mt.is_local_storage() && !is_int32(btf, kt) {
        return Err(r(whole(
            EINVAL,
            format!("a {mt} map's key must be a 32-bit INT"),
        )));
    }
    Ok(out)
}

fn field_problem(errno: i32, f: &fields::Field, rule: impl Into<String>) -> Problem {
    Problem {
        errno,
        field: f.path.clone(),
        offset: f.offset,
        rule: rule.into(),
    }
}

/// `map_check_btf`'s map-type switch (6.13+), in the kernel's bit order.
fn check_types_6_18(rec: &Record, mt: MapType) -> Result<(), Problem> {
    use MapType::*;
    let order = [
        FieldType::SpinLock,
        FieldType::Timer,
        FieldType::KptrUnref,
        FieldType::KptrRef,
        FieldType::KptrPercpu,
        FieldType::ListHead,
        FieldType::ListNode,
        FieldType::RbRoot,
        FieldType::RbNode,
        FieldType::Refcount,
        FieldType::Workqueue,
        FieldType::Uptr,
    ];
    for ty in order {
        let Some(f) = rec.fields.iter().find(|f| f.ty == ty) else {
            continue;
        };
        let ok = match ty {
            FieldType::SpinLock => matches!(
                mt,
                Hash | Array | SkStorage | InodeStorage | TaskStorage | CgrpStorage
            ),
            FieldType::Timer | FieldType::Workqueue | FieldType::ListHead | FieldType::RbRoot => {
                matches!(mt, Hash | LruHash | Array)
            }
            FieldType::KptrUnref
            | FieldType::KptrRef
            | FieldType::KptrPercpu
            | FieldType::Refcount => matches!(
                mt,
                Hash | PercpuHash
                    | LruHash
                    | LruPercpuHash
                    | Array
                    | PercpuArray
                    | SkStorage
                    | InodeStorage
                    | TaskStorage
                    | CgrpStorage
            ),
            FieldType::Uptr => mt == TaskStorage,
            FieldType::ListNode | FieldType::RbNode => false,
        };
        if !ok {
            return Err(field_problem(
                EOPNOTSUPP,
                f,
                format!("{} is not allowed in {mt} maps", ty.name()),
            ));
        }
    }
    Ok(())
}

/// Both steps for a raw blob: `BPF_BTF_LOAD`, then `BPF_MAP_CREATE`.
pub fn check_map_value(raw: &[u8], kernel: &Kernel, spec: &MapSpec) -> Result<MapValue, Rejection> {
    let btf = check_btf_load(raw, kernel)?;
    check_map_create(&btf, kernel, spec)
}
