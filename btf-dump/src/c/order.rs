//! The ordering pass: which named definitions must be printed, and in which
//! order, so that each is complete where C needs it complete.
//!
//! Invariants (those of libbpf's `btf_dump_order_type`):
//! - only defining kinds (struct, union, enum, fwd, typedef) are queued, each
//!   at most once: queuing is followed by marking the type `ORDERED`, and an
//!   `ORDERED` type returns at once;
//! - a struct/union is `ORDERING` while its members are visited; meeting it
//!   again then is a loop, harmless only for a named composite reached
//!   through a pointer (a forward declaration breaks it), else an error;
//! - the result says whether the link from the caller is strong (the target
//!   must be fully defined first) or weak (a forward declaration suffices):
//!   named composites and typedefs reached through a pointer are weak;
//! - pointers, arrays, modifiers and prototypes carry no state of their own
//!   (pointers are marked `ORDERED` afterwards), so a loop made of them only
//!   would recurse forever in libbpf: here the depth bound reports it, and the
//!   work budget stops exponential re-visits of prototype fan-outs.

use btf::TypeData;

use super::{err, Dumper, MAX_DEPTH, ORDERED, ORDERING, R};

impl<'a, 'w> Dumper<'a, 'w> {
    /// Marks every type some other type refers to (libbpf decides by this
    /// whether an anonymous enum is a top-level declaration).
    pub(super) fn mark_referenced(&mut self) {
        let btf = self.btf;
        for (_, t) in btf.types() {
            match &t.data {
                TypeData::Int(_)
                | TypeData::Enum(_)
                | TypeData::Enum64(_)
                | TypeData::Fwd
                | TypeData::Float(_) => {}
                // libbpf counts the parameters of a prototype, not its
                // return type.
                TypeData::FuncProto(p) => {
                    for prm in &p.params {
                        self.aux(prm.ty.0).referenced = true;
                    }
                }
                _ => t.for_each_type_id(|r| self.aux(r.0).referenced = true),
            }
        }
    }

    /// Orders type `id`; returns whether the link to it is strong.
    pub(super) fn order(&mut self, id: u32, through_ptr: bool, depth: u32) -> R<bool> {
        self.tick(id)?;
        if depth > MAX_DEPTH {
            return Err(err(id, "type chain too deep or looping"));
        }
        let state = self.aux(id).order;
        if state == ORDERED {
            return Ok(true);
        }
        let Some(t) = self.ty(id) else {
            return Err(err(id, "no such type"));
        };
        let named = !t.name_off.is_empty();
        if state == ORDERING {
            if t.kind().is_composite() && through_ptr && named {
                return Ok(false);
            }
            return Err(err(id, "unsatisfiable type cycle"));
        }
        let d = depth + 1;
        match &t.data {
            TypeData::Int(_) | TypeData::Float(_) => {
                self.aux(id).order = ORDERED;
                Ok(false)
            }
            TypeData::Ptr(to) => {
                let r = self.order(to.0, true, d);
                self.aux(id).order = ORDERED;
                r
            }
            TypeData::Array(a) => self.order(a.elem.0, false, d),
            TypeData::Struct(c) | TypeData::Union(c) => {
                if through_ptr && named {
                    return Ok(false);
                }
                self.aux(id).order = ORDERING;
                for m in &c.members {
                    self.order(m.ty.0, false, d)?;
                }
                if named {
                    self.queue.push(id);
                }
                self.aux(id).order = ORDERED;
                Ok(true)
            }
            TypeData::Enum(_) | TypeData::Enum64(_) | TypeData::Fwd => {
                // Named or unreferenced: a top-level declaration of its own.
                if named || !self.aux(id).referenced {
                    self.queue.push(id);
                }
                self.aux(id).order = ORDERED;
                Ok(true)
            }
            TypeData::Typedef(to) => {
                let strong = self.order(to.0, through_ptr, d)?;
                if through_ptr && !strong {
                    return Ok(false);
                }
                self.queue.push(id);
                self.aux(id).order = ORDERED;
                Ok(true)
            }
            TypeData::Volatile(to)
            | TypeData::Const(to)
            | TypeData::Restrict(to)
            | TypeData::TypeTag(to) => self.order(to.0, through_ptr, d),
            TypeData::FuncProto(p) => {
                let mut strong = self.order(p.ret.0, through_ptr, d)?;
                for prm in &p.params {
                    if self.order(prm.ty.0, through_ptr, d)? {
                        strong = true;
                    }
                }
                Ok(strong)
            }
            TypeData::Func(_) | TypeData::Var(_) | TypeData::Datasec(_) | TypeData::DeclTag(_) => {
                self.aux(id).order = ORDERED;
                Ok(false)
            }
        }
    }
}
