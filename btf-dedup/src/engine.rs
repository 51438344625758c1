//! The dedup passes, in libbpf's order and with libbpf's rules
//! (`btf__dedup` of libbpf 1.1, tools/lib/bpf/btf.c).
//!
//! State: `map[id]` is the canonical id of `id` (or [`UNPROCESSED`] /
//! [`IN_PROGRESS`]); `hypot[id]` is the hypothetical mapping of one graph
//! equivalence check, `hypot_list` the ids set in it, in the order set.
//!
//! Invariants:
//! - base types (ids below `start_id`) are canonical from the start; their
//!   records never change (only their `map` entries may, exactly where
//!   libbpf changes them: a base FWD resolved to a split struct, a base enum
//!   fwd resolved to a split enum);
//! - `map[id] == id` for VAR and DATASEC: they are never merged;
//! - a type is inserted into the candidate table exactly when libbpf inserts
//!   it, in the same order (see [`crate::cands`]);
//! - every walk over the graph is iterative with an explicit stack or bounded
//!   by the number of types, so that no input can overflow the stack or loop
//!   forever; where libbpf would recurse without end or loop forever (cyclic
//!   inputs), an error is returned instead.

use btf::{Error, Result};

use crate::cands::{mix64, Cands, FastMap, IdSet};
use crate::flat::kind::*;
use crate::flat::Table;

/// Not processed yet.
pub(crate) const UNPROCESSED: u32 = u32::MAX;
/// Being processed by the reference pass (a loop if met again).
pub(crate) const IN_PROGRESS: u32 = u32::MAX - 1;
/// The largest valid type id (libbpf's `BTF_MAX_NR_TYPES`).
pub(crate) const MAX_NR_TYPES: u32 = 0x7fff_ffff;

/// How deep the "identical structs" comparison may nest before the input is
/// declared cyclic (libbpf recurses without a bound there).
const MAX_IDENTICAL_DEPTH: u32 = 1024;

/// How many ids ahead the reference pass warms the cache.
const PREFETCH_AHEAD: u32 = 32;

/// How far below a struct's members [`Dedup::compute_shapes`] looks.
const SHAPE_DEPTH: u32 = 2;

/// A struct's shape not computed yet (see [`Dedup::struct_key`]).
const SHAPE_UNSET: u32 = u32::MAX;

/// libbpf's `hash_combine` on `long`.
#[inline]
fn hc(h: u64, v: u32) -> u64 {
    h.wrapping_mul(31).wrapping_add(u64::from(v))
}

/// The state of one dedup run.
pub(crate) struct Dedup {
    /// The types; own records are rewritten in place (string offsets, then
    /// reference types' targets), as libbpf does.
    pub t: Table,
    /// First own id.
    pub start_id: u32,
    /// Per type: record offset, `info`, canonical map and hypothetical map,
    /// side by side so that one cache line serves a graph step.
    nodes: Vec<Node>,
    hypot_list: Vec<u32>,
    hypot_adjust_canon: bool,
    cands: Cands,
    /// Canonical reference types, for the reference pass without a base.
    refs: IdSet,
    /// Shape hashes of structs and unions (see [`Dedup::compute_shapes`]);
    /// empty when not used.
    shapes: Vec<u32>,
    /// Whether struct shapes refine the candidate keys.
    struct_shapes: bool,
    /// The equivalence walk's stack, kept between walks.
    eq_stack: Vec<Frame>,
    /// Without a base: canonical full enums, by record (see `prim_type`).
    full_enums: IdSet,
    /// Without a base: how many canonical enum fwds each enum key has.
    enum_fwds: FastMap<u64, u32>,
    /// Streaming ([`Dedup::struct_range_stream`]): the struct candidates,
    /// apart from the prims' table (see docs/ARCHITECTURE.md, streaming).
    scands: Cands,
}

/// What the passes read and write most about one type.
#[derive(Clone, Copy, Default)]
struct Node {
    off: u32,
    info: u32,
    map: u32,
    hypot: u32,
}

/// One step of the graph equivalence check.
enum Step {
    Equal,
    Differ,
    /// Compare the children of `(cand, canon)` of kind `kind`.
    Descend(Frame),
}

#[derive(Clone, Copy)]
struct Frame {
    cand: u32,
    canon: u32,
    kind: u8,
    next: u32,
    count: u32,
}

impl Node {
    /// A type's state before any pass: `void`, VAR and DATASEC are their own
    /// canonical types, everything else is unprocessed.
    fn fresh(t: &Table, id: u32) -> Node {
        let k = t.kind(id);
        Node {
            off: t.off(id) as u32,
            info: t.info(id),
            map: if id == 0 || k == VAR || k == DATASEC {
                id
            } else {
                UNPROCESSED
            },
            hypot: UNPROCESSED,
        }
    }
}

impl Dedup {
    /// Sets up the state: `void`, VAR and DATASEC canonical, the rest unprocessed.
    pub fn new(t: Table, start_id: u32) -> Dedup {
        use rayon::prelude::*;
        let mut nodes = Vec::with_capacity(t.count() as usize);
        crate::flat::hint_huge_pages(&mut nodes);
        nodes.par_extend((0..t.count()).into_par_iter().map(|id| Node::fresh(&t, id)));
        Dedup {
            t,
            start_id,
            nodes,
            hypot_list: Vec::new(),
            hypot_adjust_canon: false,
            cands: Cands::default(),
            refs: IdSet::default(),
            shapes: Vec::new(),
            struct_shapes: false,
            eq_stack: Vec::new(),
            full_enums: IdSet::default(),
            enum_fwds: FastMap::default(),
            scands: Cands::default(),
        }
    }

    /// Streaming: node state for the ids the table gained since the last call.
    pub fn grow(&mut self) {
        let t = &self.t;
        let from = self.nodes.len() as u32;
        self.nodes
            .extend((from..t.count()).map(|id| Node::fresh(t, id)));
    }

    /// Streaming: the shape table grows to the table's end (enum hashes now,
    /// struct shapes on first use, see [`Dedup::compute_shapes`]). `false`
    /// if a new type puts a kind the walk rejects where a shape would look
    /// (then shapes cannot be used).
    pub fn shapes_grow(&mut self) -> bool {
        let from = self.shapes.len() as u32;
        let mut ok = true;
        for id in from..self.t.count() {
            ok &= self.shape_edges_ok(id);
            let v = self.shape_slot(id);
            self.shapes.push(v);
        }
        self.struct_shapes = ok;
        ok
    }

    /// Streaming: the prim pass over `a..b`.
    pub fn prim_range(&mut self, a: u32, b: u32) {
        for id in a..b {
            self.prim_type(id);
        }
    }

    /// Streaming: the struct pass over `a..b`, with every candidate checked.
    /// `Ok(false)`: a decision would depend on the candidate order (two
    /// equivalent candidates) or a check failed; the stream must give up.
    pub fn struct_range_stream(&mut self, a: u32, b: u32) -> Result<bool> {
        for id in a..b {
            if self.is_mapped(id) || !matches!(self.kind(id), STRUCT | UNION) {
                continue;
            }
            let h = self.struct_key(id);
            let list = self.scands.take(h);
            let mut found = None;
            let mut ambiguous = false;
            // The hypothetical map of the success is still in place when no
            // check ran after it (the last candidate): no second run then.
            let mut fresh = false;
            let mut i = 0;
            while let Some(cand) = self.scands.nth(&list, i) {
                i += 1;
                if !self.shallow_equal_struct(id, cand) {
                    continue;
                }
                self.clear_hypot();
                fresh = false;
                match self.is_equiv(id, cand) {
                    Ok(true) if found.is_none() => {
                        found = Some(cand);
                        fresh = true;
                    }
                    Ok(false) => {}
                    _ => {
                        ambiguous = true;
                        break;
                    }
                }
            }
            let mut new_id = id;
            if let (Some(c), false) = (found, ambiguous) {
                if !fresh {
                    self.clear_hypot();
                    if !matches!(self.is_equiv(id, c), Ok(true)) {
                        ambiguous = true;
                    }
                }
                if self.merge_hypot().is_err() {
                    ambiguous = true;
                }
                new_id = c;
            }
            self.scands.put(h, list);
            if ambiguous {
                return Ok(false);
            }
            self.set_m(id, new_id);
            if new_id == id {
                self.scands.add(h, id);
            }
        }
        Ok(true)
    }

    #[inline]
    fn node(&self, id: u32) -> Node {
        self.nodes.get(id as usize).copied().unwrap_or_default()
    }

    #[inline]
    fn m(&self, id: u32) -> u32 {
        self.nodes.get(id as usize).map_or(UNPROCESSED, |n| n.map)
    }

    #[inline]
    fn set_m(&mut self, id: u32, v: u32) {
        if let Some(x) = self.nodes.get_mut(id as usize) {
            x.map = v;
        }
    }

    #[inline]
    fn hyp(&self, id: u32) -> u32 {
        self.nodes.get(id as usize).map_or(UNPROCESSED, |n| n.hypot)
    }

    #[inline]
    fn set_hyp(&mut self, id: u32, v: u32) {
        if let Some(x) = self.nodes.get_mut(id as usize) {
            x.hypot = v;
        }
    }

    #[inline]
    fn off(&self, id: u32) -> usize {
        self.node(id).off as usize
    }

    #[inline]
    fn info(&self, id: u32) -> u32 {
        self.node(id).info
    }

    #[inline]
    fn kind(&self, id: u32) -> u8 {
        btf::format::info_kind(self.info(id))
    }

    #[inline]
    fn vlen(&self, id: u32) -> u32 {
        btf::format::info_vlen(self.info(id))
    }

    #[inline]
    fn kflag(&self, id: u32) -> bool {
        self.info(id) >> 31 != 0
    }

    #[inline]
    fn name(&self, id: u32) -> u32 {
        self.t.w(self.off(id))
    }

    #[inline]
    fn is_mapped(&self, id: u32) -> bool {
        self.m(id) <= MAX_NR_TYPES
    }

    /// libbpf's `resolve_type_id`, bounded: a cycle in the map is an error.
    #[inline]
    fn resolve(&self, mut id: u32) -> Result<u32> {
        let mut steps = 0u32;
        loop {
            let m = self.m(id);
            if m > MAX_NR_TYPES || m == id {
                return Ok(id);
            }
            id = m;
            steps += 1;
            if steps > self.t.count() {
                return Err(cycle(id));
            }
        }
    }

    /// libbpf's `resolve_fwd_id`.
    fn resolve_fwd(&self, id: u32) -> Result<u32> {
        if self.kind(id) != FWD {
            return Ok(id);
        }
        let r = self.resolve(id)?;
        Ok(if self.kind(r) != FWD { r } else { id })
    }

    // ---- hashes and equality, as libbpf's btf_hash_* / btf_equal_* ----

    fn hash_common(&self, id: u32) -> u64 {
        let off = self.off(id);
        hc(
            hc(hc(0, self.t.w(off)), self.t.w(off + 1)),
            self.t.w(off + 2),
        )
    }

    fn hash_int_tag(&self, id: u32) -> u64 {
        hc(self.hash_common(id), self.t.w(self.off(id) + 3))
    }

    fn hash_enum(&self, id: u32) -> u64 {
        hc(0, self.name(id))
    }

    fn hash_struct(&self, id: u32) -> u64 {
        let mut h = self.hash_common(id);
        let off = self.off(id);
        for i in 0..self.vlen(id) as usize {
            let at = off + 3 + 3 * i;
            h = hc(h, self.t.w(at));
            h = hc(h, self.t.w(at + 2));
        }
        h
    }

    fn hash_array(&self, id: u32) -> u64 {
        let off = self.off(id);
        let h = self.hash_common(id);
        hc(
            hc(hc(h, self.t.w(off + 3)), self.t.w(off + 4)),
            self.t.w(off + 5),
        )
    }

    fn hash_fnproto(&self, id: u32) -> u64 {
        let mut h = self.hash_common(id);
        let off = self.off(id);
        for i in 0..self.vlen(id) as usize {
            let at = off + 3 + 2 * i;
            h = hc(h, self.t.w(at));
            h = hc(h, self.t.w(at + 1));
        }
        h
    }

    /// The candidate key of a struct or union: libbpf's hash, refined by the
    /// shape hash when shapes are in use (computed here on first use: most
    /// structs are mapped by an earlier struct's walk and never need one).
    #[inline]
    fn struct_key(&mut self, id: u32) -> u64 {
        let h = self.hash_struct(id);
        if !self.struct_shapes {
            return h;
        }
        let s = match self.shapes.get(id as usize) {
            Some(&SHAPE_UNSET) => {
                // No edge a shape follows reaches a rejected kind (checked
                // before `struct_shapes` was set), so `top_shape` succeeds.
                let s = self.top_shape(id).map_or(0, |t| (mix64(t) >> 32) as u32);
                let s = if s == SHAPE_UNSET { s - 1 } else { s };
                if let Some(x) = self.shapes.get_mut(id as usize) {
                    *x = s;
                }
                s
            }
            Some(&s) => s,
            None => return h,
        };
        hc(h, s)
    }

    /// Sets up struct shapes (whether they are used; each struct's own is
    /// computed on first use) and the enum record hashes, in parallel.
    ///
    /// The shape of a type is what every successful graph equivalence check
    /// preserves, unfolded to a fixed depth: for a struct at the top, its
    /// name, info, size and per member the name, offset and shape of the
    /// member's type; below the top, a struct, union or FWD is only its name
    /// and whether it is a struct or a union (a FWD may match either
    /// through FWD resolution, and mapped structs only share that), an enum
    /// only its name (enum fwd compatibility), an INT or FLOAT all of its
    /// record, and reference kinds, arrays and prototypes the fields their
    /// step compares plus the shapes of what they refer to.
    ///
    /// Claim: `is_equiv(a, b)` succeeding implies equal shapes. Every pair the
    /// walk accepts is accepted by one of: both resolve to one canonical type
    /// (prim types are mapped only to equal ones, enums to enums of the same
    /// name, FWDs and structs to structs of the same name and kind); the pair
    /// was accepted before (induction on the depth: its own fields were
    /// compared and its children are compared before the walk succeeds); an
    /// identical array or struct (same fields, same children); FWD against a
    /// struct of the same name and kind; or the kind's own comparison, which
    /// covers every field the shape holds. So structs of different shapes
    /// are never merged, and keying the candidate table by libbpf's hash and
    /// the shape skips only checks that would fail, which leave no state
    /// behind. The insertion sequence, and so the candidate order, is
    /// unchanged. If any struct reaches a kind the walk rejects with an
    /// error (VAR, DATASEC, DECL_TAG as a member type: invalid BTF), shapes
    /// are not used at all, so that errors stay libbpf's. That is decided up
    /// front, in parallel, on a superset of what any shape reaches: every
    /// struct member, reference target, array element and index, return
    /// and parameter type ([`Dedup::shape_edges_ok`]). The shapes themselves
    /// are computed on first use ([`Dedup::struct_key`]): most structs are
    /// mapped by an earlier struct's walk before their turn and never need
    /// one (on the 6.1 vmlinux's units, 51 k of 861 k).
    ///
    /// The same array holds, for ENUM and ENUM64, a hash of the whole record
    /// (all that `btf_equal_enum` compares), so that the prim pass compares
    /// records only when the hashes agree.
    pub fn compute_shapes(&mut self) {
        use rayon::prelude::*;
        let n = self.t.count();
        let me = &*self;
        let ok = (0..n).into_par_iter().all(|id| me.shape_edges_ok(id));
        let shapes: Vec<u32> = (0..n).into_par_iter().map(|id| me.shape_slot(id)).collect();
        self.shapes = shapes;
        self.struct_shapes = ok;
    }

    /// The shape table's entry before use: [`SHAPE_UNSET`] for a struct or
    /// union, the record hash of an enum, 0 for other kinds.
    fn shape_slot(&self, id: u32) -> u32 {
        match self.kind(id) {
            STRUCT | UNION => SHAPE_UNSET,
            ENUM | ENUM64 => {
                let h = self.t.record(id).iter().fold(0u64, |h, &w| hc(h, w));
                (mix64(h) >> 32) as u32
            }
            _ => 0,
        }
    }

    /// Whether every type the record of `id` points to along an edge a shape
    /// follows (from a struct, union, reference kind, array or prototype) is
    /// of a kind [`Dedup::shape`] accepts.
    fn shape_edges_ok(&self, id: u32) -> bool {
        if !matches!(
            self.kind(id),
            STRUCT
                | UNION
                | PTR
                | CONST
                | VOLATILE
                | RESTRICT
                | TYPEDEF
                | FUNC
                | TYPE_TAG
                | ARRAY
                | FUNC_PROTO
        ) {
            return true;
        }
        let mut ok = true;
        self.t.for_each_type_ref(id, |_, r| {
            ok &= match self.kind(r) {
                0 => r == 0,
                STRUCT | UNION | FWD | ENUM | ENUM64 | INT | FLOAT | PTR | CONST | VOLATILE
                | RESTRICT | TYPEDEF | FUNC | TYPE_TAG | ARRAY | FUNC_PROTO => true,
                _ => false,
            };
        });
        ok
    }

    /// Whether the enum record hashes say `a` and `b` may be equal.
    #[inline]
    fn enum_may_equal(&self, a: u32, b: u32) -> bool {
        match (self.shapes.get(a as usize), self.shapes.get(b as usize)) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
    }

    fn top_shape(&self, id: u32) -> Option<u64> {
        let off = self.off(id);
        let mut h = hc(
            hc(hc(0, self.t.w(off)), self.t.w(off + 1)),
            self.t.w(off + 2),
        );
        for i in 0..self.vlen(id) as usize {
            let at = off + 3 + 3 * i;
            h = hc(hc(h, self.t.w(at)), self.t.w(at + 2));
            let m = self.shape(self.t.w(at + 1), SHAPE_DEPTH)?;
            h = hc(h, m as u32);
            h = hc(h, (m >> 32) as u32);
        }
        Some(h)
    }

    fn shape(&self, id: u32, d: u32) -> Option<u64> {
        let off = self.off(id);
        let (name, info, sot) = (self.t.w(off), self.t.w(off + 1), self.t.w(off + 2));
        let k = btf::format::info_kind(info);
        let su = |k: u8| hc(1000 + u64::from(k), name);
        Some(match k {
            0 if id == 0 => 7,
            STRUCT | UNION => su(k),
            FWD => su(if info >> 31 != 0 { UNION } else { STRUCT }),
            ENUM | ENUM64 => hc(2000, name),
            INT => hc(hc(hc(hc(3000, name), info), sot), self.t.w(off + 3)),
            FLOAT => hc(hc(hc(4000, name), info), sot),
            PTR | CONST | VOLATILE | RESTRICT | TYPEDEF | FUNC | TYPE_TAG => {
                let h = hc(hc(5000, name), info);
                if d == 0 {
                    h
                } else {
                    mix64(h ^ self.shape(sot, d - 1)?)
                }
            }
            ARRAY => {
                let h = hc(hc(hc(hc(6000, name), info), sot), self.t.w(off + 5));
                if d == 0 {
                    h
                } else {
                    let h = mix64(h ^ self.shape(self.t.w(off + 4), d - 1)?);
                    mix64(h ^ self.shape(self.t.w(off + 3), d - 1)?)
                }
            }
            FUNC_PROTO => {
                let mut h = hc(hc(7000, name), info);
                for i in 0..(info & 0xffff) as usize {
                    h = hc(h, self.t.w(off + 3 + 2 * i));
                }
                if d > 0 {
                    h = mix64(h ^ self.shape(sot, d - 1)?);
                    for i in 0..(info & 0xffff) as usize {
                        h = mix64(h ^ self.shape(self.t.w(off + 4 + 2 * i), d - 1)?);
                    }
                }
                h
            }
            _ => return None,
        })
    }

    /// The hash libbpf's `btf_dedup_prep` gives a base type (`None`: not hashed).
    fn hash_any(&mut self, id: u32) -> Option<u64> {
        Some(match self.kind(id) {
            VAR | DATASEC => return None,
            INT | DECL_TAG => self.hash_int_tag(id),
            ENUM | ENUM64 => self.hash_enum(id),
            STRUCT | UNION => self.struct_key(id),
            ARRAY => self.hash_array(id),
            FUNC_PROTO => self.hash_fnproto(id),
            _ => self.hash_common(id),
        })
    }

    #[inline]
    fn equal_common(&self, a: u32, b: u32) -> bool {
        let (x, y) = (self.off(a), self.off(b));
        self.t.w(x) == self.t.w(y)
            && self.t.w(x + 1) == self.t.w(y + 1)
            && self.t.w(x + 2) == self.t.w(y + 2)
    }

    fn equal_int_tag(&self, a: u32, b: u32) -> bool {
        self.equal_common(a, b) && self.t.w(self.off(a) + 3) == self.t.w(self.off(b) + 3)
    }

    /// Same header, then the first `vlen * step` trailing words equal except
    /// those where `skip(word index within the entry)`.
    fn equal_tail(&self, a: u32, b: u32, step: usize, keep: &[usize]) -> bool {
        let (x, y) = (self.off(a), self.off(b));
        for i in 0..self.vlen(a) as usize {
            for &k in keep {
                let j = 3 + step * i + k;
                if self.t.w(x + j) != self.t.w(y + j) {
                    return false;
                }
            }
        }
        true
    }

    fn equal_enum(&self, a: u32, b: u32) -> bool {
        if !self.equal_common(a, b) {
            return false;
        }
        if self.kind(a) == ENUM {
            self.equal_tail(a, b, 2, &[0, 1])
        } else {
            self.equal_tail(a, b, 3, &[0, 1, 2])
        }
    }

    fn is_enum_fwd(&self, id: u32) -> bool {
        matches!(self.kind(id), ENUM | ENUM64) && self.vlen(id) == 0
    }

    fn compat_enum(&self, a: u32, b: u32) -> bool {
        if !self.is_enum_fwd(a) && !self.is_enum_fwd(b) {
            return self.equal_enum(a, b);
        }
        self.name(a) == self.name(b)
            && matches!(self.kind(a), ENUM | ENUM64)
            && matches!(self.kind(b), ENUM | ENUM64)
    }

    fn shallow_equal_struct(&self, a: u32, b: u32) -> bool {
        if !self.equal_common(a, b) {
            return false;
        }
        // Members (name, type, offset) side by side: names and offsets equal.
        let n = 3 * self.vlen(a) as usize;
        let (x, y) = (self.off(a) + 3, self.off(b) + 3);
        match (self.t.words.get(x..x + n), self.t.words.get(y..y + n)) {
            (Some(p), Some(q)) => p
                .chunks_exact(3)
                .zip(q.chunks_exact(3))
                .all(|(m, k)| m[0] == k[0] && m[2] == k[2]),
            _ => self.equal_tail(a, b, 3, &[0, 2]),
        }
    }

    fn equal_array(&self, a: u32, b: u32) -> bool {
        let (x, y) = (self.off(a), self.off(b));
        self.equal_common(a, b)
            && self.t.w(x + 3) == self.t.w(y + 3)
            && self.t.w(x + 4) == self.t.w(y + 4)
            && self.t.w(x + 5) == self.t.w(y + 5)
    }

    fn compat_array(&self, a: u32, b: u32) -> bool {
        self.equal_common(a, b) && self.t.w(self.off(a) + 5) == self.t.w(self.off(b) + 5)
    }

    fn equal_fnproto(&self, a: u32, b: u32) -> bool {
        self.equal_common(a, b) && self.equal_tail(a, b, 2, &[0, 1])
    }

    fn compat_fnproto(&self, a: u32, b: u32) -> bool {
        self.name(a) == self.name(b)
            && self.info(a) == self.info(b)
            && self.equal_tail(a, b, 2, &[0])
    }

    // ---- passes ----

    /// libbpf's `btf_dedup_prep`: base types are canonical and become candidates.
    pub fn prep(&mut self) {
        self.cands.reserve(self.start_id as usize);
        for id in 1..self.start_id {
            self.set_m(id, id);
            if let Some(h) = self.hash_any(id) {
                self.cands.add(h, id);
            }
        }
    }

    /// Pass 1: primitive types (INT, ENUM, ENUM64, FWD, FLOAT).
    pub fn prim_types(&mut self) -> Result<()> {
        for id in self.start_id..self.t.count() {
            self.prim_type(id);
        }
        Ok(())
    }

    fn prim_type(&mut self, id: u32) {
        let k = self.kind(id);
        let h = match k {
            INT => self.hash_int_tag(id),
            ENUM | ENUM64 => self.hash_enum(id),
            FWD | FLOAT => self.hash_common(id),
            _ => return,
        };
        let enum_key = |me: &Self| mix64(hc(h, me.shapes.get(id as usize).copied().unwrap_or(0)));
        if matches!(k, ENUM | ENUM64)
            && self.start_id == 1
            && !self.is_enum_fwd(id)
            && self.enum_fwds.get(&h).copied().unwrap_or(0) == 0
        {
            // Fast path for a full enum when no enum fwd shares its key:
            // libbpf's walk then only looks for an equal candidate, and at
            // most one canonical enum is equal (a later equal one would have
            // matched it), so the walk order plays no part.
            let key = enum_key(self);
            let new_id = self
                .full_enums
                .find(key, |c| self.equal_enum(id, c))
                .unwrap_or(id);
            self.set_m(id, new_id);
            if new_id == id {
                self.cands.add(h, id);
                self.add_full_enum(key, id);
            }
            return;
        }
        let mut new_id = id;
        let list = self.cands.take(h);
        let mut i = 0;
        while let Some(cand) = self.cands.nth(&list, i) {
            i += 1;
            match k {
                INT => {
                    if self.equal_int_tag(id, cand) {
                        new_id = cand;
                        break;
                    }
                }
                ENUM | ENUM64 => {
                    if self.enum_may_equal(id, cand) && self.equal_enum(id, cand) {
                        new_id = cand;
                        break;
                    }
                    // Not equal: compatible only through a forward declaration.
                    let fwd = self.is_enum_fwd(id) || self.is_enum_fwd(cand);
                    if fwd && self.compat_enum(id, cand) {
                        if self.is_enum_fwd(id) {
                            new_id = cand;
                            break;
                        }
                        // A canonical enum fwd now resolves to this full enum.
                        self.set_m(cand, id);
                    }
                }
                _ => {
                    if self.equal_common(id, cand) {
                        new_id = cand;
                        break;
                    }
                }
            }
        }
        self.cands.put(h, list);
        self.set_m(id, new_id);
        if new_id == id {
            self.cands.add(h, id);
            if matches!(k, ENUM | ENUM64) && self.start_id == 1 {
                if self.is_enum_fwd(id) {
                    *self.enum_fwds.entry(h).or_insert(0) += 1;
                } else {
                    let key = enum_key(self);
                    self.add_full_enum(key, id);
                }
            }
        }
    }

    fn add_full_enum(&mut self, key: u64, id: u32) {
        let mut set = std::mem::take(&mut self.full_enums);
        let me = &*self;
        set.insert(key, id, |o| {
            let h = me.hash_enum(o);
            mix64(hc(h, me.shapes.get(o as usize).copied().unwrap_or(0)))
        });
        self.full_enums = set;
    }

    /// Pass 2: structs and unions, by graph equivalence.
    pub fn struct_types(&mut self) -> Result<()> {
        for id in self.start_id..self.t.count() {
            self.struct_type(id)?;
        }
        Ok(())
    }

    fn struct_type(&mut self, id: u32) -> Result<()> {
        if self.is_mapped(id) {
            return Ok(());
        }
        if !matches!(self.kind(id), STRUCT | UNION) {
            return Ok(());
        }
        let h = self.struct_key(id);
        let mut new_id = id;
        let list = self.cands.take(h);
        let mut i = 0;
        let mut res = Ok(());
        while let Some(cand) = self.cands.nth(&list, i) {
            i += 1;
            // Guards against a FWD met through a hash collision.
            if !self.shallow_equal_struct(id, cand) {
                continue;
            }
            self.clear_hypot();
            match self.is_equiv(id, cand) {
                Err(e) => {
                    res = Err(e);
                    break;
                }
                Ok(false) => continue,
                Ok(true) => {}
            }
            if let Err(e) = self.merge_hypot() {
                res = Err(e);
                break;
            }
            if self.hypot_adjust_canon {
                continue;
            }
            new_id = cand;
            break;
        }
        self.cands.put(h, list);
        res?;
        self.set_m(id, new_id);
        if new_id == id {
            self.cands.add(h, id);
        }
        Ok(())
    }

    fn clear_hypot(&mut self) {
        for i in 0..self.hypot_list.len() {
            let id = self.hypot_list.get(i).copied().unwrap_or(0);
            self.set_hyp(id, UNPROCESSED);
        }
        self.hypot_list.clear();
        self.hypot_adjust_canon = false;
    }

    fn identical_arrays(&self, a: u32, b: u32) -> bool {
        self.kind(a) == ARRAY && self.kind(b) == ARRAY && self.equal_array(a, b)
    }

    fn identical_structs(&self, a: u32, b: u32, depth: u32) -> Result<bool> {
        if depth > MAX_IDENTICAL_DEPTH {
            return Err(Error::new(
                "struct nesting too deep (a cycle of structs containing each other?)",
            )
            .with_type(a));
        }
        let k = self.kind(a);
        if !matches!(k, STRUCT | UNION) || k != self.kind(b) {
            return Ok(false);
        }
        if !self.shallow_equal_struct(a, b) {
            return Ok(false);
        }
        let (x, y) = (self.off(a), self.off(b));
        for i in 0..self.vlen(a) as usize {
            let (ma, mb) = (self.t.w(x + 4 + 3 * i), self.t.w(y + 4 + 3 * i));
            if ma != mb
                && !self.identical_arrays(ma, mb)
                && !self.identical_structs(ma, mb, depth + 1)?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn hypot_add(&mut self, from: u32, to: u32) {
        if (from as usize) < self.nodes.len() {
            self.set_hyp(from, to);
            self.hypot_list.push(from);
        }
    }

    /// The first part of libbpf's `btf_dedup_is_equiv` for one pair: decides
    /// it, or says which children to compare.
    fn equiv_step(&mut self, cand: u32, canon: u32) -> Result<Step> {
        if self.resolve(cand)? == self.resolve(canon)? {
            return Ok(Step::Equal);
        }
        let canon = self.resolve_fwd(canon)?;
        let hyp = self.hyp(canon);
        if hyp <= MAX_NR_TYPES {
            if hyp == cand
                || self.identical_arrays(hyp, cand)
                || self.identical_structs(hyp, cand, 0)?
            {
                return Ok(Step::Equal);
            }
            return Ok(Step::Differ);
        }
        self.hypot_add(canon, cand);
        if self.name(cand) != self.name(canon) {
            return Ok(Step::Differ);
        }
        let (ck, nk) = (self.kind(cand), self.kind(canon));
        if (ck == FWD || nk == FWD) && ck != nk {
            let fwd_kind = |id: u32| if self.kflag(id) { UNION } else { STRUCT };
            let (real, fwd) = if ck == FWD {
                (nk, fwd_kind(cand))
            } else {
                let fk = fwd_kind(canon);
                if fk == ck && canon < self.start_id {
                    // A base FWD would have to be resolved.
                    self.hypot_adjust_canon = true;
                }
                (ck, fk)
            };
            return Ok(if fwd == real {
                Step::Equal
            } else {
                Step::Differ
            });
        }
        if ck != nk {
            return Ok(Step::Differ);
        }
        let frame = |count: u32| {
            Step::Descend(Frame {
                cand,
                canon,
                kind: ck,
                next: 0,
                count,
            })
        };
        Ok(match ck {
            INT => bool_step(self.equal_int_tag(cand, canon)),
            ENUM | ENUM64 => bool_step(self.compat_enum(cand, canon)),
            FWD | FLOAT => bool_step(self.equal_common(cand, canon)),
            CONST | VOLATILE | RESTRICT | PTR | TYPEDEF | FUNC | TYPE_TAG => {
                if self.info(cand) != self.info(canon) {
                    Step::Differ
                } else {
                    frame(1)
                }
            }
            ARRAY => {
                if !self.compat_array(cand, canon) {
                    Step::Differ
                } else {
                    frame(2)
                }
            }
            STRUCT | UNION => {
                if !self.shallow_equal_struct(cand, canon) {
                    Step::Differ
                } else {
                    frame(self.vlen(cand))
                }
            }
            FUNC_PROTO => {
                if !self.compat_fnproto(cand, canon) {
                    Step::Differ
                } else {
                    frame(1 + self.vlen(cand))
                }
            }
            _ => {
                return Err(Error::new(format!(
                    "cannot compare types of kind {} for equivalence (libbpf fails with EINVAL)",
                    btf::Kind::name_of(ck)
                ))
                .with_type(cand))
            }
        })
    }

    /// The `i`-th pair of children of a frame, in libbpf's order.
    fn child(&self, f: &Frame, i: u32) -> (u32, u32) {
        let (x, y) = (self.off(f.cand), self.off(f.canon));
        let i = i as usize;
        let at = match f.kind {
            ARRAY => {
                if i == 0 {
                    4 // index type first
                } else {
                    3
                }
            }
            STRUCT | UNION => 4 + 3 * i,
            FUNC_PROTO => {
                if i == 0 {
                    2
                } else {
                    3 + 2 * (i - 1) + 1
                }
            }
            _ => 2,
        };
        (self.t.w(x + at), self.t.w(y + at))
    }

    /// libbpf's `btf_dedup_is_equiv`, as a depth-first walk with an explicit
    /// stack: each frame compares its children in order, and the first
    /// non-equal child decides the whole check.
    fn is_equiv(&mut self, cand: u32, canon: u32) -> Result<bool> {
        let mut stack = std::mem::take(&mut self.eq_stack);
        stack.clear();
        let r = self.equiv_walk(cand, canon, &mut stack);
        self.eq_stack = stack;
        r
    }

    fn equiv_walk(&mut self, cand: u32, canon: u32, stack: &mut Vec<Frame>) -> Result<bool> {
        match self.equiv_step(cand, canon)? {
            Step::Equal => return Ok(true),
            Step::Differ => return Ok(false),
            Step::Descend(f) => stack.push(f),
        }
        while let Some(top) = stack.last_mut() {
            if top.next >= top.count {
                stack.pop();
                continue;
            }
            let i = top.next;
            top.next += 1;
            let f = *top;
            let (c, n) = self.child(&f, i);
            match self.equiv_step(c, n)? {
                Step::Equal => {}
                Step::Differ => return Ok(false),
                Step::Descend(f) => {
                    if stack.len() > self.t.count() as usize {
                        return Err(cycle(c));
                    }
                    stack.push(f)
                }
            }
        }
        Ok(true)
    }

    /// libbpf's `btf_dedup_merge_hypot_map`.
    fn merge_hypot(&mut self) -> Result<()> {
        for i in 0..self.hypot_list.len() {
            let canon = self.hypot_list.get(i).copied().unwrap_or(0);
            let targ = self.hyp(canon);
            let t_id = self.resolve(targ)?;
            let c_id = self.resolve(canon)?;
            let t_kind = self.kind(t_id);
            let c_kind = self.kind(c_id);
            if t_kind != FWD && c_kind == FWD {
                self.set_m(c_id, t_id);
            }
            if self.hypot_adjust_canon {
                continue;
            }
            if t_kind == FWD && c_kind != FWD {
                self.set_m(t_id, c_id);
            }
            if matches!(t_kind, STRUCT | UNION)
                && c_kind != FWD
                && self.is_mapped(c_id)
                && !self.is_mapped(t_id)
            {
                self.set_m(t_id, c_id);
            }
        }
        Ok(())
    }

    /// Pass 3 (libbpf >= 1.1): a FWD left alone resolves to the one canonical
    /// struct or union of its name, when there is exactly one.
    pub fn resolve_fwds(&mut self) -> Result<()> {
        let mut names: FastMap<u32, u32> = FastMap::default();
        for id in 1..self.t.count() {
            if !matches!(self.kind(id), STRUCT | UNION) || self.m(id) != id {
                continue;
            }
            names
                .entry(self.name(id))
                .and_modify(|v| *v = 0)
                .or_insert(id);
        }
        if names.is_empty() {
            return Ok(());
        }
        for id in self.start_id..self.t.count() {
            if self.kind(id) != FWD || self.m(id) != id {
                continue;
            }
            let Some(&cand) = names.get(&self.name(id)) else {
                continue;
            };
            if cand == 0 {
                continue;
            }
            let union = self.kflag(id);
            let ck = self.kind(cand);
            if (ck == STRUCT && union) || (ck == UNION && !union) {
                continue;
            }
            self.set_m(id, cand);
        }
        Ok(())
    }

    /// Pass 4: reference types, after their targets.
    pub fn ref_types(&mut self) -> Result<()> {
        let mut stack: Vec<(u32, u32)> = Vec::new();
        let n = self.t.count();
        for id in self.start_id..n {
            if self.start_id == 1 {
                // Types are mostly finished in id order: warm the set's slot
                // of a type a little ahead (a hint only; nothing depends on it).
                let ahead = id.saturating_add(PREFETCH_AHEAD);
                if ahead < n {
                    if let Some(h) = self.spec_ref_hash(ahead) {
                        self.refs.prefetch(mix64(h));
                    }
                }
            }
            self.ref_type(id, &mut stack)?;
        }
        self.cands = Cands::default();
        Ok(())
    }

    /// The hash [`Dedup::ref_hash`] will give `id` once its referenced types
    /// are canonical, if they all are already; `None` otherwise.
    fn spec_ref_hash(&self, id: u32) -> Option<u64> {
        if self.m(id) != UNPROCESSED {
            return None;
        }
        let k = self.kind(id);
        let off = self.off(id);
        let w = |i: usize| self.t.w(off + i);
        let canon = |c: u32| -> Option<u32> {
            let m = self.m(c);
            if m > MAX_NR_TYPES {
                return None;
            }
            self.resolve(c).ok()
        };
        let common = |sot: u32| hc(hc(hc(0, w(0)), w(1)), sot);
        Some(match k {
            CONST | VOLATILE | RESTRICT | PTR | TYPEDEF | FUNC | TYPE_TAG => common(canon(w(2))?),
            DECL_TAG => hc(common(canon(w(2))?), w(3)),
            ARRAY => hc(hc(hc(common(w(2)), canon(w(3))?), canon(w(4))?), w(5)),
            FUNC_PROTO => {
                let mut h = common(canon(w(2))?);
                for i in 0..self.vlen(id) as usize {
                    h = hc(h, w(3 + 2 * i));
                    h = hc(h, canon(w(4 + 2 * i))?);
                }
                h
            }
            _ => return None,
        })
    }

    /// Number of referenced types a reference type resolves before it is
    /// hashed, and the word (relative to its record) of the `i`-th.
    fn ref_children(&self, id: u32) -> u32 {
        match self.kind(id) {
            ARRAY => 2,
            FUNC_PROTO => 1 + self.vlen(id),
            _ => 1,
        }
    }

    fn ref_child_word(&self, id: u32, i: u32) -> usize {
        let off = self.off(id);
        let i = i as usize;
        off + match self.kind(id) {
            ARRAY => 3 + i, // element type, then index type
            FUNC_PROTO => {
                if i == 0 {
                    2
                } else {
                    3 + 2 * (i - 1) + 1
                }
            }
            _ => 2,
        }
    }

    /// Enters a type for the reference pass: `Ok(Some(id))` when it is done
    /// already, `Ok(None)` when it was pushed to be processed.
    fn ref_enter(&mut self, id: u32, stack: &mut Vec<(u32, u32)>) -> Result<Option<u32>> {
        let m = self.m(id);
        if m == IN_PROGRESS {
            return Err(Error::new("reference types form a loop").with_type(id));
        }
        if m <= MAX_NR_TYPES {
            return self.resolve(id).map(Some);
        }
        match self.kind(id) {
            CONST | VOLATILE | RESTRICT | PTR | TYPEDEF | FUNC | TYPE_TAG | DECL_TAG | ARRAY
            | FUNC_PROTO => {}
            k => {
                return Err(Error::new(format!(
                    "{} type left unprocessed by the earlier passes",
                    btf::Kind::name_of(k)
                ))
                .with_type(id))
            }
        }
        self.set_m(id, IN_PROGRESS);
        stack.push((id, 0));
        Ok(None)
    }

    /// libbpf's `btf_dedup_ref_type`, with an explicit stack: children are
    /// resolved in order and written back into the record, then the type is
    /// hashed and looked up.
    fn ref_type(&mut self, id: u32, stack: &mut Vec<(u32, u32)>) -> Result<u32> {
        stack.clear();
        if let Some(r) = self.ref_enter(id, stack)? {
            return Ok(r);
        }
        let mut last = 0;
        while let Some(&(cur, i)) = stack.last() {
            if i < self.ref_children(cur) {
                let word = self.ref_child_word(cur, i);
                let child = self.t.w(word);
                match self.ref_enter(child, stack)? {
                    Some(r) => {
                        self.t.set_w(word, r);
                        if let Some(top) = stack.last_mut() {
                            top.1 += 1;
                        }
                    }
                    None => continue,
                }
                continue;
            }
            stack.pop();
            let new_id = self.ref_finish(cur);
            last = new_id;
            if let Some(&(parent, pi)) = stack.last() {
                let word = self.ref_child_word(parent, pi);
                self.t.set_w(word, new_id);
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
            }
        }
        Ok(last)
    }

    /// Hashes a reference type whose children are canonical and finds its
    /// canonical representative (itself if none).
    fn ref_hash(&self, id: u32) -> u64 {
        match self.kind(id) {
            DECL_TAG => self.hash_int_tag(id),
            ARRAY => self.hash_array(id),
            FUNC_PROTO => self.hash_fnproto(id),
            _ => self.hash_common(id),
        }
    }

    fn ref_equal(&self, k: u8, a: u32, b: u32) -> bool {
        match k {
            DECL_TAG => self.equal_int_tag(a, b),
            ARRAY => self.equal_array(a, b),
            FUNC_PROTO => self.equal_fnproto(a, b),
            _ => self.equal_common(a, b),
        }
    }

    fn ref_finish(&mut self, id: u32) -> u32 {
        let k = self.kind(id);
        let h = self.ref_hash(id);
        if self.start_id == 1 {
            // No base: exact equality, at most one match (see `IdSet`).
            let mh = mix64(h);
            let new_id = self
                .refs
                .find(mh, |c| self.ref_equal(k, id, c))
                .unwrap_or(id);
            self.set_m(id, new_id);
            if new_id == id {
                let mut refs = std::mem::take(&mut self.refs);
                let me = &*self;
                refs.insert(mh, id, |o| mix64(me.ref_hash(o)));
                self.refs = refs;
            }
            return new_id;
        }
        let list = self.cands.take(h);
        let mut new_id = id;
        let mut i = 0;
        while let Some(cand) = self.cands.nth(&list, i) {
            i += 1;
            if self.ref_equal(k, id, cand) {
                new_id = cand;
                break;
            }
        }
        self.cands.put(h, list);
        self.set_m(id, new_id);
        if new_id == id {
            self.cands.add(h, id);
        }
        new_id
    }

    /// Passes 5 and 6: compaction and remapping. Returns the own canonical
    /// records, renumbered, as words, and their number.
    pub fn compact_remap(&mut self) -> Result<(Vec<u32>, u32)> {
        let n = self.t.count();
        // `hypot` now maps an old id to its new id.
        for id in 0..n {
            let v = if id < self.start_id { id } else { UNPROCESSED };
            self.set_hyp(id, v);
        }
        let mut next = self.start_id;
        let mut len = 0usize;
        for id in self.start_id..n {
            if self.m(id) == id {
                self.set_hyp(id, next);
                next += 1;
                len += self.t.record(id).len();
            }
        }
        let mut out = Vec::with_capacity(len);
        for id in self.start_id..n {
            if self.m(id) != id {
                continue;
            }
            let base = out.len();
            let off = self.off(id);
            out.extend_from_slice(self.t.record(id));
            let mut err = None;
            let mut fix = Vec::new();
            self.t.for_each_type_ref(id, |at, r| {
                if err.is_some() {
                    return;
                }
                match self.resolve(r) {
                    Ok(rr) => {
                        let new = self.hyp(rr);
                        if new > MAX_NR_TYPES {
                            err = Some(
                                Error::new(format!(
                                    "refers to type {r}, which has no canonical type (libbpf fails with EINVAL)"
                                ))
                                .with_type(id),
                            );
                        } else {
                            fix.push((at - off, new));
                        }
                    }
                    Err(e) => err = Some(e),
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            for (rel, v) in fix {
                if let Some(x) = out.get_mut(base + rel) {
                    *x = v;
                }
            }
        }
        Ok((out, next - self.start_id))
    }
}

#[inline]
fn bool_step(b: bool) -> Step {
    if b {
        Step::Equal
    } else {
        Step::Differ
    }
}

fn cycle(id: u32) -> Error {
    Error::new("canonical type map has a cycle (inconsistent input)").with_type(id)
}
