//! kfunc calls, the parts BTF decides: struct id matching
//! (`btf_struct_ids_match`), a call site's arguments against the kfunc's
//! prototype and set8 flags, and program context types.
//!
//! Register tracking is the verifier's job: the caller describes what each
//! argument register holds ([`Arg`]).

use btf::{Btf, Kind, TypeData, TypeId};

use crate::btf_ids::KF_FLAGS;
use crate::kernel::Kernel;

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

/// `btf_struct_ids_match`: does a pointer to `id` at byte offset `off` pass
/// for a pointer to `need`? Strict (release arguments): only `off == 0` and
/// the same type. Non-strict: also a struct member (through arrays) starting
/// exactly at `off`, then that member's first members at offset 0, recursively.
pub fn struct_ids_match(btf: &Btf, id: TypeId, off: u32, need: TypeId, strict: bool) -> bool {
    let mut id = btf.skip_mods(id, true);
    let need = btf.skip_mods(need, true);
    if off == 0 && id == need {
        return true;
    }
    if strict {
        return false;
    }
    let mut off = off;
    for _ in 0..btf::MAX_RESOLVE_DEPTH {
        let Some(next) = walk_struct(btf, id, off) else {
            return false;
        };
        if next == need {
            return true;
        }
        id = next;
        off = 0;
    }
    false
}

/// `btf_struct_walk` for a one-byte access at `off`: the struct member that
/// starts exactly there (`WALK_STRUCT`), descending into members containing
/// `off` on the way.
fn walk_struct(btf: &Btf, id: TypeId, mut off: u32) -> Option<TypeId> {
    let mut t = btf.skip_mods(id, true);
    for _ in 0..btf::MAX_RESOLVE_DEPTH {
        let ty = btf.type_by_id(t)?;
        let kflag = ty.kind_flag;
        let members = ty.members()?;
        let mut next = None;
        for m in members {
            let bit = m.bit_offset(kflag);
            if !bit.is_multiple_of(8) {
                continue;
            }
            let moff = bit / 8;
            let mut mid = btf.skip_mods(m.ty, true);
            let size = btf.resolve_size(mid, 8).ok()? as u32;
            if off < moff || off >= moff.saturating_add(size.max(1)) {
                continue;
            }
            let mut rel = off - moff;
            while let Some(TypeData::Array(a)) = btf.type_by_id(mid).map(|x| &x.data) {
                let esz = btf.resolve_size(a.elem, 8).ok()? as u32;
                if esz == 0 {
                    break;
                }
                rel %= esz;
                mid = btf.skip_mods(a.elem, true);
            }
            if btf.is_kind(mid, Kind::Struct) || btf.is_kind(mid, Kind::Union) {
                if rel == 0 {
                    return Some(mid);
                }
                next = Some((mid, rel));
                break;
            }
            return None;
        }
        let (n, r) = next?;
        t = n;
        off = r;
    }
    None
}

/// What an argument register holds at the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A scalar.
    Scalar,
    /// `NULL` (a known-zero scalar).
    Null,
    /// `PTR_TO_BTF_ID` of kernel type `ty` at byte offset `off`; `referenced`:
    /// the register holds an acquired reference (`ref_obj_id`).
    BtfId {
        /// The pointee's id in the kernel's BTF.
        ty: TypeId,
        /// The byte offset from the object's start.
        off: u32,
        /// Whether it is an acquired reference.
        referenced: bool,
    },
    /// `PTR_TO_MEM` (stack, map value) of `size` bytes.
    Mem {
        /// Bytes accessible.
        size: u32,
    },
    /// `PTR_TO_CTX`.
    Ctx,
}

/// Why a call is rejected: the argument (0-based) and the verifier's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgProblem {
    /// The argument index (`arg#N`; register `R{N+1}`).
    pub arg: usize,
    /// The message.
    pub message: String,
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

/// Checks a call of kfunc `name` with set8 `flags` and argument registers
/// `args` against its prototype (the verifier's `check_kfunc_args`, the parts
/// BTF decides): the argument count; scalars for scalar parameters; for a
/// pointer to a struct, a `PTR_TO_BTF_ID` matching by [`struct_ids_match`]
/// (strict for the referenced argument of a `KF_RELEASE` kfunc, which must
/// also have offset 0), or `NULL` nowhere; memory with a size for `void *` or
/// scalar pointers; a `KF_RELEASE` kfunc needs exactly one referenced argument.
pub fn check_kfunc_call(
    kernel: &Kernel,
    name: &str,
    flags: u32,
    args: &[Arg],
) -> Result<(), ArgProblem> {
    let btf = &*kernel.btf;
    let bad = |arg: usize, message: String| Err(ArgProblem { arg, message });
    let Some(fid) = find_kfunc(kernel, name) else {
        return bad(
            0,
            format!("kernel function {name} is not in the kernel's BTF"),
        );
    };
    let Some(TypeData::Func(f)) = btf.type_by_id(fid).map(|t| &t.data) else {
        return bad(0, format!("{name} is not a FUNC"));
    };
    let Some(TypeData::FuncProto(p)) = btf.type_by_id(f.proto).map(|t| &t.data) else {
        return bad(0, format!("{name}: no prototype"));
    };
    if p.params.len() != args.len() {
        return bad(
            0,
            format!(
                "kernel function {name} takes {} arguments, the call passes {}",
                p.params.len(),
                args.len()
            ),
        );
    }
    let release = flags & KF_RELEASE != 0;
    let mut ref_args = 0;
    for (i, (param, arg)) in p.params.iter().zip(args).enumerate() {
        let reg = i + 1;
        let pt = btf.skip_mods(param.ty, true);
        let is_ptr = matches!(btf.type_by_id(pt).map(|t| &t.data), Some(TypeData::Ptr(_)));
        if !is_ptr {
            if !matches!(arg, Arg::Scalar | Arg::Null) {
                return bad(i, format!("R{reg} is not a scalar"));
            }
            continue;
        }
        let Some(TypeData::Ptr(to)) = btf.type_by_id(pt).map(|t| &t.data) else {
            continue;
        };
        let target = btf.skip_mods(*to, true);
        let tname = btf.name_of(target).to_string();
        let to_struct = btf.is_kind(target, Kind::Struct);
        match *arg {
            Arg::BtfId {
                ty,
                off,
                referenced,
            } if to_struct => {
                if referenced {
                    ref_args += 1;
                }
                let strict = release && referenced;
                if strict && off != 0 {
                    return bad(
                        i,
                        format!("R{reg} must have zero offset when passed to release func or trusted arg to kfunc"),
                    );
                }
                if !struct_ids_match(btf, ty, off, target, strict) {
                    return bad(
                        i,
                        format!(
                            "kernel function {name} args#{i} expected pointer to STRUCT {tname} but R{reg} has a pointer to STRUCT {}",
                            btf.name_of(btf.skip_mods(ty, true))
                        ),
                    );
                }
            }
            Arg::Ctx if to_struct => {}
            Arg::Null if to_struct => {
                return bad(i, format!("Possibly NULL pointer passed to trusted arg{i}"));
            }
            _ if to_struct => {
                return bad(
                    i,
                    format!("kernel function {name} args#{i} expected pointer to STRUCT {tname}"),
                );
            }
            Arg::Mem { .. } | Arg::Ctx => {}
            Arg::BtfId { referenced, .. } => {
                if referenced {
                    ref_args += 1;
                }
            }
            Arg::Null => {}
            Arg::Scalar => {
                return bad(
                    i,
                    format!("arg#{i} pointer type expected, R{reg} is a scalar"),
                )
            }
        }
    }
    if release && ref_args == 0 {
        return bad(
            0,
            format!("release kernel function {name} expects refcounted PTR_TO_BTF_ID"),
        );
    }
    if ref_args > 1 && release {
        return bad(
            0,
            "verifier internal error: more than one arg with ref_obj_id".to_string(),
        );
    }
    Ok(())
}

/// The context types of a program type (`BPF_PROG_TYPE_XDP` or `xdp`), from
/// the kernel's `struct bpf_ctx_convert`: (the program's view, the kernel's).
/// An EXT program (`BPF_PROG_TYPE_EXT`) takes its target's: pass the target's type.
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
