//! Reshaping whole BTF: [`distill_base`] (libbpf's `btf__distill_base`: a
//! small base for split BTF, for out-of-tree modules) and [`permute`]
//! (libbpf's `btf__permute`: the own types in another order, every reference
//! renumbered).
//!
//! Invariants of [`distill_base`], which follows libbpf's rules:
//! - the distilled base holds only base types the split BTF reaches through
//!   references that do not pass through a named STRUCT/UNION: INT, FLOAT and
//!   FWD as they are; each named STRUCT/UNION as one of the same name and size
//!   with no members (`kind_flag` clear); each named ENUM/ENUM64 as an ENUM of
//!   the same name and size with no enumerators. Types are added in base id
//!   order, so the result does not depend on the walk;
//! - every other reached base type (ARRAY, TYPEDEF, PTR, CONST, VOLATILE,
//!   RESTRICT, TYPE_TAG, FUNC_PROTO, anonymous STRUCT/UNION/ENUM/ENUM64) is
//!   copied into the new split BTF after its own types, again in base id
//!   order; a reference to any other base kind (FUNC, VAR, DATASEC,
//!   DECL_TAG) is an error naming the id;
//! - the split BTF's own types keep their order; their ids move down by the
//!   number of base ids that went away; references are renumbered;
//! - strings are added in first-use order, deduplicated, split strings found
//!   in the new base are not repeated (libbpf's `btf__add_str`), so the bytes
//!   match libbpf's;
//! - both results have the split BTF's byte order.

use std::collections::HashSet;
use std::sync::Arc;

use crate::btf::Btf;
use crate::builder::Builder;
use crate::error::{Error, Result};
use crate::ids::TypeId;
use crate::kind::Kind;
use crate::types::{Composite, Enum, Type, TypeData};

/// Copies `t` (read in `src`) with its strings re-added to `b`.
fn copy_strings(b: &mut Builder, src: &Btf, t: &Type) -> Result<Type> {
    let mut t = t.clone();
    let mut bad = None;
    t.for_each_str_off_mut(|off| {
        if off.0 == 0 {
            return;
        }
        match src.str_bytes(*off) {
            Some(s) => *off = b.add_str_bytes(s),
            None => bad = Some(off.0),
        }
    });
    match bad {
        Some(o) => Err(Error::new(format!("string offset {o} is out of range"))),
        None => Ok(t),
    }
}

/// Whether the distilled base may refer to a base type of this kind.
fn distillable(k: Kind) -> bool {
    matches!(
        k,
        Kind::Int
            | Kind::Float
            | Kind::Fwd
            | Kind::Array
            | Kind::Struct
            | Kind::Union
            | Kind::Typedef
            | Kind::Enum
            | Kind::Enum64
            | Kind::Ptr
            | Kind::Const
            | Kind::Restrict
            | Kind::Volatile
            | Kind::FuncProto
            | Kind::TypeTag
    )
}

/// Where a reached base type goes.
fn goes_to_base(t: &Type) -> bool {
    match t.kind() {
        Kind::Int | Kind::Float | Kind::Fwd => true,
        Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 => t.name_off.0 != 0,
        _ => false,
    }
}

/// Distills the base of split BTF `split`: returns `(base, split)`, a small
/// base and the split BTF on it (see the module's invariants). Fails when
/// `split` has no base or refers to a base FUNC, VAR, DATASEC or DECL_TAG.
pub fn distill_base(split: &Btf) -> Result<(Arc<Btf>, Btf)> {
    let Some(old_base) = split.base() else {
        return Err(Error::new(
            "distilling a base needs split BTF (it has no base)",
        ));
    };
    let start = split.start_id();
    // map[i] for base id i: 0 not reached, else the new id (i itself while
    // only marked).
    let mut map = vec![0u32; start as usize];
    let mut stack: Vec<TypeId> = Vec::new();
    for (_, t) in split.own_types() {
        t.for_each_type_id(|id| stack.push(id));
        // Reverse so ids are visited in record order (only the error's id
        // depends on it).
        stack.reverse();
        while let Some(id) = stack.pop() {
            if id.0 == 0 || id.0 >= start || map[id.0 as usize] != 0 {
                continue;
            }
            let bt = split.get(id)?;
            if !distillable(bt.kind()) {
                return Err(Error::new(format!(
                    "unexpected reference to base type [{}] of kind {} when distilling base BTF",
                    id.0,
                    bt.kind().name()
                ))
                .with_type(id.0));
            }
            map[id.0 as usize] = id.0;
            if bt.kind().is_composite() && bt.name_off.0 != 0 {
                continue; // named composites keep no members
            }
            let mut next = Vec::new();
            bt.for_each_type_id(|r| next.push(r));
            stack.extend(next.into_iter().rev());
        }
    }

    let mut nb = Builder::new();
    nb.set_endian(split.endian());
    for i in 1..start {
        if map[i as usize] == 0 {
            continue;
        }
        let t = old_base.get(TypeId(i))?;
        if !goes_to_base(t) {
            continue;
        }
        let name = old_base.str_bytes(t.name_off).unwrap_or_default().to_vec();
        let new = match &t.data {
            TypeData::Int(_) | TypeData::Float(_) | TypeData::Fwd => {
                copy_strings(&mut nb, old_base, t)?
            }
            TypeData::Struct(c) | TypeData::Union(c) => {
                let data = Composite {
                    size: c.size,
                    members: Vec::new(),
                };
                let data = if t.kind() == Kind::Struct {
                    TypeData::Struct(data)
                } else {
                    TypeData::Union(data)
                };
                Type::named(nb.add_str_bytes(&name), data)
            }
            TypeData::Enum(Enum { size, .. }) => Type::named(
                nb.add_str_bytes(&name),
                TypeData::Enum(Enum {
                    size: *size,
                    values: Vec::new(),
                }),
            ),
            TypeData::Enum64(e) => Type::named(
                nb.add_str_bytes(&name),
                TypeData::Enum(Enum {
                    size: e.size,
                    values: Vec::new(),
                }),
            ),
            _ => continue,
        };
        map[i as usize] = nb.add_type(new).0;
    }
    let new_base = Arc::new(nb.finish()?);

    let mut sb = Builder::new_split(new_base.clone());
    for (_, t) in split.own_types() {
        let c = copy_strings(&mut sb, split, t)?;
        sb.add_type(c);
    }
    for i in 1..start {
        if map[i as usize] == 0 {
            continue;
        }
        let t = old_base.get(TypeId(i))?;
        if goes_to_base(t) {
            continue;
        }
        let c = copy_strings(&mut sb, old_base, t)?;
        map[i as usize] = sb.add_type(c).0;
    }
    let diff = start - new_base.type_count();
    for t in sb.types_mut() {
        t.for_each_type_id_mut(|id| {
            if id.0 < start {
                id.0 = map[id.0 as usize];
            } else {
                id.0 -= diff;
            }
        });
    }
    Ok((new_base, sb.finish()?))
}

/// The own types of `btf` in a new order: `order[k]` is the old id of the
/// type that gets id `start_id + k`. Every reference is renumbered (base ids
/// and `void` stay); strings are kept as they are. Fails unless `order` names
/// every own id exactly once.
pub fn permute(btf: &Btf, order: &[TypeId]) -> Result<Btf> {
    let start = btf.start_id();
    let n = btf.own_type_count();
    if order.len() != n {
        return Err(Error::new(format!(
            "permutation of {} ids for {n} types",
            order.len()
        )));
    }
    let mut new_of = vec![u32::MAX; n];
    for (k, old) in order.iter().enumerate() {
        let i = old
            .0
            .checked_sub(start)
            .map(|i| i as usize)
            .filter(|&i| i < n);
        let Some(i) = i else {
            return Err(Error::new(format!(
                "permutation names id {}, not an own type",
                old.0
            )));
        };
        if new_of[i] != u32::MAX {
            return Err(Error::new(format!("permutation names id {} twice", old.0)));
        }
        new_of[i] = start + k as u32;
    }
    let own = btf.own_type_slice();
    let mut b = Builder::from_btf(btf);
    let types = b.types_mut();
    for (k, old) in order.iter().enumerate() {
        let mut t = own[(old.0 - start) as usize].clone();
        t.for_each_type_id_mut(|id| {
            if id.0 >= start {
                if let Some(&n) = new_of.get((id.0 - start) as usize) {
                    id.0 = n;
                }
            }
        });
        types[k] = t;
    }
    b.finish()
}

/// Whether type `nid` of `new` (split BTF on a distilled base) describes
/// type `oid` of `orig` (the split BTF it was distilled from, on the full
/// base) once relocated, the way `btf__relocate` matches: a distilled base
/// type by name, kind and size (a memberless ENUM matching an ENUM or ENUM64
/// of its size), every other type field by field with its references
/// followed. For checking [`distill_base`]'s output.
pub fn relocates_to(orig: &Btf, oid: TypeId, new: &Btf, nid: TypeId) -> bool {
    same(orig, oid, new, nid, &mut HashSet::new())
}

/// [`relocates_to`], with the pairs already compared (cycles end there).
fn same(orig: &Btf, oid: TypeId, new: &Btf, nid: TypeId, seen: &mut HashSet<(u32, u32)>) -> bool {
    if oid.0 == 0 || nid.0 == 0 {
        return oid.0 == nid.0;
    }
    if !seen.insert((oid.0, nid.0)) {
        return true;
    }
    let (o, n) = match (orig.type_by_id(oid), new.type_by_id(nid)) {
        (Some(o), Some(n)) => (o, n),
        _ => return false,
    };
    if orig.str_bytes(o.name_off) != new.str_bytes(n.name_off) {
        return false;
    }
    // The rest of the record (sizes, offsets, values) must match: compare
    // with ids and names zeroed.
    let blank = |t: &Type| {
        let mut t = t.clone();
        t.for_each_type_id_mut(|i| i.0 = 0);
        t.for_each_str_off_mut(|s| s.0 = 0);
        t
    };
    if nid.0 < new.start_id() {
        return match (&o.data, &n.data) {
            (TypeData::Struct(a), TypeData::Struct(b))
            | (TypeData::Union(a), TypeData::Union(b)) => {
                a.size == b.size && b.members.is_empty() && !n.kind_flag
            }
            (TypeData::Enum(a), TypeData::Enum(b)) => a.size == b.size && b.values.is_empty(),
            (TypeData::Enum64(a), TypeData::Enum(b)) => a.size == b.size && b.values.is_empty(),
            _ => blank(o) == blank(n),
        };
    }
    if o.kind() != n.kind() || o.kind_flag != n.kind_flag {
        return false;
    }
    let (mut oi, mut ni) = (Vec::new(), Vec::new());
    o.for_each_type_id(|i| oi.push(i));
    n.for_each_type_id(|i| ni.push(i));
    let (mut os, mut ns) = (Vec::new(), Vec::new());
    o.for_each_str_off(|s| os.push(orig.str_bytes(s).map(<[u8]>::to_vec)));
    n.for_each_str_off(|s| ns.push(new.str_bytes(s).map(<[u8]>::to_vec)));
    os == ns
        && blank(o) == blank(n)
        && oi.len() == ni.len()
        && oi
            .iter()
            .zip(&ni)
            .all(|(&a, &b)| same(orig, a, new, b, seen))
}

#[cfg(test)]
mod tests;
