//! kfunc calls, the parts BTF decides: struct id matching
//! (`btf_struct_ids_match`), a call site's arguments against the kfunc's
//! prototype and flags ([`check_kfunc_call`], [`check_call`] with the
//! program type's kfunc sets from [`crate::progs`]), `bpf_kptr_xchg` into a
//! map value ([`check_kptr_xchg`]), a global function's context argument
//! ([`check_global_ctx_arg`]) and program context types ([`ctx_types`]).
//!
//! Register tracking is the verifier's job: the caller describes what each
//! argument register holds ([`Arg`]). The rules follow the kernel's
//! [`Version`]: 6.18 (`check_kfunc_args` of 6.12+: release arguments are
//! trusted, `KF_RCU`, `KF_TRUSTED_ARGS` takes trusted or referenced pointers)
//! and 6.1 (`btf_check_func_arg_match`: `KF_TRUSTED_ARGS` needs referenced
//! pointers, `KF_KPTR_GET`).

use btf::{Btf, Kind, TypeData, TypeId};

use crate::btf_ids::KF_FLAGS;
use crate::fields::{FieldType, Pointee, Record};
use crate::kernel::{Kernel, Version};
use crate::progs::{kfunc_flags_for, NotAllowed, Prog};

/// `KF_ACQUIRE`.
pub const KF_ACQUIRE: u32 = 1 << 0;
/// `KF_RELEASE`.
pub const KF_RELEASE: u32 = 1 << 1;
/// `KF_RET_NULL`.
pub const KF_RET_NULL: u32 = 1 << 2;
/// `KF_KPTR_GET` (5.19–6.1).
pub const KF_KPTR_GET: u32 = 1 << 3;
/// `KF_TRUSTED_ARGS`.
pub const KF_TRUSTED_ARGS: u32 = 1 << 4;
/// `KF_RCU` (6.2+).
pub const KF_RCU: u32 = 1 << 7;

/// `btf_struct_ids_match`: does a pointer to `id` at byte offset `off` pass
/// for a pointer to `need`? Strict (release arguments): only `off == 0` and
/// the same type. Non-strict: also a struct member (through arrays) starting
/// exactly at `off`, then that member's first members at offset 0, recursively.
pub fn struct_ids_match(btf: &Btf, id: TypeId, off: u32, need: TypeId, strict: bool) -> bool {
    struct_ids_match_log(btf, id, off, need, strict).0
}

/// [`struct_ids_match`] with the line the kernel's `btf_struct_walk` logs
/// when the walk stops at a pointer member (`cannot access ptr member ...`).
pub fn struct_ids_match_log(
    btf: &Btf,
    id: TypeId,
    off: u32,
    need: TypeId,
    strict: bool,
) -> (bool, Option<String>) {
    let mut id = btf.skip_mods(id, true);
    let need = btf.skip_mods(need, true);
    if off == 0 && id == need {
        return (true, None);
    }
    if strict {
        return (false, None);
    }
    let mut off = off;
    for _ in 0..btf::MAX_RESOLVE_DEPTH {
        let next = match walk_struct(btf, id, off) {
            Walk::Struct(n) => n,
            Walk::Other => return (false, None),
            Walk::Pointer(msg) => return (false, Some(msg)),
        };
        if next == need {
            return (true, None);
        }
        id = next;
        off = 0;
    }
    (false, None)
}

/// Where a one-byte walk at an offset ends.
enum Walk {
    /// A struct member starts exactly there.
    Struct(TypeId),
    /// A pointer member holds it: the kernel's log line.
    Pointer(String),
    /// A scalar, a hole, or past the end.
    Other,
}

/// `btf_struct_walk` for a one-byte access at `off`: the struct member that
/// starts exactly there (`WALK_STRUCT`), descending into members containing
/// `off` on the way.
fn walk_struct(btf: &Btf, id: TypeId, mut off: u32) -> Walk {
    let mut t = btf.skip_mods(id, true);
    for _ in 0..btf::MAX_RESOLVE_DEPTH {
        let Some(ty) = btf.type_by_id(t) else {
            return Walk::Other;
        };
        let kflag = ty.kind_flag;
        let Some(members) = ty.members() else {
            return Walk::Other;
        };
        let mut next = None;
        for m in members {
            let bit = m.bit_offset(kflag);
            if !bit.is_multiple_of(8) {
                continue;
            }
            let moff = bit / 8;
            let mut mid = btf.skip_mods(m.ty, true);
            let Ok(size) = btf.resolve_size(mid, 8) else {
                return Walk::Other;
            };
            let size = size as u32;
            if off < moff || off >= moff.saturating_add(size.max(1)) {
                continue;
            }
            let mut rel = off - moff;
            while let Some(TypeData::Array(a)) = btf.type_by_id(mid).map(|x| &x.data) {
                let Ok(esz) = btf.resolve_size(a.elem, 8) else {
                    return Walk::Other;
                };
                let esz = esz as u32;
                if esz == 0 {
                    break;
                }
                rel %= esz;
                mid = btf.skip_mods(a.elem, true);
            }
            if btf.is_kind(mid, Kind::Struct) || btf.is_kind(mid, Kind::Union) {
                if rel == 0 {
                    return Walk::Struct(mid);
                }
                next = Some((mid, rel));
                break;
            }
            if btf.is_kind(mid, Kind::Ptr) {
                return Walk::Pointer(format!(
                    "cannot access ptr member {} with moff {moff} in struct {} with off {off} size 1",
                    btf.str_at(m.name_off).unwrap_or(""),
                    btf.name_of(t)
                ));
            }
            return Walk::Other;
        }
        let Some((n, r)) = next else {
            return Walk::Other;
        };
        t = n;
        off = r;
    }
    Walk::Other
}

/// How far the verifier trusts a `PTR_TO_BTF_ID` register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trust {
    /// Walked from another pointer or read from an unreferenced kptr
    /// (`PTR_UNTRUSTED`, or no flag).
    Untrusted,
    /// `MEM_RCU`: a `__rcu` field read inside an RCU section (6.2+).
    Rcu,
    /// `PTR_TRUSTED`: a tracing program's argument, `bpf_get_current_task_btf()`.
    Trusted,
    /// An acquired reference (`ref_obj_id`): from a `KF_ACQUIRE` kfunc or
    /// `bpf_kptr_xchg`.
    Referenced,
}

/// A referenced or unreferenced kptr field of a map value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapKptr {
    /// A referenced kptr (`kptr`; 6.1: `kptr_ref`).
    pub referenced: bool,
    /// The pointee's id in the kernel's BTF.
    pub pointee: TypeId,
}

/// What an argument register holds at the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A scalar.
    Scalar,
    /// `NULL` (a known-zero scalar).
    Null,
    /// `PTR_TO_BTF_ID` of kernel type `ty` at byte offset `off`.
    BtfId {
        /// The pointee's id in the kernel's BTF.
        ty: TypeId,
        /// The byte offset from the object's start.
        off: u32,
        /// How far the verifier trusts it.
        trust: Trust,
    },
    /// `PTR_TO_MEM` (stack, map value used as memory) of `size` bytes.
    Mem {
        /// Bytes accessible.
        size: u32,
    },
    /// `PTR_TO_CTX`.
    Ctx,
    /// `PTR_TO_MAP_VALUE` at constant offset `off`, with the kptr field that
    /// starts there (see [`Arg::map_value`]).
    MapValue {
        /// The byte offset in the value.
        off: u32,
        /// The kptr field at `off`, if any.
        kptr: Option<MapKptr>,
        /// Whether the map's value has kptr fields at all.
        any_kptr: bool,
    },
}

impl Arg {
    /// A referenced `PTR_TO_BTF_ID` at offset 0.
    pub fn referenced(ty: TypeId) -> Arg {
        Arg::BtfId {
            ty,
            off: 0,
            trust: Trust::Referenced,
        }
    }

    /// A trusted (unreferenced) `PTR_TO_BTF_ID` at offset 0.
    pub fn trusted(ty: TypeId) -> Arg {
        Arg::BtfId {
            ty,
            off: 0,
            trust: Trust::Trusted,
        }
    }

    /// An RCU `PTR_TO_BTF_ID` at offset 0.
    pub fn rcu(ty: TypeId) -> Arg {
        Arg::BtfId {
            ty,
            off: 0,
            trust: Trust::Rcu,
        }
    }

    /// An untrusted `PTR_TO_BTF_ID` at offset 0.
    pub fn untrusted(ty: TypeId) -> Arg {
        Arg::BtfId {
            ty,
            off: 0,
            trust: Trust::Untrusted,
        }
    }

    /// The same pointer `off` bytes further (`&p->member`).
    pub fn at(self, off: u32) -> Arg {
        match self {
            Arg::BtfId { ty, trust, .. } => Arg::BtfId { ty, off, trust },
            a => a,
        }
    }

    /// A pointer into a map value at `off`, whose special fields are `record`
    /// (as [`crate::check_map_value`] found them).
    pub fn map_value(record: &Record, off: u32) -> Arg {
        let is_kptr = |t: FieldType| matches!(t, FieldType::KptrRef | FieldType::KptrUnref);
        let kptr = record
            .fields
            .iter()
            .find(|f| f.offset == off && is_kptr(f.ty))
            .and_then(|f| match f.pointee {
                Some(Pointee::Kernel { id, .. }) => Some(MapKptr {
                    referenced: f.ty == FieldType::KptrRef,
                    pointee: id,
                }),
                _ => None,
            });
        Arg::MapValue {
            off,
            kptr,
            any_kptr: record.fields.iter().any(|f| is_kptr(f.ty)),
        }
    }
}

/// Why a call is rejected: the argument (0-based; `None` when the call as a
/// whole is) and the verifier's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgProblem {
    /// The argument index (`arg#N`; register `R{N+1}`).
    pub arg: Option<usize>,
    /// The message, as the verifier log's error line words it.
    pub message: String,
}

impl std::fmt::Display for ArgProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The flag names of a set8 flags word.
pub fn flags_text(flags: u32) -> String {
    let v: Vec<&str> = KF_FLAGS
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| *n)
        .collect();
    v.join("|")
}

/// The kfunc's prototype in the kernel's BTF: its FUNC id by name.
pub fn find_kfunc(kernel: &Kernel, name: &str) -> Option<TypeId> {
    kernel.find(name, Kind::Func)
}

fn bad<T>(arg: Option<usize>, message: String) -> Result<T, ArgProblem> {
    Err(ArgProblem { arg, message })
}

/// `btf_type_str`: the kind's name as the verifier prints it.
fn kind_str(btf: &Btf, id: TypeId) -> &'static str {
    if id.is_void() {
        return "VOID";
    }
    match btf.type_by_id(id).map(|t| &t.data) {
        None => "UNKN",
        Some(d) => match d {
            TypeData::Int(_) => "INT",
            TypeData::Ptr(_) => "PTR",
            TypeData::Array(_) => "ARRAY",
            TypeData::Struct(_) => "STRUCT",
            TypeData::Union(_) => "UNION",
            TypeData::Enum(_) => "ENUM",
            TypeData::Fwd => "FWD",
            TypeData::Typedef(_) => "TYPEDEF",
            TypeData::Volatile(_) => "VOLATILE",
            TypeData::Const(_) => "CONST",
            TypeData::Restrict(_) => "RESTRICT",
            TypeData::Func(_) => "FUNC",
            TypeData::FuncProto(_) => "FUNC_PROTO",
            TypeData::Var(_) => "VAR",
            TypeData::Datasec(_) => "DATASEC",
            TypeData::Float(_) => "FLOAT",
            TypeData::DeclTag(_) => "DECL_TAG",
            TypeData::TypeTag(_) => "TYPE_TAG",
            TypeData::Enum64(_) => "ENUM64",
        },
    }
}

/// `reg_type_str`, for the argument kinds [`Arg`] models.
fn reg_type_str(btf: &Btf, arg: &Arg) -> String {
    match arg {
        Arg::Scalar | Arg::Null => "scalar".to_string(),
        Arg::BtfId { ty, trust, .. } => {
            let n = btf.name_of(btf.skip_mods(*ty, true));
            match trust {
                Trust::Untrusted => format!("untrusted_ptr_{n}"),
                Trust::Rcu => format!("rcu_ptr_{n}"),
                Trust::Trusted => format!("trusted_ptr_{n}"),
                Trust::Referenced => format!("ptr_{n}"),
            }
        }
        Arg::Mem { .. } => "mem".to_string(),
        Arg::Ctx => "ctx".to_string(),
        Arg::MapValue { .. } => "map_value".to_string(),
    }
}

/// `__btf_type_is_scalar_struct`: a scalar, or a struct of scalars, arrays of
/// them and such structs (recursively, at most 3 deep).
fn is_scalar_or_scalar_struct(btf: &Btf, id: TypeId, depth: u32) -> bool {
    let id = btf.skip_mods(id, true);
    match btf.type_by_id(id).map(|t| &t.data) {
        Some(TypeData::Int(_) | TypeData::Enum(_) | TypeData::Enum64(_) | TypeData::Float(_)) => {
            true
        }
        Some(TypeData::Struct(s)) => {
            if depth >= 4 {
                return false;
            }
            s.members.iter().all(|m| {
                let mut t = btf.skip_mods(m.ty, true);
                while let Some(TypeData::Array(a)) = btf.type_by_id(t).map(|x| &x.data) {
                    t = btf.skip_mods(a.elem, true);
                }
                match btf.type_by_id(t).map(|x| &x.data) {
                    Some(TypeData::Struct(_)) => is_scalar_or_scalar_struct(btf, t, depth + 1),
                    Some(
                        TypeData::Int(_)
                        | TypeData::Enum(_)
                        | TypeData::Enum64(_)
                        | TypeData::Float(_),
                    ) => true,
                    _ => false,
                }
            })
        }
        _ => false,
    }
}

/// `btf_is_projection_of`: a kfunc taking the program view (`__sk_buff`,
/// `xdp_md`) accepts the kernel's type (`sk_buff`, `xdp_buff`).
fn is_projection_of(pname: &str, tname: &str) -> bool {
    matches!(
        (pname, tname),
        ("__sk_buff", "sk_buff") | ("xdp_md", "xdp_buff")
    )
}

/// Whether pointer parameter type `param` (a PTR in `btf`) is the program's
/// context (`btf_is_prog_ctx_type`): its struct is the program view of the
/// (resolved) program type's context.
fn is_ctx_param(kernel: &Kernel, btf: &Btf, param: TypeId, prog: &Prog) -> bool {
    let Some(TypeData::Ptr(to)) = btf.type_by_id(btf.skip_mods(param, true)).map(|t| &t.data)
    else {
        return false;
    };
    let name = btf.name_of(btf.skip_mods(*to, true)).to_string();
    let Some((view, _)) = ctx_types_for(kernel, prog) else {
        return false;
    };
    !name.is_empty() && kernel.btf.name_of(view) == name
}

/// Checks a call of kfunc `name` with `KF_*` `flags` (given, not looked up)
/// and argument registers `args` against its prototype: [`check_kfunc_args`]
/// for a program of type `UNSPEC` (no parameter is taken for its context).
pub fn check_kfunc_call(
    kernel: &Kernel,
    name: &str,
    flags: u32,
    args: &[Arg],
) -> Result<(), ArgProblem> {
    check_kfunc_args(
        kernel,
        &Prog::new(crate::progs::ProgType::Unspec),
        name,
        flags,
        args,
    )
}

/// A call site a program makes: may it call `name` (the version's kfunc
/// sets for the program's resolved type, see [`crate::progs`]), and do the
/// arguments pass ([`check_kfunc_args`] with the set's flags)? Returns the
/// kfunc's flags.
pub fn check_call(
    kernel: &Kernel,
    prog: &Prog,
    name: &str,
    args: &[Arg],
) -> Result<u32, ArgProblem> {
    if find_kfunc(kernel, name).is_none() {
        return bad(
            None,
            format!("kernel function {name} is not in the kernel's BTF"),
        );
    }
    let flags = match kfunc_flags_for(kernel.version, prog, name) {
        Ok(f) => f,
        Err(NotAllowed::NeedsDevBound) => {
            return bad(
                None,
                "metadata kfuncs require device-bound program".to_string(),
            )
        }
        Err(NotAllowed::NotInHook | NotAllowed::Unknown) => {
            return bad(
                None,
                format!("calling kernel function {name} is not allowed"),
            )
        }
    };
    check_kfunc_args(kernel, prog, name, flags, args)?;
    Ok(flags)
}

/// The verifier's argument checks of a kfunc call (6.18: `check_kfunc_args`;
/// 6.1: `btf_check_func_arg_match`), the parts BTF and the argument kinds
/// decide, in the verifier's order so the first problem is the one its log
/// names.
pub fn check_kfunc_args(
    kernel: &Kernel,
    prog: &Prog,
    name: &str,
    flags: u32,
    args: &[Arg],
) -> Result<(), ArgProblem> {
    let btf = &*kernel.btf;
    let Some(fid) = find_kfunc(kernel, name) else {
        return bad(
            None,
            format!("kernel function {name} is not in the kernel's BTF"),
        );
    };
    let Some(TypeData::Func(f)) = btf.type_by_id(fid).map(|t| &t.data) else {
        return bad(None, format!("{name} is not a FUNC"));
    };
    let Some(TypeData::FuncProto(p)) = btf.type_by_id(f.proto).map(|t| &t.data) else {
        return bad(None, format!("{name}: no prototype"));
    };
    if p.params.len() != args.len() {
        return bad(
            None,
            format!(
                "kernel function {name} takes {} arguments, the call passes {}",
                p.params.len(),
                args.len()
            ),
        );
    }
    let v61 = kernel.version == Version::V6_1;
    let release = flags & KF_RELEASE != 0;
    let rcu = !v61 && flags & KF_RCU != 0;
    let trusted = flags & KF_TRUSTED_ARGS != 0 || (!v61 && release);
    let kptr_get = v61 && flags & KF_KPTR_GET != 0;
    let mut ref_args = 0;
    let mut released = false;
    for (i, (param, arg)) in p.params.iter().zip(args).enumerate() {
        let reg = i + 1;
        let at = Some(i);
        let pt = btf.skip_mods(param.ty, true);
        let to = match btf.type_by_id(pt).map(|t| &t.data) {
            Some(TypeData::Ptr(to)) => *to,
            _ => {
                if !matches!(arg, Arg::Scalar | Arg::Null) {
                    return bad(at, format!("R{reg} is not a scalar"));
                }
                continue;
            }
        };
        let target = btf.skip_mods(to, true);
        let tname = btf.name_of(target).to_string();
        let tkind = kind_str(btf, target);
        let referenced = matches!(
            arg,
            Arg::BtfId {
                trust: Trust::Referenced,
                ..
            }
        );
        let obj = matches!(arg, Arg::BtfId { .. } | Arg::Ctx);
        if v61 {
            if trusted && obj && !matches!(arg, Arg::Ctx) && !referenced {
                return bad(at, format!("R{reg} must be referenced"));
            }
            if let Arg::BtfId { off, .. } = arg {
                if *off != 0 && ((trusted && obj) || (release && referenced)) {
                    return bad(
                        at,
                        format!("R{reg} must have zero offset when passed to release func"),
                    );
                }
            }
            if referenced {
                ref_args += 1;
                if ref_args > 1 {
                    return bad(
                        at,
                        format!(
                            "verifier internal error: more than one arg with ref_obj_id R{reg}"
                        ),
                    );
                }
                released |= release;
            }
            if i == 0 && kptr_get {
                let Arg::MapValue { off, kptr, .. } = arg else {
                    return bad(at, "arg#0 expected pointer to map value".to_string());
                };
                let Some(k) = kptr.filter(|k| k.referenced) else {
                    return bad(
                        at,
                        format!("arg#0 no referenced kptr at map value offset={off}"),
                    );
                };
                let Some(TypeData::Ptr(inner)) = btf.type_by_id(target).map(|t| &t.data) else {
                    return bad(at, "arg#0 BTF type must be a double pointer".to_string());
                };
                let inner = btf.skip_mods(*inner, true);
                let (iname, ikind) = (btf.name_of(inner).to_string(), kind_str(btf, inner));
                if !btf.is_kind(inner, Kind::Struct) {
                    return bad(at, format!("kernel function {name} args#{i} pointer type {ikind} {iname} is not supported"));
                }
                if !struct_ids_match(btf, inner, 0, k.pointee, true) {
                    return bad(
                        at,
                        format!(
                            "kernel function {name} args#{i} expected pointer to {ikind} {iname}"
                        ),
                    );
                }
                continue;
            }
        } else {
            if (trusted || rcu) && matches!(arg, Arg::Null) {
                return bad(
                    at,
                    format!("Possibly NULL pointer passed to trusted arg{i}"),
                );
            }
            if referenced {
                if release && released {
                    return bad(
                        at,
                        format!(
                            "verifier internal error: more than one arg with ref_obj_id R{reg}"
                        ),
                    );
                }
                ref_args += 1;
                released |= release;
            }
        }
        if is_ctx_param(kernel, btf, param.ty, prog) {
            if !matches!(arg, Arg::Ctx) {
                let got = if v61 {
                    "PTR".to_string()
                } else {
                    reg_type_str(btf, arg)
                };
                return bad(
                    at,
                    format!("arg#{i} expected pointer to ctx, but got {got}"),
                );
            }
            continue;
        }
        match *arg {
            Arg::BtfId { ty, off, trust } => {
                if !btf.is_kind(target, Kind::Struct) {
                    return bad(at, format!("kernel function {name} args#{i} pointer type {tkind} {tname} is not supported"));
                }
                if !v61 {
                    if (trusted || rcu) && trust < Trust::Trusted {
                        if !rcu {
                            return bad(at, format!("R{reg} must be referenced or trusted"));
                        }
                        if trust != Trust::Rcu {
                            return bad(at, format!("R{reg} must be a rcu pointer"));
                        }
                    }
                    if release && referenced && off != 0 {
                        return bad(at, format!("R{reg} must have zero offset when passed to release func or trusted arg to kfunc"));
                    }
                }
                let strict = (release && referenced) || (v61 && trusted);
                let rt = btf.skip_mods(ty, true);
                let rname = btf.name_of(rt).to_string();
                let (same, walk) = struct_ids_match_log(btf, ty, off, target, strict);
                if !same && (v61 || !is_projection_of(&tname, &rname)) {
                    let walk = walk.map(|w| w + "\n").unwrap_or_default();
                    return bad(
                        at,
                        format!(
                            "{walk}kernel function {name} args#{i} expected pointer to {tkind} {tname} but R{reg} has a pointer to {} {rname}",
                            kind_str(btf, rt)
                        ),
                    );
                }
            }
            Arg::Ctx => {
                // A context pointer where a kernel struct is expected: the
                // verifier's reg2btf_ids (e.g. __sk_buff → sk_buff).
                if !btf.is_kind(target, Kind::Struct) {
                    return bad(at, format!("kernel function {name} args#{i} pointer type {tkind} {tname} is not supported"));
                }
            }
            Arg::Null | Arg::Mem { .. } | Arg::MapValue { .. } | Arg::Scalar => {
                let void = target.is_void();
                let mem_size = p.params.get(i + 1).is_some_and(|n| {
                    let pn = btf.str_at(n.name_off).unwrap_or("");
                    pn.ends_with("__sz") || pn.ends_with("__szk")
                });
                if !(is_scalar_or_scalar_struct(btf, target, 0) || (mem_size && void)) {
                    return bad(
                        at,
                        format!(
                            "arg#{i} pointer type {tkind} {tname} must point to {}scalar, or struct with scalar",
                            if mem_size { "void, " } else { "" }
                        ),
                    );
                }
                if matches!(arg, Arg::Null | Arg::Scalar) {
                    return bad(
                        at,
                        format!("R{reg} type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem"),
                    );
                }
            }
        }
    }
    if release && !released {
        return bad(
            None,
            format!("release kernel function {name} expects refcounted PTR_TO_BTF_ID"),
        );
    }
    Ok(())
}

/// `bpf_kptr_xchg(dst, new)` (6.18 rules): `dst` must point at a referenced
/// kptr field of a map value; `new` is `NULL` or a referenced pointer to the
/// kptr's struct (matched non-strictly, as the helper does).
pub fn check_kptr_xchg(kernel: &Kernel, dst: &Arg, new: &Arg) -> Result<(), ArgProblem> {
    let btf = &*kernel.btf;
    let Arg::MapValue {
        off,
        kptr,
        any_kptr,
    } = *dst
    else {
        return bad(
            Some(0),
            format!("R1 type={} expected=map_value", reg_type_str(btf, dst)),
        );
    };
    if !any_kptr {
        return bad(Some(0), "R1 has no valid kptr".to_string());
    }
    let Some(k) = kptr else {
        return bad(Some(0), format!("off={off} doesn't point to kptr"));
    };
    if !k.referenced {
        return bad(Some(0), format!("off={off} kptr isn't referenced kptr"));
    }
    match *new {
        Arg::Null => Ok(()),
        Arg::BtfId { ty, off, trust } => {
            let want = btf.name_of(btf.skip_mods(k.pointee, true)).to_string();
            let have = btf.name_of(btf.skip_mods(ty, true)).to_string();
            if !struct_ids_match(btf, ty, off, k.pointee, false) {
                return bad(
                    Some(1),
                    format!("invalid kptr access, R2 type=ptr_{have} expected=ptr_{want}"),
                );
            }
            if trust != Trust::Referenced {
                return bad(
                    Some(1),
                    "R2 must be referenced when passed to release function".to_string(),
                );
            }
            Ok(())
        }
        _ => bad(
            Some(1),
            format!(
                "R2 type={} expected=ptr_, trusted_ptr_, rcu_ptr_",
                reg_type_str(btf, new)
            ),
        ),
    }
}

/// A global (BTF-checked) function's pointer argument `argno` whose pointee
/// struct is named `pointee` (in the program's BTF), passed `arg`: a
/// pointer to the program's context struct (for an EXT program, its
/// target's) takes the context; any other struct pointer is memory, which
/// the context is not (`R1 type=ctx expected=fp`).
pub fn check_global_ctx_arg(
    kernel: &Kernel,
    prog: &Prog,
    func: &str,
    argno: usize,
    pointee: &str,
    arg: &Arg,
) -> Result<(), ArgProblem> {
    let reg = argno + 1;
    let ctx_name = ctx_types_for(kernel, prog)
        .map(|(v, _)| kernel.btf.name_of(v).to_string())
        .unwrap_or_default();
    let is_ctx = !pointee.is_empty() && pointee == ctx_name;
    match (is_ctx, arg) {
        (true, Arg::Ctx) | (false, Arg::Mem { .. } | Arg::MapValue { .. }) => Ok(()),
        (true, a) => bad(
            Some(argno),
            format!(
                "arg#{argno} expected pointer to ctx, but got {} (in {func}())",
                reg_type_str(&kernel.btf, a)
            ),
        ),
        (false, a) => bad(
            Some(argno),
            format!(
                "R{reg} type={} expected=fp: arg#{argno} of {func}() points to struct {pointee}, not the {} context struct {ctx_name}",
                reg_type_str(&kernel.btf, a),
                prog.resolved()
            ),
        ),
    }
}

/// The context types of a program type (`BPF_PROG_TYPE_XDP` or `xdp`), from
/// the kernel's `struct bpf_ctx_convert`: (the program's view, the kernel's).
/// An EXT program (`BPF_PROG_TYPE_EXT`) takes its target's: pass the
/// target's type, or use [`ctx_types_for`].
pub fn ctx_types(kernel: &Kernel, prog_type: &str) -> Option<(TypeId, TypeId)> {
    let btf = &*kernel.btf;
    let full = if prog_type.starts_with("BPF_PROG_TYPE_") {
        prog_type.to_string()
    } else {
        format!("BPF_PROG_TYPE_{}", prog_type.to_ascii_uppercase())
    };
    let conv = kernel.find("bpf_ctx_convert", Kind::Struct)?;
    let members = btf.type_by_id(conv)?.members()?;
    let find = |suffix: &str| {
        let want = format!("{full}{suffix}");
        members
            .iter()
            .find(|m| btf.str_at(m.name_off) == Some(want.as_str()))
            .map(|m| btf.skip_mods(m.ty, true))
    };
    Some((find("_prog")?, find("_kern")?))
}

/// [`ctx_types`] of a program: an EXT program's are its target's.
pub fn ctx_types_for(kernel: &Kernel, prog: &Prog) -> Option<(TypeId, TypeId)> {
    ctx_types(kernel, &format!("{}", prog.resolved()))
}
