//! The newer interface (Linux 6.19+, `scripts/gen-btf.sh`): resolve_btfids
//! reads the ELF and the BTF pahole wrote beside it (`--btf FILE`), leaves the
//! ELF untouched and writes three files the build then links or objcopies in:
//! `<elf>.BTF_ids` (the resolved section), `<elf>.BTF` (the BTF, rewritten)
//! and, with `--distill_base` on split BTF, `<elf>.BTF.base` (a distilled
//! base for out-of-tree modules). `--patch_btfids` puts the first back.
//!
//! The BTF is rewritten before any id is resolved, in upstream's order:
//! 1. kfuncs flagged `KF_IMPLICIT_ARGS` ([`implicit_args`]): for each FUNC
//!    with a `bpf_kfunc` decl tag whose name has a `func` slot and whose set8
//!    entry carries the flag, a FUNC `<name>_impl` with the original prototype
//!    (unless one exists) and the FUNC's other decl tags, and a new
//!    FUNC_PROTO without the parameters from the first implicit one (pointer
//!    to `struct bpf_prog_aux` or `struct btf_struct_meta`) on; the FUNC then
//!    points at it;
//! 2. with `--distill_base` and a base: [`btf::distill::distill_base`];
//! 3. the own types sorted by name ([`sort_by_name`]): anonymous types first,
//!    equal names in id order.
//!
//! Then the ids are resolved against the result, so `<elf>.BTF_ids` and
//! `<elf>.BTF` agree. Every output is computed before the first is written;
//! each is written whole (temp file + rename) or not at all.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use btf::types::{DeclTag, Func, FuncProto, Param, TypeData};
use btf::{Btf, Builder, Kind, NameIndex, TypeId};

use crate::elf::Found;
use crate::symbols::SlotKind;
use crate::{collect, lossy, plan, rd, read_map, Collected, Error, Options, Plan, Sources};

/// The kfunc flag that asks resolve_btfids to hide implicit arguments.
pub const KF_IMPLICIT_ARGS: u32 = 1 << 16;
/// Longest symbol name the kernel takes (`KSYM_NAME_LEN`), NUL included.
pub const KSYM_NAME_LEN: usize = 512;
/// Structs a pointer to which is an implicit kfunc argument.
pub const IMPLICIT_ARG_STRUCTS: [&[u8]; 2] = [b"bpf_prog_aux", b"btf_struct_meta"];

/// One kfunc [`implicit_args`] rewrote.
#[derive(Debug, Clone)]
pub struct Rewritten {
    /// The kfunc's name.
    pub name: String,
    /// The FUNC's id (before sorting).
    pub func: TypeId,
    /// The `<name>_impl` FUNC added, or `None` when one existed.
    pub impl_func: Option<TypeId>,
    /// The new FUNC_PROTO.
    pub proto: TypeId,
}

/// What [`gen`] produced (and, unless `dry`, wrote).
#[derive(Debug)]
pub struct Generated {
    /// The resolved section, when the ELF has `.BTF_ids` and symbols.
    pub plan: Option<Box<Plan>>,
    /// Why there was nothing to resolve, otherwise.
    pub nothing: Option<&'static str>,
    /// The final BTF (written to `<elf>.BTF`).
    pub btf: Box<Btf>,
    /// The distilled base (written to `<elf>.BTF.base`).
    pub base: Option<Arc<Btf>>,
    /// The kfuncs rewritten for `KF_IMPLICIT_ARGS`.
    pub rewritten: Vec<Rewritten>,
    /// The files, in the order written: path and size.
    pub files: Vec<(PathBuf, usize)>,
}

/// The output path `<elf><suffix>`.
pub fn out_path(elf: &Path, suffix: &str) -> PathBuf {
    let mut s = elf.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn is_mod(k: Kind) -> bool {
    matches!(
        k,
        Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag
    )
}

/// Whether a parameter of type `ty` is an implicit kfunc argument.
fn is_implicit_arg(btf: &Btf, ty: TypeId) -> bool {
    let skip = |mut id: TypeId| {
        for _ in 0..btf::MAX_RESOLVE_DEPTH {
            match btf.type_by_id(id) {
                Some(t) if is_mod(t.kind()) => id = t.ref_type().unwrap_or(TypeId(0)),
                _ => return Some(id),
            }
        }
        None
    };
    let Some(p) = skip(ty) else { return false };
    let Some(TypeData::Ptr(to)) = btf.type_by_id(p).map(|t| &t.data) else {
        return false;
    };
    let Some(s) = skip(*to) else { return false };
    match btf.type_by_id(s) {
        Some(t) if t.kind() == Kind::Struct => btf
            .str_bytes(t.name_off)
            .is_some_and(|n| IMPLICIT_ARG_STRUCTS.contains(&n)),
        _ => false,
    }
}

/// The flags word of kfunc `name` as upstream finds it: in the first set8,
/// by name from the largest down, one of whose entries holds one of the
/// name's `func` slots; 0 if none does.
fn kfunc_flags(c: &Collected, section: &[u8], big: bool, name: &[u8]) -> u32 {
    let mut sets: Vec<_> = c.sets.iter().filter(|s| s.set8).collect();
    sets.sort_by(|a, b| b.name.cmp(&a.name));
    for set in sets {
        let (lo, hi) = (set.offset, set.offset + set.count * 8);
        for s in c
            .slots
            .iter()
            .filter(|s| s.kind == SlotKind::Func && s.name == name)
        {
            if lo < s.offset && s.offset <= hi {
                let w = (s.offset / 4 + 1) * 4;
                if w + 4 <= section.len() as u64 {
                    return rd(section, w, big);
                }
                return 0;
            }
        }
    }
    0
}

/// Step 1 of the rewrite (see the module doc): returns the new BTF and what
/// changed. `section` are the `.BTF_ids` bytes the flags are read from.
pub fn implicit_args(
    btf: &Btf,
    c: &Collected,
    section: &[u8],
    big: bool,
) -> Result<(Btf, Vec<Rewritten>), Error> {
    let func_slots: HashSet<&[u8]> = c
        .slots
        .iter()
        .filter(|s| s.kind == SlotKind::Func)
        .map(|s| s.name.as_slice())
        .collect();
    let decl_tags: Vec<TypeId> = btf
        .types()
        .filter(|(_, t)| t.kind() == Kind::DeclTag)
        .map(|(id, _)| id)
        .collect();
    // (func id, name, flags) in decl tag order.
    let mut kfuncs: Vec<(TypeId, Vec<u8>, u32)> = Vec::new();
    for &d in &decl_tags {
        let t = btf.get(d)?;
        let TypeData::DeclTag(tag) = &t.data else {
            continue;
        };
        if t.kind_flag || tag.component_idx != -1 || btf.str_bytes(t.name_off) != Some(b"bpf_kfunc")
        {
            continue;
        }
        let Some(f) = btf.type_by_id(tag.ty).filter(|f| f.kind() == Kind::Func) else {
            continue;
        };
        let Some(name) = btf.str_bytes(f.name_off) else {
            continue;
        };
        if !func_slots.contains(name) {
            continue;
        }
        let flags = kfunc_flags(c, section, big, name);
        kfuncs.push((tag.ty, name.to_vec(), flags));
    }
    let mut out = Vec::new();
    if !kfuncs.iter().any(|k| k.2 & KF_IMPLICIT_ARGS != 0) {
        return Ok((btf.clone(), out));
    }
    let mut funcs: HashSet<Vec<u8>> = btf
        .types()
        .filter(|(_, t)| t.kind() == Kind::Func)
        .filter_map(|(_, t)| btf.str_bytes(t.name_off).map(<[u8]>::to_vec))
        .collect();
    let start = btf.start_id();
    let mut b = Builder::from_btf(btf);
    for (func_id, name, flags) in kfuncs {
        if flags & KF_IMPLICIT_ARGS == 0 {
            continue;
        }
        let kname = lossy(&name);
        // The FUNC as it is now (an earlier duplicate may have changed it).
        let cur = |b: &Builder, id: TypeId| {
            if id.0 >= start {
                b.types().get((id.0 - start) as usize).cloned()
            } else {
                btf.type_by_id(id).cloned()
            }
        };
        let Some(TypeData::Func(func)) = cur(&b, func_id).map(|t| t.data) else {
            return Err(Error::new(format!(
                "btf id {} is not a function",
                func_id.0
            )));
        };
        let Some(TypeData::FuncProto(proto)) = cur(&b, func.proto).map(|t| t.data) else {
            return Err(Error::new(format!(
                "btf id {} is not a function prototype",
                func.proto.0
            )));
        };
        let mut impl_name = name.clone();
        impl_name.extend_from_slice(b"_impl");
        if impl_name.len() >= KSYM_NAME_LEN {
            return Err(Error::new(format!(
                "function name is too long: {}_impl",
                kname
            )));
        }
        let mut impl_func = None;
        if !funcs.contains(&impl_name) {
            let off = b.add_str_bytes(&impl_name);
            let id = b.add_type(btf::Type::named(
                off,
                TypeData::Func(Func {
                    proto: func.proto,
                    linkage: func.linkage,
                }),
            ));
            for &d in &decl_tags {
                let t = btf.get(d)?;
                let TypeData::DeclTag(tag) = &t.data else {
                    continue;
                };
                let tag_name = btf.str_bytes(t.name_off).unwrap_or_default();
                if tag.ty != func_id || tag_name == b"bpf_kfunc" {
                    continue;
                }
                let off = b.add_str_bytes(tag_name);
                b.add_type(btf::Type {
                    name_off: off,
                    kind_flag: t.kind_flag,
                    data: TypeData::DeclTag(DeclTag {
                        ty: id,
                        component_idx: tag.component_idx,
                    }),
                });
            }
            funcs.insert(impl_name);
            impl_func = Some(id);
        }
        let mut params = Vec::new();
        for p in &proto.params {
            if is_implicit_arg(btf, p.ty) {
                break;
            }
            let n = btf.str_bytes(p.name_off).unwrap_or_default();
            params.push(Param {
                name_off: b.add_str_bytes(n),
                ty: p.ty,
            });
        }
        let new_proto = b.add_type(btf::Type::new(TypeData::FuncProto(FuncProto {
            ret: proto.ret,
            params,
        })));
        if func_id.0 >= start {
            if let Some(t) = b.types_mut().get_mut((func_id.0 - start) as usize) {
                t.data = TypeData::Func(Func {
                    proto: new_proto,
                    linkage: func.linkage,
                });
            }
        }
        out.push(Rewritten {
            name: kname,
            func: func_id,
            impl_func,
            proto: new_proto,
        });
    }
    Ok((b.finish()?, out))
}

/// Step 3: the own types sorted by name (bytewise, as `strcmp`), anonymous
/// ones first, equal names in id order; references renumbered.
pub fn sort_by_name(btf: &Btf) -> Result<Btf, Error> {
    let mut order: Vec<(TypeId, &[u8])> = btf
        .own_types()
        .map(|(id, t)| (id, btf.str_bytes(t.name_off).unwrap_or_default()))
        .collect();
    order.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(&b.0)));
    let ids: Vec<TypeId> = order.into_iter().map(|(id, _)| id).collect();
    Ok(btf::distill::permute(btf, &ids)?)
}

/// What [`gen`] does besides resolving.
#[derive(Debug, Clone, Default)]
pub struct GenOptions {
    /// `--distill_base`: with a base, write `<elf>.BTF.base`.
    pub distill_base: bool,
    /// Compute everything, write nothing.
    pub dry: bool,
}

/// The newer resolve_btfids run on `path` (see the module doc).
pub fn gen(path: &Path, src: &Sources, opts: &Options, g: &GenOptions) -> Result<Generated, Error> {
    let map = read_map(path)?;
    let data: &[u8] = &map;
    let at = |e: Error| Error::new(format!("{}: {e}", path.display()));
    let found = crate::elf::read(data).map_err(Error::from).map_err(at)?;
    let btf = crate::load_btf(path, data, src)?;
    let (sec, collected, section): (_, Collected, &[u8]) = match &found {
        Found::Ids(sec) => {
            let (off, size) = (sec.file_offset as usize, sec.size as usize);
            (
                Some(sec.clone()),
                collect(sec).map_err(at)?,
                &data[off..off + size],
            )
        }
        Found::Nothing(_) => (None, Collected::default(), &[]),
    };
    let big = sec.as_ref().is_some_and(|s| s.big_endian);
    let (btf, rewritten) = implicit_args(&btf, &collected, section, big).map_err(at)?;
    let (base, btf) = match (g.distill_base, btf.base().is_some()) {
        (true, true) => {
            let (b, s) = btf::distill::distill_base(&btf)
                .map_err(|e| at(Error::new(format!("FAILED to distill base BTF: {e}"))))?;
            (Some(b), s)
        }
        _ => (None, btf),
    };
    let btf = sort_by_name(&btf).map_err(at)?;
    let plan = match sec {
        Some(sec) => {
            let index = NameIndex::new(&btf);
            Some(Box::new(
                plan(sec, section, &btf, &index, opts).map_err(at)?,
            ))
        }
        None => None,
    };
    let mut outputs: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    if let Some(p) = &plan {
        outputs.push((out_path(path, ".BTF_ids"), p.bytes.clone()));
    }
    outputs.push((out_path(path, ".BTF"), btf.to_bytes()));
    if let Some(b) = &base {
        outputs.push((out_path(path, ".BTF.base"), b.to_bytes()));
    }
    let files = outputs.iter().map(|(p, b)| (p.clone(), b.len())).collect();
    if !g.dry {
        for (p, bytes) in &outputs {
            crate::write::write_file(p, bytes)?;
        }
    }
    Ok(Generated {
        plan,
        nothing: match found {
            Found::Nothing(why) => Some(why),
            Found::Ids(_) => None,
        },
        btf: Box::new(btf),
        base,
        rewritten,
        files,
    })
}

/// Which interface a run follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interface {
    /// Decide from the arguments (see [`Interface::pick`]).
    #[default]
    Auto,
    /// Linux 6.1..6.18: patch the ELF's `.BTF_ids` in place.
    Elf,
    /// Linux 6.19+: write `<elf>.BTF_ids`, `<elf>.BTF` (and `<elf>.BTF.base`).
    Files,
}

impl Interface {
    /// `Auto` resolved: `Files` when `--distill_base` is given, or when the
    /// `--btf` file is `<elf>.BTF.1` (the newer gen-btf.sh always runs
    /// `resolve_btfids --btf <elf>.BTF.1 <elf>`; the 6.1..6.18 scripts run it
    /// on an ELF with `.BTF`, and 6.12's selftests pass `--btf` with another
    /// name and expect the ELF patched).
    pub fn pick(self, elf: &Path, btf: Option<&Path>, distill: bool) -> Interface {
        match self {
            Interface::Auto if distill => Interface::Files,
            Interface::Auto if btf.is_some_and(|b| b == out_path(elf, ".BTF.1")) => {
                Interface::Files
            }
            Interface::Auto => Interface::Elf,
            other => other,
        }
    }
}
