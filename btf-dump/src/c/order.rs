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
//!   would recurse forever in libbpf: here they are followed in a loop whose
//!   length is bounded, other recursion is bounded in depth, and the work
//!   budget stops exponential re-visits of prototype fan-outs.

use btf::TypeData;

use super::{err, Dumper, MAX_CHAIN, ORDERED, ORDERING, R};

impl<'a, 'w> Dumper<'a, 'w> {
    /// Marks every type some other type refers to (libbpf decides by this
    /// whether an anonymous enum is a top-level declaration), and sets the
    /// work budget from the number of records seen: real BTF visits each
    /// record a handful of times; exponential blow-ups on crafted input
    /// (prototypes fanning out to prototypes) exhaust it.
    pub(super) fn mark_referenced(&mut self) {
        let btf = self.btf;
        let mut records: u64 = 0;
        super::for_each_type(btf, &mut |_, t| {
            records += 1;
            match &t.data {
                TypeData::Int(_)
                | TypeData::Enum(_)
                | TypeData::Enum64(_)
                | TypeData::Fwd
                | TypeData::Float(_) => {}
                TypeData::Ptr(to)
                | TypeData::Typedef(to)
                | TypeData::Volatile(to)
                | TypeData::Const(to)
                | TypeData::Restrict(to)
                | TypeData::TypeTag(to) => self.aux(to.0).referenced = true,
                TypeData::Func(f) => self.aux(f.proto.0).referenced = true,
                TypeData::Var(v) => self.aux(v.ty.0).referenced = true,
                TypeData::DeclTag(dt) => self.aux(dt.ty.0).referenced = true,
                TypeData::Array(a) => {
                    self.aux(a.index.0).referenced = true;
                    self.aux(a.elem.0).referenced = true;
                }
                TypeData::Struct(c) | TypeData::Union(c) => {
                    records += c.members.len() as u64;
                    for m in &c.members {
                        self.aux(m.ty.0).referenced = true;
                    }
                }
                // libbpf counts the parameters of a prototype, not its
                // return type.
                TypeData::FuncProto(p) => {
                    records += p.params.len() as u64;
                    for prm in &p.params {
                        self.aux(prm.ty.0).referenced = true;
                    }
                }
                TypeData::Datasec(d) => {
                    records += d.vars.len() as u64;
                    for v in &d.vars {
                        self.aux(v.ty.0).referenced = true;
                    }
                }
            }
        });
        self.budget = records.saturating_mul(64).saturating_add(1 << 22);
    }

    /// Orders type `id`; returns whether the link to it is strong.
    ///
    /// Pointers, arrays and modifiers only pass the visit on (libbpf's tail
    /// calls): they are followed in a loop, not by recursion, so long chains
    /// cost no stack; pointers are marked `ORDERED` once the chain is done.
    pub(super) fn order(&mut self, id: u32, through_ptr: bool, depth: u32) -> R<bool> {
        if depth > self.max_depth {
            return Err(err(id, "type graph nested too deep or looping"));
        }
        let ptrs = self.ptr_chain.len();
        let mut id = id;
        let mut through_ptr = through_ptr;
        let mut steps = 0usize;
        let r = loop {
            self.tick(id)?;
            steps += 1;
            if steps > MAX_CHAIN {
                break Err(err(
                    id,
                    "chain of pointers/arrays/modifiers too long or looping",
                ));
            }
            if self.aux(id).order == ORDERED {
                break Ok(true);
            }
            let Some(t) = self.ty(id) else {
                break Err(err(id, "no such type"));
            };
            match &t.data {
                TypeData::Ptr(to) => {
                    self.ptr_chain.push(id);
                    id = to.0;
                    through_ptr = true;
                }
                TypeData::Array(a) => {
                    id = a.elem.0;
                    through_ptr = false;
                }
                TypeData::Volatile(to)
                | TypeData::Const(to)
                | TypeData::Restrict(to)
                | TypeData::TypeTag(to) => id = to.0,
                _ => break self.order_one(id, t, through_ptr, depth),
            }
        };
        // libbpf marks a pointer ORDERED after its target, even on error.
        for i in ptrs..self.ptr_chain.len() {
            let p = self.ptr_chain[i];
            self.aux(p).order = ORDERED;
        }
        self.ptr_chain.truncate(ptrs);
        r
    }

    /// Orders a type that is not a pointer, array or modifier.
    fn order_one(&mut self, id: u32, t: &'a btf::Type, through_ptr: bool, depth: u32) -> R<bool> {
        let named = !t.name_off.is_empty();
        if self.aux(id).order == ORDERING {
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
            // Pointers, arrays and modifiers are followed by `order`; only
            // a state libbpf never gives them gets here.
            TypeData::Ptr(_)
            | TypeData::Array(_)
            | TypeData::Volatile(_)
            | TypeData::Const(_)
            | TypeData::Restrict(_)
            | TypeData::TypeTag(_) => Err(err(id, "unsatisfiable type cycle")),
        }
    }
}
