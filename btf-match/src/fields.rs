//! Special fields of a map value or struct: the kernel's `btf_parse_fields`
//! (6.13+) and `btf_parse_kptrs` / `btf_find_spin_lock` / `btf_find_timer`
//! (5.19–6.1), over the program's BTF with the kernel's BTF for pointees.
//!
//! Invariants: nested structs are entered at most [`btf::MAX_RESOLVE_DEPTH`]
//! levels deep, arrays flattened at most as deep; the field list never holds
//! more than [`FIELDS_MAX`] entries (6.18) or [`KPTRS_MAX_6_1`] kptrs (6.1);
//! a field is reported with the member path from the value and its offset in
//! the value. Every failure carries the kernel's errno and names the rule.

use std::fmt;

use btf::{Btf, Kind, TypeData, TypeId, MAX_RESOLVE_DEPTH};

use crate::errno::*;
use crate::kernel::{Kernel, Version};

/// `BTF_FIELDS_MAX` (6.13+).
pub const FIELDS_MAX: usize = 11;
/// `BPF_MAP_VALUE_OFF_MAX` (5.19–6.1): kptrs per value.
pub const KPTRS_MAX_6_1: usize = 8;

/// A special field's type (`enum btf_field_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldType {
    /// `struct bpf_spin_lock`.
    SpinLock,
    /// `struct bpf_timer`.
    Timer,
    /// `struct bpf_wq`.
    Workqueue,
    /// `struct bpf_list_head`.
    ListHead,
    /// `struct bpf_list_node`.
    ListNode,
    /// `struct bpf_rb_root`.
    RbRoot,
    /// `struct bpf_rb_node`.
    RbNode,
    /// `struct bpf_refcount`.
    Refcount,
    /// An unreferenced kptr (`kptr_untrusted`; 6.1: `kptr`).
    KptrUnref,
    /// A referenced kptr (`kptr`; 6.1: `kptr_ref`).
    KptrRef,
    /// `percpu_kptr`.
    KptrPercpu,
    /// `uptr` (task storage only).
    Uptr,
}

impl FieldType {
    /// The mask bit (the kernel's values are bits too).
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// `btf_field_type_size`, `btf_field_type_align`.
    pub fn size_align(self) -> (u32, u32) {
        match self {
            FieldType::SpinLock | FieldType::Refcount => (4, 4),
            FieldType::Timer | FieldType::Workqueue | FieldType::ListHead | FieldType::RbRoot => {
                (16, 8)
            }
            FieldType::ListNode => (24, 8),
            FieldType::RbNode => (32, 8),
            _ => (8, 8),
        }
    }

    /// Whether this is a kptr (or uptr).
    pub fn is_kptr(self) -> bool {
        matches!(
            self,
            FieldType::KptrUnref | FieldType::KptrRef | FieldType::KptrPercpu | FieldType::Uptr
        )
    }

    /// The kernel's name (`btf_field_type_name`).
    pub fn name(self) -> &'static str {
        match self {
            FieldType::SpinLock => "bpf_spin_lock",
            FieldType::Timer => "bpf_timer",
            FieldType::Workqueue => "bpf_wq",
            FieldType::ListHead => "bpf_list_head",
            FieldType::ListNode => "bpf_list_node",
            FieldType::RbRoot => "bpf_rb_root",
            FieldType::RbNode => "bpf_rb_node",
            FieldType::Refcount => "bpf_refcount",
            FieldType::KptrUnref => "kptr_untrusted",
            FieldType::KptrRef => "kptr",
            FieldType::KptrPercpu => "percpu_kptr",
            FieldType::Uptr => "uptr",
        }
    }
}

/// Masks of field types.
pub mod mask {
    use super::FieldType as F;
    /// Every kptr type (`BPF_KPTR`).
    pub const KPTR: u32 =
        (1 << F::KptrUnref as u32) | (1 << F::KptrRef as u32) | (1 << F::KptrPercpu as u32);
    /// `BPF_UPTR`.
    pub const UPTR: u32 = 1 << F::Uptr as u32;
    /// What `btf_parse_struct_metas` looks for at `BPF_BTF_LOAD`.
    pub const STRUCT_META: u32 = (1 << F::SpinLock as u32)
        | (1 << F::ListHead as u32)
        | (1 << F::ListNode as u32)
        | (1 << F::RbRoot as u32)
        | (1 << F::RbNode as u32)
        | (1 << F::Refcount as u32)
        | KPTR;
    /// What `map_check_btf` looks for at `BPF_MAP_CREATE`.
    pub const MAP_VALUE: u32 = (1 << F::SpinLock as u32)
        | (1 << F::Timer as u32)
        | KPTR
        | (1 << F::ListHead as u32)
        | (1 << F::RbRoot as u32)
        | (1 << F::Refcount as u32)
        | (1 << F::Workqueue as u32)
        | UPTR;
}

/// Where a kptr's pointee lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pointee {
    /// A kernel type (found by name and kind in the kernel's BTF), with its
    /// dtor for a referenced kptr.
    Kernel {
        /// Id in the kernel's BTF.
        id: TypeId,
        /// The dtor FUNC id in the kernel's BTF (referenced kptrs).
        dtor: Option<TypeId>,
    },
    /// A program-local type (an object from `bpf_obj_new`).
    Program,
}

/// One special field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The type.
    pub ty: FieldType,
    /// Byte offset in the value.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// Member path from the value (`a.b[2].p`).
    pub path: String,
    /// kptrs: the pointee's id in the program BTF.
    pub pointee_id: Option<TypeId>,
    /// kptrs: the pointee's name.
    pub pointee_name: String,
    /// kptrs: where the pointee was found.
    pub pointee: Option<Pointee>,
}

/// A rejection: the kernel's errno, the field (path and offset, when a field
/// is to blame) and the rule broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The errno the kernel returns.
    pub errno: i32,
    /// The member path (empty when the value as a whole is to blame).
    pub field: String,
    /// The byte offset in the value.
    pub offset: u32,
    /// The rule, in words.
    pub rule: String,
}

impl Problem {
    fn new(errno: i32, field: &str, offset: u32, rule: impl Into<String>) -> Problem {
        Problem {
            errno,
            field: field.to_string(),
            offset,
            rule: rule.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{} ({})", self.rule, errno_name(self.errno))
        } else {
            write!(
                f,
                "field '{}' at offset {}: {} ({})",
                self.field,
                self.offset,
                self.rule,
                errno_name(self.errno)
            )
        }
    }
}

/// A field candidate (`struct btf_field_info`).
#[derive(Clone, Debug)]
struct Info {
    ty: FieldType,
    off: u32,
    path: String,
    /// kptr pointee id in the program BTF.
    kptr_id: TypeId,
}

type Res<T> = Result<T, Problem>;

struct Finder<'a> {
    btf: &'a Btf,
    version: Version,
    mask: u32,
    seen: u32,
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else if name.starts_with('[') {
        format!("{path}{name}")
    } else {
        format!("{path}.{name}")
    }
}

fn is_struct(btf: &Btf, id: TypeId) -> bool {
    btf.is_kind(id, Kind::Struct)
}

impl Finder<'_> {
    fn name(&self, id: TypeId) -> &str {
        self.btf.name_of(id)
    }

    /// `btf_find_kptr`: [VOLATILE] → PTR → one TYPE_TAG of the family →
    /// modifiers/typedefs → STRUCT. `Ok(None)`: not a kptr (plain data).
    fn find_kptr(&self, id: TypeId, off: u32, path: &str) -> Res<Option<Info>> {
        let btf = self.btf;
        let mut t = id;
        if self.version == Version::V6_18 && btf.is_kind(t, Kind::Volatile) {
            t = btf
                .type_by_id(t)
                .and_then(|x| x.ref_type())
                .unwrap_or_default();
        }
        let Some(TypeData::Ptr(to)) = btf.type_by_id(t).map(|x| &x.data) else {
            return Ok(None);
        };
        let tag = *to;
        let Some(TypeData::TypeTag(next)) = btf.type_by_id(tag).map(|x| &x.data) else {
            return Ok(None);
        };
        if btf.is_kind(*next, Kind::TypeTag) {
            return Err(Problem::new(
                EINVAL,
                path,
                off,
                format!(
                    "pointer with two type tags ('{}' then '{}'): a kptr takes exactly one",
                    self.name(tag),
                    self.name(*next)
                ),
            ));
        }
        let tname = self.name(tag);
        let ty = match (self.version, tname) {
            (Version::V6_1, "kptr") => FieldType::KptrUnref,
            (Version::V6_1, "kptr_ref") => FieldType::KptrRef,
            (Version::V6_18, "kptr_untrusted") => FieldType::KptrUnref,
            (Version::V6_18, "kptr") => FieldType::KptrRef,
            (Version::V6_18, "percpu_kptr") => FieldType::KptrPercpu,
            (Version::V6_18, "uptr") => FieldType::Uptr,
            _ => {
                return Err(Problem::new(
                    EINVAL,
                    path,
                    off,
                    format!(
                        "type tag '{tname}' is not a kptr tag of {} ({})",
                        self.version,
                        match self.version {
                            Version::V6_1 => "kptr, kptr_ref",
                            Version::V6_18 => "kptr_untrusted, kptr, percpu_kptr, uptr",
                        }
                    ),
                ))
            }
        };
        if self.mask & ty.bit() == 0 {
            return Ok(None);
        }
        let res = btf.skip_mods(*next, true);
        if !is_struct(btf, res) {
            let what = btf
                .type_by_id(res)
                .map_or("nothing".to_string(), |t| t.kind().name().to_string());
            return Err(Problem::new(
                EINVAL,
                path,
                off,
                format!("{} points to a {what}, not a STRUCT", ty.name()),
            ));
        }
        Ok(Some(Info {
            ty,
            off,
            path: path.to_string(),
            kptr_id: res,
        }))
    }

    /// `btf_get_field_type` (6.13+): by the type's name, else a kptr candidate.
    fn get_field_type(&mut self, id: TypeId, off: u32, path: &str) -> Res<Option<FieldType>> {
        let name = self.name(id).to_string();
        let once = [FieldType::SpinLock, FieldType::Timer, FieldType::Workqueue];
        let many = [
            FieldType::ListHead,
            FieldType::ListNode,
            FieldType::RbRoot,
            FieldType::RbNode,
            FieldType::Refcount,
        ];
        for f in once {
            if self.mask & f.bit() != 0 && name == f.name() {
                if self.seen & f.bit() != 0 {
                    return Err(Problem::new(
                        E2BIG,
                        path,
                        off,
                        format!("a second {}: one per value", f.name()),
                    ));
                }
                self.seen |= f.bit();
                return Ok(Some(f));
            }
        }
        for f in many {
            if self.mask & f.bit() != 0 && name == f.name() {
                return Ok(Some(f));
            }
        }
        if self.mask & (mask::KPTR | mask::UPTR) != 0 && !is_struct(self.btf, id) {
            return Ok(Some(FieldType::KptrRef));
        }
        Ok(None)
    }

    /// `btf_repeat_fields`: the first `cnt` of `info` `repeat` more times.
    fn repeat(
        &self,
        info: &mut Vec<Info>,
        cnt: usize,
        repeat: u32,
        elem: u32,
        cap: usize,
    ) -> Res<()> {
        if let Some(f) = info[..cnt]
            .iter()
            .find(|f| !(f.ty.is_kptr() || matches!(f.ty, FieldType::ListHead | FieldType::RbRoot)))
        {
            return Err(Problem::new(
                EINVAL,
                &f.path,
                f.off,
                format!(
                    "{} in an array: only kptrs and graph roots may repeat",
                    f.ty.name()
                ),
            ));
        }
        let total = (cnt as u64) * (u64::from(repeat) + 1);
        if total > cap as u64 {
            let f = &info[0];
            return Err(Problem::new(
                E2BIG,
                &f.path,
                f.off,
                format!(
                    "an array of {} makes {total} special fields, more than {FIELDS_MAX}",
                    repeat + 1
                ),
            ));
        }
        for i in 0..repeat {
            for j in 0..cnt {
                let mut f = info[j].clone();
                f.off = f.off.wrapping_add((i + 1).wrapping_mul(elem));
                f.path = format!("{}@+{}", f.path, (i + 1).wrapping_mul(elem));
                info.push(f);
            }
        }
        Ok(())
    }

    /// `btf_find_field_one` (6.13+): a member of type `id` at `off`.
    fn field_one(
        &mut self,
        id: TypeId,
        off: u32,
        expected: u32,
        path: &str,
        cap: usize,
        level: u32,
    ) -> Res<Vec<Info>> {
        let btf = self.btf;
        let mut t = id;
        let mut nelems: u32 = 1;
        let mut depth = 0;
        while let Some(TypeData::Array(a)) = btf.type_by_id(t).map(|x| &x.data) {
            if depth == MAX_RESOLVE_DEPTH {
                return Err(Problem::new(
                    E2BIG,
                    path,
                    off,
                    "arrays nested more than 32 deep",
                ));
            }
            nelems = nelems.wrapping_mul(a.nelems);
            t = a.elem;
            depth += 1;
        }
        if nelems == 0 {
            return Ok(Vec::new());
        }
        let ft = self.get_field_type(t, off, path)?;
        let Some(ft) = ft else {
            if is_struct(btf, t) {
                let sz = btf.type_by_id(t).and_then(|x| x.size()).unwrap_or(0);
                if expected != 0 && u64::from(expected) != u64::from(sz) * u64::from(nelems) {
                    return Ok(Vec::new());
                }
                return self.nested(t, off, nelems, path, cap, level);
            }
            return Ok(Vec::new());
        };
        let (sz, align) = ft.size_align();
        if expected != 0 && u64::from(expected) != u64::from(sz) * u64::from(nelems) {
            return Ok(Vec::new());
        }
        if !off.is_multiple_of(align) {
            return Ok(Vec::new());
        }
        let found = match ft {
            FieldType::KptrRef => self.find_kptr(t, off, path)?,
            FieldType::ListHead | FieldType::RbRoot => {
                return Err(Problem::new(
                    EOPNOTSUPP,
                    path,
                    off,
                    format!("{} (graph roots are not modelled by btf-match)", ft.name()),
                ))
            }
            _ => {
                let size = btf.type_by_id(t).and_then(|x| x.size());
                (is_struct(btf, t) && size == Some(sz)).then(|| Info {
                    ty: ft,
                    off,
                    path: path.to_string(),
                    kptr_id: TypeId(0),
                })
            }
        };
        let Some(f) = found else {
            return Ok(Vec::new());
        };
        if cap == 0 {
            return Err(Problem::new(
                E2BIG,
                path,
                off,
                format!("more than {FIELDS_MAX} special fields in the value"),
            ));
        }
        let mut out = vec![f];
        if nelems > 1 {
            self.repeat(&mut out, 1, nelems - 1, sz, cap)?;
        }
        Ok(out)
    }

    /// `btf_find_nested_struct`.
    fn nested(
        &mut self,
        t: TypeId,
        off: u32,
        nelems: u32,
        path: &str,
        cap: usize,
        level: u32,
    ) -> Res<Vec<Info>> {
        let level = level + 1;
        if level as usize >= MAX_RESOLVE_DEPTH as usize {
            return Err(Problem::new(
                E2BIG,
                path,
                off,
                "structs nested more than 32 deep",
            ));
        }
        let mut out = self.struct_fields(t, path, cap, level)?;
        if out.is_empty() {
            return Ok(out);
        }
        for f in &mut out {
            f.off = f.off.wrapping_add(off);
        }
        if nelems > 1 {
            let size = self.btf.type_by_id(t).and_then(|x| x.size()).unwrap_or(0);
            let cnt = out.len();
            self.repeat(&mut out, cnt, nelems - 1, size, cap)?;
        }
        Ok(out)
    }

    /// `btf_find_struct_field`: the fields of struct `t` (offsets in `t`).
    fn struct_fields(&mut self, t: TypeId, path: &str, cap: usize, level: u32) -> Res<Vec<Info>> {
        let btf = self.btf;
        let Some(ty) = btf.type_by_id(t) else {
            return Ok(Vec::new());
        };
        let kflag = ty.kind_flag;
        let mut out: Vec<Info> = Vec::new();
        for m in ty.members().unwrap_or(&[]) {
            let name = btf.str_at(m.name_off).unwrap_or("");
            let mpath = join(path, if name.is_empty() { "<anon>" } else { name });
            let bit = m.bit_offset(kflag);
            if !bit.is_multiple_of(8) {
                return Err(Problem::new(
                    EINVAL,
                    &mpath,
                    bit / 8,
                    format!("member at bit offset {bit}, not a whole byte"),
                ));
            }
            let found = self.field_one(m.ty, bit / 8, 0, &mpath, cap - out.len(), level)?;
            out.extend(found);
        }
        Ok(out)
    }
}

/// The result of a field search: the kernel's `btf_record` as a sorted table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The fields, sorted by offset (as `btf_parse_fields` sorts them).
    pub fields: Vec<Field>,
}

impl Record {
    /// Whether a field of this type is present.
    pub fn has(&self, ty: FieldType) -> bool {
        self.fields.iter().any(|f| f.ty == ty)
    }
}

/// `btf_parse_fields` (6.13+) on struct or DATASEC `value` of `btf` with the
/// field types of `mask`, `value_size` bytes: `Ok(None)` when there are no
/// special fields. Pointees are looked up in `kernel`.
pub fn parse_fields(
    btf: &Btf,
    kernel: &Kernel,
    value: TypeId,
    field_mask: u32,
    value_size: u32,
) -> Result<Option<Record>, Problem> {
    let mut f = Finder {
        btf,
        version: kernel.version,
        mask: field_mask,
        seen: 0,
    };
    let info = if is_struct(btf, value) {
        f.struct_fields(value, "", FIELDS_MAX, 0)?
    } else if let Some(TypeData::Datasec(ds)) = btf.type_by_id(value).map(|t| &t.data) {
        let mut out = Vec::new();
        for v in &ds.vars {
            let Some(TypeData::Var(var)) = btf.type_by_id(v.ty).map(|t| &t.data) else {
                continue;
            };
            let name = btf.name_of(v.ty).to_string();
            let got = f.field_one(var.ty, v.offset, v.size, &name, FIELDS_MAX - out.len(), 0)?;
            out.extend(got);
        }
        out
    } else {
        return Err(Problem::new(
            EINVAL,
            "",
            0,
            "the value is neither a STRUCT nor a DATASEC",
        ));
    };
    if info.is_empty() {
        return Ok(None);
    }
    let mut next_off: u64 = 0;
    let mut fields = Vec::with_capacity(info.len());
    for i in &info {
        let (size, _) = i.ty.size_align();
        if u64::from(i.off) + u64::from(size) > u64::from(value_size) {
            return Err(Problem::new(
                EFAULT,
                &i.path,
                i.off,
                format!("{} ends past the value's {value_size} bytes", i.ty.name()),
            ));
        }
        if u64::from(i.off) < next_off {
            return Err(Problem::new(
                EEXIST,
                &i.path,
                i.off,
                format!("{} overlaps the special field before it", i.ty.name()),
            ));
        }
        next_off = u64::from(i.off) + u64::from(size);
        let mut field = Field {
            ty: i.ty,
            offset: i.off,
            size,
            path: i.path.clone(),
            pointee_id: None,
            pointee_name: String::new(),
            pointee: None,
        };
        if i.ty.is_kptr() {
            parse_kptr(btf, kernel, i, &mut field)?;
        }
        fields.push(field);
    }
    let has = |t: FieldType| fields.iter().any(|f| f.ty == t);
    if has(FieldType::ListNode) && has(FieldType::RbNode) && !has(FieldType::Refcount) {
        let f = &fields[0];
        return Err(Problem::new(
            EINVAL,
            &f.path,
            f.offset,
            "a list node and an rbtree node need a bpf_refcount",
        ));
    }
    fields.sort_by_key(|f| f.offset);
    Ok(Some(Record { fields }))
}

/// `btf_check_and_fixup_fields` (6.13+): a uptr points to a program struct
/// of 1 to 4096 bytes. Run after the map-type checks; its errors are the
/// map's.
pub fn check_and_fixup(btf: &Btf, rec: &Record) -> Result<(), Problem> {
    for f in &rec.fields {
        if f.ty != FieldType::Uptr {
            continue;
        }
        if matches!(f.pointee, Some(Pointee::Kernel { .. })) {
            return Err(Problem::new(
                EINVAL,
                &f.path,
                f.offset,
                format!(
                    "uptr to kernel struct '{}': a uptr points to program memory",
                    f.pointee_name
                ),
            ));
        }
        let size = f
            .pointee_id
            .and_then(|id| btf.type_by_id(id))
            .and_then(|t| t.size())
            .unwrap_or(0);
        if size == 0 {
            return Err(Problem::new(
                EINVAL,
                &f.path,
                f.offset,
                format!("uptr to struct '{}' of size 0", f.pointee_name),
            ));
        }
        if size > 4096 {
            return Err(Problem::new(
                E2BIG,
                &f.path,
                f.offset,
                format!(
                    "uptr to struct '{}' of {size} bytes: at most a page (4096)",
                    f.pointee_name
                ),
            ));
        }
    }
    Ok(())
}

/// `btf_parse_kptr`: the pointee by name and kind in the kernel, else program
/// local (6.13+; 6.1: an error); a referenced kptr to a kernel struct needs a dtor.
fn parse_kptr(btf: &Btf, kernel: &Kernel, i: &Info, field: &mut Field) -> Res<()> {
    let t = btf.type_by_id(i.kptr_id);
    let name = btf.name_of(i.kptr_id).to_string();
    let kind = t.map_or(Kind::Struct, |t| t.kind());
    field.pointee_id = Some(i.kptr_id);
    field.pointee_name = name.clone();
    let Some(kid) = kernel.find(&name, kind) else {
        if kernel.version == Version::V6_1 {
            return Err(Problem::new(
                ENOENT,
                &i.path,
                i.off,
                format!(
                    "{} to struct '{name}', which the kernel's BTF does not have",
                    i.ty.name()
                ),
            ));
        }
        field.pointee = Some(Pointee::Program);
        return Ok(());
    };
    let mut dtor = None;
    if i.ty == FieldType::KptrRef {
        dtor = kernel.find_dtor(kid);
        if dtor.is_none() {
            return Err(Problem::new(
                ENOENT,
                &i.path,
                i.off,
                format!(
                    "referenced kptr ({}) to kernel struct '{name}', which has no destructor kfunc",
                    i.ty.name()
                ),
            ));
        }
    }
    field.pointee = Some(Pointee::Kernel { id: kid, dtor });
    Ok(())
}

/// The spin lock, timer and kptr searches of 6.1, each with its own verdict.
pub type Searches61 = (Res<Option<Field>>, Res<Option<Field>>, Res<Vec<Field>>);

/// 6.1's three searches of a map value (`btf_find_spin_lock`,
/// `btf_find_timer`, `btf_parse_kptrs`): direct members only. Each returns
/// its own verdict, because 6.1's `map_check_btf` treats an error of any as
/// "no such field".
pub fn parse_fields_6_1(btf: &Btf, kernel: &Kernel, value: TypeId) -> Searches61 {
    let lock = find_one_6_1(btf, value, FieldType::SpinLock);
    let timer = find_one_6_1(btf, value, FieldType::Timer);
    let kptrs = kptrs_6_1(btf, kernel, value);
    (lock, timer, kptrs)
}

fn members_6_1(btf: &Btf, value: TypeId) -> Vec<(String, TypeId, u32)> {
    let Some(t) = btf.type_by_id(value) else {
        return Vec::new();
    };
    let kflag = t.kind_flag;
    if let Some(ms) = t.members().filter(|_| is_struct(btf, value)) {
        return ms
            .iter()
            .map(|m| {
                (
                    btf.str_at(m.name_off).unwrap_or("").to_string(),
                    m.ty,
                    m.bit_offset(kflag),
                )
            })
            .collect();
    }
    Vec::new()
}

fn find_one_6_1(btf: &Btf, value: TypeId, ft: FieldType) -> Res<Option<Field>> {
    let (sz, align) = ft.size_align();
    let mut found: Option<Field> = None;
    for (name, ty, bit) in members_6_1(btf, value) {
        if btf.name_of(ty) != ft.name() {
            continue;
        }
        if !bit.is_multiple_of(8) || !(bit / 8).is_multiple_of(align) {
            return Err(Problem::new(
                EINVAL,
                &name,
                bit / 8,
                format!("{} misaligned", ft.name()),
            ));
        }
        let ok = is_struct(btf, ty) && btf.type_by_id(ty).and_then(|t| t.size()) == Some(sz);
        if !ok {
            continue;
        }
        if found.is_some() {
            return Err(Problem::new(
                E2BIG,
                &name,
                bit / 8,
                format!("a second {}", ft.name()),
            ));
        }
        found = Some(Field {
            ty: ft,
            offset: bit / 8,
            size: sz,
            path: name,
            pointee_id: None,
            pointee_name: String::new(),
            pointee: None,
        });
    }
    Ok(found)
}

fn kptrs_6_1(btf: &Btf, kernel: &Kernel, value: TypeId) -> Res<Vec<Field>> {
    let f = Finder {
        btf,
        version: Version::V6_1,
        mask: mask::KPTR,
        seen: 0,
    };
    let mut out = Vec::new();
    for (name, ty, bit) in members_6_1(btf, value) {
        if !bit.is_multiple_of(8) {
            return Err(Problem::new(
                EINVAL,
                &name,
                bit / 8,
                "member at a bit offset (6.1 kptr search)",
            ));
        }
        let off = bit / 8;
        if !off.is_multiple_of(8) {
            return Err(Problem::new(
                EINVAL,
                &name,
                off,
                "member not 8-byte aligned: 6.1's kptr search rejects the whole value",
            ));
        }
        let Some(i) = f.find_kptr(ty, off, &name)? else {
            continue;
        };
        if out.len() >= KPTRS_MAX_6_1 {
            return Err(Problem::new(
                E2BIG,
                &name,
                off,
                format!("more than {KPTRS_MAX_6_1} kptrs"),
            ));
        }
        let mut field = Field {
            ty: i.ty,
            offset: off,
            size: 8,
            path: name.clone(),
            pointee_id: None,
            pointee_name: String::new(),
            pointee: None,
        };
        parse_kptr(btf, kernel, &i, &mut field)?;
        out.push(field);
    }
    Ok(out)
}

/// What `btf_parse_struct_metas` does at `BPF_BTF_LOAD` (6.13+): every
/// struct with a direct member whose type is a kptr type (or one of the
/// allocated-object structs) has its fields parsed; the first failure fails
/// the load. Returns the struct's name with the problem.
pub fn check_struct_metas(btf: &Btf, kernel: &Kernel) -> Result<(), (String, Problem)> {
    if kernel.version == Version::V6_1 {
        return Ok(());
    }
    let mut aof: Vec<TypeId> = Vec::new();
    let index = btf::NameIndex::new(btf);
    for n in [
        "bpf_spin_lock",
        "bpf_list_head",
        "bpf_list_node",
        "bpf_rb_root",
        "bpf_rb_node",
        "bpf_refcount",
    ] {
        if let Some(id) = index.find(btf, n, Kind::Struct) {
            aof.push(id);
        }
    }
    let f = Finder {
        btf,
        version: kernel.version,
        mask: mask::KPTR,
        seen: 0,
    };
    for (id, _) in btf.types() {
        if let Ok(Some(_)) = f.find_kptr(id, 0, "") {
            aof.push(id);
        }
    }
    if aof.is_empty() {
        return Ok(());
    }
    for (id, t) in btf.types() {
        if !is_struct(btf, id) {
            continue;
        }
        let members = t.members().unwrap_or(&[]);
        if !members.iter().any(|m| aof.contains(&m.ty)) {
            continue;
        }
        let size = t.size().unwrap_or(0);
        match parse_fields(btf, kernel, id, mask::STRUCT_META, size) {
            Ok(Some(_)) => {}
            Ok(None) => {
                // A member of a kptr type the search skipped: misaligned.
                let kflag = t.kind_flag;
                let (field, off) = members
                    .iter()
                    .find(|m| aof.contains(&m.ty))
                    .map(|m| {
                        (
                            btf.str_at(m.name_off).unwrap_or("").to_string(),
                            m.bit_offset(kflag) / 8,
                        )
                    })
                    .unwrap_or_default();
                return Err((
                    btf.name_of(id).to_string(),
                    Problem::new(
                        EFAULT,
                        &field,
                        off,
                        "a kptr-typed member the field search skips (not 8-byte aligned): the struct has no special field where the kernel expects one",
                    ),
                ));
            }
            Err(p) => return Err((btf.name_of(id).to_string(), p)),
        }
    }
    Ok(())
}
