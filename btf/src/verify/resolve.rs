//! The second pass: every type's references resolved (the kernel's
//! `btf_check_all_types`, `btf_resolve` and the kinds' `resolve`,
//! `check_member` and `check_kflag_member` operations, `btf_func_proto_check`
//! and `btf_func_check`).
//!
//! Invariants of the resolve machine (as in the kernel):
//! - a type is pushed at most once per verification (its state goes
//!   NOT_VISITED → VISITED → RESOLVED and never back), so the number of
//!   steps is bounded by twice the number of types: every step pushes, pops
//!   or fails;
//! - the stack holds at most 32 vertices; a 33rd push fails with E2BIG
//!   ("Exceeded max resolving depth"), pushing a VISITED type fails with
//!   EEXIST ("Loop detected");
//! - when a type is popped, its resolved id (the first type with a size, or
//!   the referenced type) and resolved size (arrays) are recorded.

use super::env::*;
use super::msg as m;

impl Env<'_> {
    fn idx(&self, id: u32) -> Option<usize> {
        id.checked_sub(self.start_id).map(|i| i as usize)
    }

    /// `env_type_is_resolve_sink`: where resolving stops, given the mode.
    fn is_sink(&self, next: &Rec) -> bool {
        match self.mode {
            Mode::Tbd => !next.needs_resolve(),
            Mode::Ptr => !next.is_modifier_or_typedef() && !next.is_kind(K_PTR),
            Mode::StructOrArray => {
                !next.is_modifier_or_typedef() && !next.is_kind(K_ARRAY) && !next.is_struct()
            }
        }
    }

    /// `env_type_is_resolved`: base types always are.
    pub(crate) fn is_resolved(&self, id: u32) -> bool {
        match self.idx(id) {
            None => true,
            Some(i) => self.visit.get(i) == Some(&RESOLVED),
        }
    }

    /// `env_stack_push`.
    fn push(&mut self, t: Rec, id: u32) -> Res {
        if self.stack.len() as u32 == MAX_RESOLVE_DEPTH {
            return Err(E2BIG);
        }
        let i = match self.idx(id) {
            Some(i) if self.visit.get(i) == Some(&NOT_VISITED) => i,
            _ => return Err(EEXIST),
        };
        self.visit[i] = VISITED;
        self.stack.push(Vertex {
            t,
            id,
            next_member: 0,
        });
        if self.mode == Mode::Tbd {
            if t.is_kind(K_PTR) {
                self.mode = Mode::Ptr;
            } else if t.is_struct() || t.is_kind(K_ARRAY) {
                self.mode = Mode::StructOrArray;
            }
        }
        Ok(())
    }

    fn set_next_member(&mut self, n: u32) {
        if let Some(v) = self.stack.last_mut() {
            v.next_member = n;
        }
    }

    /// `env_stack_pop_resolved`.
    fn pop_resolved(&mut self, rid: u32, rsize: u32) {
        if let Some(v) = self.stack.pop() {
            if let Some(i) = self.idx(v.id) {
                if let (Some(a), Some(b), Some(c)) = (
                    self.rids.get_mut(i),
                    self.rsizes.get_mut(i),
                    self.visit.get_mut(i),
                ) {
                    *a = rid;
                    *b = rsize;
                    *c = RESOLVED;
                }
            }
        }
    }

    fn resolved_id(&self, id: u32) -> u32 {
        self.idx(id)
            .and_then(|i| self.rids.get(i).copied())
            .unwrap_or(0)
    }

    fn resolved_size(&self, id: u32) -> u32 {
        self.idx(id)
            .and_then(|i| self.rsizes.get(i).copied())
            .unwrap_or(0)
    }

    /// `btf_type_id_resolve`.
    fn id_resolve(&self, id: u32) -> (u32, Option<Rec>) {
        let r = self.resolved_id(id);
        (r, self.ty(r))
    }

    /// `btf_type_id_size`: the first type with a size reached from `id`
    /// (through a modifier's or VAR's resolved id), its id and its size.
    pub(crate) fn type_id_size(&self, id: u32) -> Option<(Rec, u32, u32)> {
        let t = self.ty(id)?;
        if t.nosize() {
            return None;
        }
        if t.has_size() {
            return Some((t, id, t.st));
        }
        if t.is_kind(K_ARRAY) {
            return Some((t, id, self.resolved_size(id)));
        }
        if t.is_kind(K_PTR) {
            return Some((t, id, 8));
        }
        if !t.is_modifier_or_typedef() && !t.is_kind(K_VAR) {
            return None;
        }
        let id2 = self.resolved_id(id);
        let t2 = self.ty(id2)?;
        if t2.nosize() {
            None
        } else if t2.has_size() {
            Some((t2, id2, t2.st))
        } else if t2.is_kind(K_ARRAY) {
            Some((t2, id2, self.resolved_size(id2)))
        } else if t2.is_kind(K_PTR) {
            Some((t2, id2, 8))
        } else {
            None
        }
    }

    /// `btf_check_all_types`: resolves every type that needs it and checks
    /// every FUNC_PROTO.
    pub fn check_all_types(&mut self) -> Res {
        let n = self.recs.len();
        self.visit = vec![NOT_VISITED; n];
        self.rids = vec![0; n];
        self.rsizes = vec![0; n];
        self.phase_types = true;
        let first = if self.base.is_some() { 0 } else { 1 };
        for i in first..n {
            let id = self.start_id + i as u32;
            let t = self.recs[i];
            self.log_type_id = id;
            if t.needs_resolve() && !self.is_resolved(id) {
                self.resolve(t, id)?;
            }
            if t.is_kind(K_FUNC_PROTO) {
                self.func_proto_check(&t)?;
            }
        }
        Ok(())
    }

    /// `btf_resolve`: runs the resolve machine from one type.
    fn resolve(&mut self, t: Rec, id: u32) -> Res {
        let saved = self.log_type_id;
        self.mode = Mode::Tbd;
        let _ = self.push(t, id);
        let mut err = Ok(());
        while err.is_ok() {
            let Some(v) = self.stack.last().copied() else {
                break;
            };
            self.log_type_id = v.id;
            err = self.resolve_step(v);
        }
        self.log_type_id = id;
        match err {
            Err(E2BIG) => self.log_type(
                &t,
                format_args!("{}{}", m::EXCEEDED_MAX_RESOLVING_DEPTH, MAX_RESOLVE_DEPTH),
            ),
            Err(EEXIST) => self.log_type(&t, format_args!("{}", m::LOOP_DETECTED)),
            _ => {}
        }
        if err.is_ok() && !self.resolve_valid(&t, id) {
            self.log_type(&t, format_args!("{}", m::INVALID_RESOLVE_STATE));
            err = Err(EINVAL);
        }
        self.log_type_id = saved;
        err
    }

    /// `btf_resolve_valid`: the final sanity check of a resolved type.
    fn resolve_valid(&self, t: &Rec, id: u32) -> bool {
        if !self.is_resolved(id) {
            return false;
        }
        let (rid, rsize) = (self.resolved_id(id), self.resolved_size(id));
        if t.is_struct() || t.is_kind(K_DATASEC) {
            return rid == 0 && rsize == 0;
        }
        if t.is_kind(K_DECL_TAG) || t.is_kind(K_FUNC) {
            return rid != 0 && rsize == 0;
        }
        if t.is_modifier_or_typedef() || t.is_kind(K_PTR) || t.is_kind(K_VAR) {
            let (_, t2) = self.id_resolve(id);
            return t2.is_some_and(|t2| {
                !t2.is_modifier_or_typedef() && !t2.is_kind(K_VAR) && !t2.is_kind(K_DATASEC)
            });
        }
        if t.is_kind(K_ARRAY) {
            let elem = self.w(t.extra());
            let n = self.w(t.extra() + 8);
            return self.type_id_size(elem).is_some_and(|(et, _, es)| {
                !et.is_modifier_or_typedef() && n.wrapping_mul(es) == rsize
            });
        }
        false
    }

    fn resolve_step(&mut self, v: Vertex) -> Res {
        match v.t.kind() {
            K_TYPEDEF | K_VOLATILE | K_CONST | K_RESTRICT | K_TYPE_TAG => {
                self.ref_resolve(v, RefKind::Modifier)
            }
            K_PTR => self.ref_resolve(v, RefKind::Ptr),
            K_VAR => self.ref_resolve(v, RefKind::Var),
            K_ARRAY => self.array_resolve(v),
            K_STRUCT | K_UNION => self.struct_resolve(v),
            K_DATASEC => self.datasec_resolve(v),
            K_FUNC => {
                self.func_check(&v.t)?;
                self.pop_resolved(v.t.st, 0);
                Ok(())
            }
            K_DECL_TAG => self.decl_tag_resolve(v),
            _ => {
                self.log_basic(&v.t, format_args!("{}", m::UNSUPPORTED_RESOLVE));
                Err(EINVAL)
            }
        }
    }

    /// `btf_modifier_resolve`, `btf_ptr_resolve` and `btf_var_resolve`: the
    /// referenced type must exist and not be a VAR/DATASEC/DECL_TAG; it is
    /// resolved first when needed; a modifier or pointer may end in void,
    /// FWD or FUNC_PROTO, a VAR must end in a type with a size.
    fn ref_resolve(&mut self, v: Vertex, kind: RefKind) -> Res {
        let t = v.t;
        let mut next_id = t.st;
        let next = match self.ty(next_id) {
            Some(n) if !n.source_only() => n,
            _ => {
                self.log_type(&t, format_args!("{}", m::INVALID_TYPE_ID));
                return Err(EINVAL);
            }
        };
        if !self.is_sink(&next) && !self.is_resolved(next_id) {
            return self.push(next, next_id);
        }
        if kind != RefKind::Modifier && next.is_modifier_or_typedef() {
            // A modifier resolved while resolving a struct or array may have
            // stopped at a pointer: continue from that pointer.
            let (rid, rt) = self.id_resolve(next_id);
            if let Some(rt) = rt {
                if rt.is_kind(K_PTR) && !self.is_sink(&rt) && !self.is_resolved(rid) {
                    return self.push(rt, rid);
                }
            }
        }
        match self.type_id_size(next_id) {
            Some((_, id2, _)) => next_id = id2,
            None => {
                if kind == RefKind::Var {
                    self.log_type(&t, format_args!("{}", m::INVALID_TYPE_ID));
                    return Err(EINVAL);
                }
                let mut n = Some(next);
                if self.is_resolved(next_id) {
                    let (rid, rt) = self.id_resolve(next_id);
                    next_id = rid;
                    n = rt;
                }
                let ok =
                    n.is_some_and(|n| n.is_void() || n.is_kind(K_FWD) || n.is_kind(K_FUNC_PROTO));
                if !ok {
                    self.log_type(&t, format_args!("{}", m::INVALID_TYPE_ID));
                    return Err(EINVAL);
                }
            }
        }
        self.pop_resolved(next_id, 0);
        Ok(())
    }

    /// `btf_array_resolve`: the index must be a regular INT (through
    /// modifiers), the element a type with a size and not a bitfield-like
    /// INT, and the total size must fit 32 bits.
    fn array_resolve(&mut self, v: Vertex) -> Res {
        let t = v.t;
        let o = t.extra();
        let (elem_id0, index_id0, nelems) = (self.w(o), self.w(o + 4), self.w(o + 8));

        let index = self.ty(index_id0);
        let index = match index {
            Some(i) if !i.nosize() && !i.source_only() => i,
            _ => {
                self.log_type(&t, format_args!("{}", m::INVALID_INDEX));
                return Err(EINVAL);
            }
        };
        if !self.is_sink(&index) && !self.is_resolved(index_id0) {
            return self.push(index, index_id0);
        }
        match self.type_id_size(index_id0) {
            Some((it, _, _)) if it.is_kind(K_INT) && self.int_is_regular(&it) => {}
            _ => {
                self.log_type(&t, format_args!("{}", m::INVALID_INDEX));
                return Err(EINVAL);
            }
        }

        let elem = match self.ty(elem_id0) {
            Some(e) if !e.nosize() && !e.source_only() => e,
            _ => {
                self.log_type(&t, format_args!("{}", m::INVALID_ELEM));
                return Err(EINVAL);
            }
        };
        if !self.is_sink(&elem) && !self.is_resolved(elem_id0) {
            return self.push(elem, elem_id0);
        }
        let Some((et, elem_id, esize)) = self.type_id_size(elem_id0) else {
            self.log_type(&t, format_args!("{}", m::INVALID_ELEM));
            return Err(EINVAL);
        };
        if et.is_kind(K_INT) && !self.int_is_regular(&et) {
            self.log_type(&t, format_args!("{}", m::INVALID_ARRAY_OF_INT));
            return Err(EINVAL);
        }
        if nelems != 0 && esize > u32::MAX / nelems {
            self.log_type(&t, format_args!("{}", m::ARRAY_SIZE_OVERFLOWS));
            return Err(EINVAL);
        }
        self.pop_resolved(elem_id, esize.wrapping_mul(nelems));
        Ok(())
    }

    /// `btf_type_int_is_regular`: whole bytes (1, 2, 4, 8 or 16), offset 0.
    pub(crate) fn int_is_regular(&self, t: &Rec) -> bool {
        let d = self.w(t.extra());
        let bits = d & 0xff;
        let bytes = bits.div_ceil(8);
        bits.is_multiple_of(8) && (d >> 16) & 0xff == 0 && matches!(bytes, 1 | 2 | 4 | 8 | 16)
    }

    /// `btf_struct_resolve`: resolves members in order (resuming after the
    /// member whose type was pushed) and checks each against the struct.
    fn struct_resolve(&mut self, v: Vertex) -> Res {
        let t = v.t;
        if v.next_member > 0 {
            let last = self.member(&t, v.next_member - 1);
            if !self.is_resolved(last.ty) {
                return Err(EINVAL);
            }
            let lt = self.ty(last.ty).unwrap_or(Rec::VOID);
            self.check_member_any(&t, &last, &lt)?;
        }
        for i in v.next_member..t.vlen() {
            let mb = self.member(&t, i);
            let mt = match self.ty(mb.ty) {
                Some(x) if !x.nosize() && !x.source_only() => x,
                _ => {
                    self.log_member(&t, &mb, Some(format_args!("{}", m::INVALID_MEMBER)));
                    return Err(EINVAL);
                }
            };
            if !self.is_sink(&mt) && !self.is_resolved(mb.ty) {
                self.set_next_member(i + 1);
                return self.push(mt, mb.ty);
            }
            self.check_member_any(&t, &mb, &mt)?;
        }
        self.pop_resolved(0, 0);
        Ok(())
    }

    /// `btf_datasec_resolve`: every entry must be a VAR whose type has a size
    /// no larger than the entry.
    fn datasec_resolve(&mut self, v: Vertex) -> Res {
        let t = v.t;
        self.mode = Mode::Tbd;
        for i in v.next_member..t.vlen() {
            let vs = self.vsi(&t, i);
            let vt = match self.ty(vs.ty) {
                Some(x) if x.is_kind(K_VAR) => x,
                _ => {
                    self.log_vsi(&t, &vs, Some(format_args!("{}", m::NOT_A_VAR_KIND_MEMBER)));
                    return Err(EINVAL);
                }
            };
            if !self.is_sink(&vt) && !self.is_resolved(vs.ty) {
                self.set_next_member(i + 1);
                return self.push(vt, vs.ty);
            }
            let Some((_, _, size)) = self.type_id_size(vt.st) else {
                self.log_vsi(&t, &vs, Some(format_args!("{}", m::INVALID_TYPE)));
                return Err(EINVAL);
            };
            if vs.size < size {
                self.log_vsi(&t, &vs, Some(format_args!("{}", m::INVALID_SIZE)));
                return Err(EINVAL);
            }
        }
        self.pop_resolved(0, 0);
        Ok(())
    }

    /// `btf_decl_tag_resolve`: the target must be a FUNC, STRUCT, UNION, VAR
    /// or TYPEDEF; a component index must name a member or parameter.
    fn decl_tag_resolve(&mut self, v: Vertex) -> Res {
        let t = v.t;
        let next_id = t.st;
        let next = match self.ty(next_id) {
            Some(n)
                if n.is_kind(K_FUNC)
                    || n.is_struct()
                    || n.is_kind(K_VAR)
                    || n.is_kind(K_TYPEDEF) =>
            {
                n
            }
            _ => {
                self.log_type(&t, format_args!("{}", m::INVALID_TYPE_ID));
                return Err(EINVAL);
            }
        };
        if !self.is_sink(&next) && !self.is_resolved(next_id) {
            return self.push(next, next_id);
        }
        let idx = self.w(t.extra()) as i32;
        if idx != -1 {
            if next.is_kind(K_VAR) || next.is_kind(K_TYPEDEF) {
                self.log_type(&t, format_args!("{}", m::INVALID_COMPONENT_IDX));
                return Err(EINVAL);
            }
            let vlen = if next.is_struct() {
                next.vlen()
            } else {
                self.ty(next.st).map_or(0, |p| p.vlen())
            };
            if idx as u32 >= vlen {
                self.log_type(&t, format_args!("{}", m::INVALID_COMPONENT_IDX));
                return Err(EINVAL);
            }
        }
        self.pop_resolved(next_id, 0);
        Ok(())
    }

    /// `btf_func_check`: a FUNC must point at a FUNC_PROTO whose parameters
    /// all have names (a vararg excepted).
    fn func_check(&mut self, t: &Rec) -> Res {
        let proto = match self.ty(t.st) {
            Some(p) if p.is_kind(K_FUNC_PROTO) => p,
            _ => {
                self.log_type(t, format_args!("{}", m::INVALID_TYPE_ID));
                return Err(EINVAL);
            }
        };
        for i in 0..proto.vlen() {
            let (name, ty) = self.param(&proto, i);
            if name == 0 && ty != 0 {
                self.log_type(t, format_args!("{}{}", m::INVALID_ARG, i + 1));
                return Err(EINVAL);
            }
        }
        Ok(())
    }

    /// `btf_func_proto_check`: the return type is void or has a size; every
    /// parameter (a last vararg excepted, which must be anonymous) exists,
    /// is not a VAR/DATASEC/DECL_TAG, has a valid optional identifier name
    /// and a type with a size.
    fn func_proto_check(&mut self, t: &Rec) -> Res {
        if t.st != 0 {
            let ret_id = t.st;
            let ret = match self.ty(ret_id) {
                Some(r) if !r.source_only() => r,
                _ => {
                    self.log_type(t, format_args!("{}", m::INVALID_RETURN_TYPE));
                    return Err(EINVAL);
                }
            };
            if ret.needs_resolve() && !self.is_resolved(ret_id) {
                self.resolve(ret, ret_id)?;
            }
            if self.type_id_size(ret_id).is_none() {
                self.log_type(t, format_args!("{}", m::INVALID_RETURN_TYPE));
                return Err(EINVAL);
            }
        }
        let mut n = t.vlen();
        if n == 0 {
            return Ok(());
        }
        let (last_name, last_ty) = self.param(t, n - 1);
        if last_ty == 0 {
            if last_name != 0 {
                self.log_type(t, format_args!("{}{}", m::INVALID_ARG, n));
                return Err(EINVAL);
            }
            n -= 1;
        }
        for i in 0..n {
            let (name, ty) = self.param(t, i);
            let bad = |e: &mut Self| {
                e.log_type(t, format_args!("{}{}", m::INVALID_ARG, i + 1));
                Err(EINVAL)
            };
            let at = match self.ty(ty) {
                Some(a) if !a.source_only() => a,
                _ => return bad(self),
            };
            if name != 0 && (!self.name_offset_valid(name) || !self.name_valid_identifier(name)) {
                return bad(self);
            }
            if at.needs_resolve() && !self.is_resolved(ty) {
                self.resolve(at, ty)?;
            }
            if self.type_id_size(ty).is_none() {
                return bad(self);
            }
        }
        Ok(())
    }

    // --- member checks ---

    fn check_member_any(&mut self, st: &Rec, mb: &Member, mt: &Rec) -> Res {
        if st.kflag() {
            self.check_kflag_member(st, mb, mt)
        } else {
            self.check_member(st, mb, mt)
        }
    }

    /// The kinds' `check_member` (struct without kind_flag).
    fn check_member(&mut self, st: &Rec, mb: &Member, mt: &Rec) -> Res {
        if mt.is_void() {
            return self.unsupported(st, m::UNSUPPORTED_CHECK_MEMBER);
        }
        match mt.kind() {
            K_INT => self.int_check_member(st, mb, mt),
            K_PTR => self.sized_check_member(st, mb, 8),
            K_ARRAY => {
                let size = self.type_id_size(mb.ty).map_or(0, |x| x.2);
                self.sized_check_member(st, mb, size)
            }
            K_STRUCT | K_UNION | K_ENUM | K_ENUM64 => self.sized_check_member(st, mb, mt.st),
            K_TYPEDEF | K_VOLATILE | K_CONST | K_RESTRICT | K_TYPE_TAG => {
                self.modifier_check_member(st, mb, false)
            }
            K_FLOAT => self.float_check_member(st, mb, mt),
            _ => self.unsupported(st, m::UNSUPPORTED_CHECK_MEMBER),
        }
    }

    /// The kinds' `check_kflag_member` (struct with kind_flag).
    fn check_kflag_member(&mut self, st: &Rec, mb: &Member, mt: &Rec) -> Res {
        if mt.is_void() {
            return self.unsupported(st, m::UNSUPPORTED_CHECK_KFLAG_MEMBER);
        }
        match mt.kind() {
            K_INT => self.int_check_kflag_member(st, mb, mt),
            K_PTR | K_ARRAY | K_STRUCT | K_UNION | K_FLOAT => {
                // btf_generic_check_kflag_member: no bitfield, then the plain check.
                if mb.offset >> 24 != 0 {
                    self.log_member(
                        st,
                        mb,
                        Some(format_args!("{}", m::INVALID_MEMBER_BITFIELD_SIZE)),
                    );
                    return Err(EINVAL);
                }
                self.check_member(st, mb, mt)
            }
            K_ENUM | K_ENUM64 => self.enum_check_kflag_member(st, mb),
            K_TYPEDEF | K_VOLATILE | K_CONST | K_RESTRICT | K_TYPE_TAG => {
                self.modifier_check_member(st, mb, true)
            }
            _ => self.unsupported(st, m::UNSUPPORTED_CHECK_KFLAG_MEMBER),
        }
    }

    fn unsupported(&mut self, st: &Rec, msg: &str) -> Res {
        self.log_basic(st, format_args!("{msg}"));
        Err(EINVAL)
    }

    fn member_err(&mut self, st: &Rec, mb: &Member, msg: &str) -> Res {
        self.log_member(st, mb, Some(format_args!("{msg}")));
        Err(EINVAL)
    }

    /// `btf_modifier_check_member` / `_kflag_member`: checks the member as
    /// the sized type the modifier resolves to (logging that type's id).
    fn modifier_check_member(&mut self, st: &Rec, mb: &Member, kflag: bool) -> Res {
        let Some((rt, rid, _)) = self.type_id_size(mb.ty) else {
            return self.member_err(st, mb, m::INVALID_MEMBER);
        };
        let m2 = Member { ty: rid, ..*mb };
        if kflag {
            self.check_kflag_member(st, &m2, &rt)
        } else {
            self.check_member(st, &m2, &rt)
        }
    }

    /// `btf_ptr_check_member`, `btf_array_check_member`,
    /// `btf_struct_check_member` and `btf_enum_check_member`: byte aligned
    /// and inside the struct (the kernel's 32-bit unsigned arithmetic kept).
    fn sized_check_member(&mut self, st: &Rec, mb: &Member, size: u32) -> Res {
        if !mb.offset.is_multiple_of(8) {
            return self.member_err(st, mb, m::MEMBER_NOT_BYTE_ALIGNED);
        }
        if st.st.wrapping_sub(mb.offset / 8) < size {
            return self.member_err(st, mb, m::MEMBER_EXCEEDS_STRUCT_SIZE);
        }
        Ok(())
    }

    /// `btf_int_check_member`: the INT's bits, shifted by its bit offset,
    /// span at most 128 bits and end inside the struct.
    fn int_check_member(&mut self, st: &Rec, mb: &Member, mt: &Rec) -> Res {
        let d = self.w(mt.extra());
        let int_off = (d >> 16) & 0xff;
        if u32::MAX - mb.offset < int_off {
            return self.member_err(st, mb, m::BITS_OFFSET_EXCEEDS_U32_MAX);
        }
        let bits_off = mb.offset + int_off;
        let bytes_off = bits_off / 8;
        let copy_bits = (d & 0xff) + bits_off % 8;
        if copy_bits > 128 {
            return self.member_err(st, mb, m::NR_COPY_BITS_EXCEEDS_128);
        }
        if st.st < bytes_off || st.st - bytes_off < copy_bits.div_ceil(8) {
            return self.member_err(st, mb, m::MEMBER_EXCEEDS_STRUCT_SIZE);
        }
        Ok(())
    }

    /// `btf_int_check_kflag_member`: a regular INT; a bitfield no wider than
    /// the INT, or a whole INT on a byte boundary; inside the struct.
    fn int_check_kflag_member(&mut self, st: &Rec, mb: &Member, mt: &Rec) -> Res {
        if !self.int_is_regular(mt) {
            return self.member_err(st, mb, m::INVALID_MEMBER_BASE_TYPE);
        }
        let d = self.w(mt.extra());
        let mut nr_bits = mb.offset >> 24;
        let bits_off = mb.offset & 0x00ff_ffff;
        let int_bits = d & 0xff;
        if nr_bits == 0 {
            if !bits_off.is_multiple_of(8) {
                return self.member_err(st, mb, m::INVALID_MEMBER_OFFSET);
            }
            nr_bits = int_bits;
        } else if nr_bits > int_bits {
            return self.member_err(st, mb, m::INVALID_MEMBER_BITFIELD_SIZE);
        }
        let bytes_off = bits_off / 8;
        let copy_bits = nr_bits + bits_off % 8;
        if copy_bits > 128 {
            return self.member_err(st, mb, m::NR_COPY_BITS_EXCEEDS_128);
        }
        if st.st < bytes_off || st.st - bytes_off < copy_bits.div_ceil(8) {
            return self.member_err(st, mb, m::MEMBER_EXCEEDS_STRUCT_SIZE);
        }
        Ok(())
    }

    /// `btf_enum_check_kflag_member`: a bitfield of at most 32 bits, or a
    /// byte-aligned whole enum (counted as 32 bits), inside the struct.
    fn enum_check_kflag_member(&mut self, st: &Rec, mb: &Member) -> Res {
        let bits_off = mb.offset & 0x00ff_ffff;
        let mut nr_bits = mb.offset >> 24;
        if nr_bits == 0 {
            if !bits_off.is_multiple_of(8) {
                return self.member_err(st, mb, m::MEMBER_NOT_BYTE_ALIGNED);
            }
            nr_bits = 32;
        } else if nr_bits > 32 {
            return self.member_err(st, mb, m::INVALID_MEMBER_BITFIELD_SIZE);
        }
        if st.st < (bits_off + nr_bits).div_ceil(8) {
            return self.member_err(st, mb, m::MEMBER_EXCEEDS_STRUCT_SIZE);
        }
        Ok(())
    }

    /// `btf_float_check_member`: aligned to min(8, size) bytes, inside the
    /// struct.
    fn float_check_member(&mut self, st: &Rec, mb: &Member, mt: &Rec) -> Res {
        let align_bits = u64::from(mt.st.min(8)) * 8;
        let off = u64::from(mb.offset);
        if align_bits == 0 || off % align_bits != 0 {
            return self.member_err(st, mb, m::MEMBER_NOT_PROPERLY_ALIGNED);
        }
        if off / 8 + u64::from(mt.st) > u64::from(st.st) {
            return self.member_err(st, mb, m::MEMBER_EXCEEDS_STRUCT_SIZE);
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RefKind {
    Modifier,
    Ptr,
    Var,
}
