//! Structural diff of two BTFs, ids and order aside.
//!
//! # The equivalence
//!
//! Each type `T` gets a *shape*: a 64-bit hash of
//! - its kind and its name (the empty string for anonymous types), and
//! - its kind's contents:
//!   - INT: size, encoding, bit offset, bit count; FLOAT: size;
//!   - STRUCT, UNION: size, and per member in order: name, bit offset,
//!     bitfield size (0 for none; the owner's `kind_flag` itself is not
//!     compared, only the offsets and sizes it encodes), and the member type's
//!     *reference*;
//!   - ENUM, ENUM64: size, signedness, and per enumerator in order: name, value;
//!   - FWD: struct or union;
//!   - PTR, TYPEDEF, CONST, VOLATILE, RESTRICT, TYPE_TAG: the target's reference;
//!   - ARRAY: element count and the element type's reference (the index type
//!     is not compared: it does not change the C type and producers differ);
//!   - FUNC: linkage and the prototype's reference; FUNC_PROTO: the return
//!     type's reference, and per parameter in order: name, type reference;
//!   - VAR: linkage and the type's reference; DATASEC: size, and per variable:
//!     offset, size, the variable's reference; DECL_TAG: component index and
//!     the tagged type's reference.
//!
//! The *reference* to a type `U` is
//! - `void` for id 0;
//! - for a *named nominal* type (a STRUCT, UNION, ENUM, ENUM64, FWD, TYPEDEF,
//!   INT, FLOAT, FUNC, VAR or DATASEC with a non-empty name): its kind and name
//!   only. A named type's definition is compared where it stands, once, and not
//!   again in every type that refers to it; this also cuts every cycle of BTF
//!   made from C, since such a cycle always passes through a named struct or union;
//! - for every other type (PTR, ARRAY, modifiers, FUNC_PROTO, anonymous
//!   STRUCT/UNION/ENUM, DECL_TAG, TYPE_TAG): its shape, recursively.
//!
//! Two types are *equivalent* when their shapes are equal. Cycles through
//! anonymous types only (not produced by compilers, possible in hand-made BTF)
//! are cut with a fixed back-reference marker; for those the shape depends on
//! where the cycle was entered, so two such graphs may compare unequal
//! although they are isomorphic.
//!
//! # Matching
//!
//! Only each BTF's own types are reported (for split BTF, not the base's;
//! base types are hashed as needed when own types refer to them). The own
//! types of A and B are matched as multisets of shapes: a shape occurring `m`
//! times in A and `n` times in B matches `min(m, n)` times. Of what is left,
//! named nominal types with the same kind and name on both sides are paired
//! (in id order within each name) and reported as *differing*, with what
//! changed; the rest is *only in A* or *only in B*.
//!
//! Cost: every type is hashed once (an iterative DFS, no recursion on input),
//! then the two shape lists are sorted and merged: O(n log n) for n types.
//!
//! # Output
//!
//! Changes of a differing pair are indented with a tab. Sorted by kind, name, shape and id, so that the output does not depend on
//! the order of types in the inputs (except for the ids it prints):
//!
//! ```text
//! only_a: [12] STRUCT 'gone' size=8 vlen=1
//! only_b: [40] PTR '(anon)' -> STRUCT 'new'
//! differ: STRUCT 'task' (a [3], b [7])
//!     size 16 -> 24
//!     member 'prio' added at bit 128: INT 'int'
//! only_a=1 only_b=1 differ=1
//! ```

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};

use btf::{Btf, Kind, StrOff, Type, TypeData, TypeId};

/// What to report.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Report only types of these kinds (all kinds when `None`). The kind of a
    /// differing pair is the same on both sides.
    pub kinds: Option<Vec<Kind>>,
}

impl Options {
    fn wants(&self, k: Kind) -> bool {
        match &self.kinds {
            Some(ks) => ks.contains(&k),
            None => true,
        }
    }
}

/// Parses a kind name as bpftool prints it, in any case (`struct`,
/// `FUNC_PROTO`, `func-proto`).
pub fn parse_kind(s: &str) -> Option<Kind> {
    let want = s.trim().replace('-', "_").to_ascii_uppercase();
    (1..=Kind::MAX)
        .filter_map(Kind::from_u8)
        .find(|k| k.name() == want)
}

/// A named type defined differently in A and B.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Differ {
    /// Its id in A.
    pub a: TypeId,
    /// Its id in B.
    pub b: TypeId,
    /// What changed, one line each (`size 16 -> 24`, `member 'x' removed`).
    pub changes: Vec<String>,
}

/// The result of [`diff`]: own types of A without a match in B, of B without
/// a match in A, and named types defined differently, in report order.
#[derive(Clone, Debug, Default)]
pub struct Diff {
    /// Types only A has.
    pub only_a: Vec<TypeId>,
    /// Types only B has.
    pub only_b: Vec<TypeId>,
    /// Named types of the same kind and name with different definitions.
    pub differ: Vec<Differ>,
}

/// Compares the own types of `a` and `b` (see the module doc).
pub fn diff(a: &Btf, b: &Btf) -> Diff {
    let mut sa = Shapes::new(a);
    let mut sb = Shapes::new(b);
    let ha = sa.own_shapes();
    let hb = sb.own_shapes();

    // Multiset match of shapes: sort (shape, id) on both sides and merge.
    let mut la: Vec<(u64, TypeId)> = ha;
    let mut lb: Vec<(u64, TypeId)> = hb;
    la.sort_unstable();
    lb.sort_unstable();
    let (mut left_a, mut left_b) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < la.len() || j < lb.len() {
        match (la.get(i), lb.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                left_a.push(*x);
                i += 1;
            }
            (Some(_), Some(y)) => {
                left_b.push(*y);
                j += 1;
            }
            (Some(x), None) => {
                left_a.push(*x);
                i += 1;
            }
            (None, Some(y)) => {
                left_b.push(*y);
                j += 1;
            }
            (None, None) => break,
        }
    }

    // Pair leftover named nominal types by (kind, name), in id order.
    let mut named_a: Vec<(Kind, &[u8], TypeId)> = Vec::new();
    let mut named_b: Vec<(Kind, &[u8], TypeId)> = Vec::new();
    let mut rest_a = Vec::new();
    let mut rest_b = Vec::new();
    for (list, named, rest, btf) in [
        (&left_a, &mut named_a, &mut rest_a, a),
        (&left_b, &mut named_b, &mut rest_b, b),
    ] {
        for &(h, id) in list {
            match btf.type_by_id(id).and_then(|t| nominal_name(btf, t)) {
                Some((k, n)) => named.push((k, n, id)),
                None => rest.push((h, id)),
            }
        }
        named.sort_unstable();
    }
    let mut differ = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < named_a.len() || j < named_b.len() {
        let ka = named_a.get(i).map(|x| (x.0, x.1));
        let kb = named_b.get(j).map(|x| (x.0, x.1));
        match (ka, kb) {
            (Some(x), Some(y)) if x == y => {
                let (ia, ib) = (named_a[i].2, named_b[j].2);
                differ.push(Differ {
                    a: ia,
                    b: ib,
                    changes: changes(&mut sa, &mut sb, ia, ib),
                });
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                rest_a.push((sa.shape(named_a[i].2), named_a[i].2));
                i += 1;
            }
            (Some(_), Some(_)) | (None, Some(_)) => {
                rest_b.push((sb.shape(named_b[j].2), named_b[j].2));
                j += 1;
            }
            (Some(_), None) => {
                rest_a.push((sa.shape(named_a[i].2), named_a[i].2));
                i += 1;
            }
            (None, None) => break,
        }
    }

    Diff {
        only_a: report_order(a, rest_a),
        only_b: report_order(b, rest_b),
        differ,
    }
}

/// Sorts types by kind, name, shape, id.
fn report_order(btf: &Btf, v: Vec<(u64, TypeId)>) -> Vec<TypeId> {
    let mut keyed: Vec<(Option<Kind>, &[u8], u64, TypeId)> = v
        .into_iter()
        .map(|(h, id)| {
            let t = btf.type_by_id(id);
            let n = t
                .and_then(|t| btf.str_bytes(t.name_off))
                .unwrap_or_default();
            (t.map(Type::kind), n, h, id)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|x| x.3).collect()
}

impl Diff {
    /// The counts `(only_a, only_b, differ)` of what `opts` reports.
    pub fn counts(&self, a: &Btf, b: &Btf, opts: &Options) -> (usize, usize, usize) {
        let kind_ok =
            |btf: &Btf, id: TypeId| btf.type_by_id(id).is_some_and(|t| opts.wants(t.kind()));
        (
            self.only_a.iter().filter(|&&id| kind_ok(a, id)).count(),
            self.only_b.iter().filter(|&&id| kind_ok(b, id)).count(),
            self.differ.iter().filter(|d| kind_ok(a, d.a)).count(),
        )
    }

    /// Prints the report (see the module doc), ending with the line
    /// `only_a=N only_b=N differ=N`.
    pub fn print(&self, a: &Btf, b: &Btf, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
        let kind_ok =
            |btf: &Btf, id: TypeId| btf.type_by_id(id).is_some_and(|t| opts.wants(t.kind()));
        for &id in self.only_a.iter().filter(|&&id| kind_ok(a, id)) {
            writeln!(out, "only_a: [{}] {}", id.0, summary(a, id))?;
        }
        for &id in self.only_b.iter().filter(|&&id| kind_ok(b, id)) {
            writeln!(out, "only_b: [{}] {}", id.0, summary(b, id))?;
        }
        for d in self.differ.iter().filter(|d| kind_ok(a, d.a)) {
            writeln!(
                out,
                "differ: {} (a [{}], b [{}])",
                describe(a, d.a, 0),
                d.a.0,
                d.b.0
            )?;
            for c in &d.changes {
                writeln!(out, "\t{c}")?;
            }
        }
        let (na, nb, nd) = self.counts(a, b, opts);
        writeln!(out, "only_a={na} only_b={nb} differ={nd}")
    }
}

/// The name as text (`""` for anonymous types; bytes that are not UTF-8 replaced).
fn name(btf: &Btf, off: StrOff) -> String {
    String::from_utf8_lossy(btf.str_bytes(off).unwrap_or_default()).into_owned()
}

/// For a named nominal type, its kind and name (see the module doc).
fn nominal_name<'a>(btf: &'a Btf, t: &Type) -> Option<(Kind, &'a [u8])> {
    let nominal = matches!(
        t.kind(),
        Kind::Struct
            | Kind::Union
            | Kind::Enum
            | Kind::Enum64
            | Kind::Fwd
            | Kind::Typedef
            | Kind::Int
            | Kind::Float
            | Kind::Func
            | Kind::Var
            | Kind::Datasec
    );
    if !nominal || t.name_off.is_empty() {
        return None;
    }
    let n = btf.str_bytes(t.name_off)?;
    (!n.is_empty()).then_some((t.kind(), n))
}

/// The hash behind shapes: SipHash with fixed keys, so that shapes are the
/// same from run to run.
fn hasher() -> std::hash::DefaultHasher {
    std::hash::DefaultHasher::new()
}

const VOID: u64 = 0x766f_6964;
const CYCLE: u64 = 0x6379_636c_6521;
const BAD_ID: u64 = 0x6261_6469_6421;

/// Shapes of one BTF's types, computed on demand and memoized.
///
/// Invariants: `state[i]` is 0 (not visited), 1 (entered, its shape being
/// computed: it is on the DFS path) or 2 (done: `memo[i]` holds its shape).
/// `token[i]` is the reference to a named nominal type `i` (its low bit set),
/// 0 for every other type.
struct Shapes<'a> {
    btf: &'a Btf,
    memo: Vec<u64>,
    state: Vec<u8>,
    token: Vec<u64>,
}

impl<'a> Shapes<'a> {
    fn new(btf: &'a Btf) -> Self {
        let n = btf.type_count() as usize;
        let mut token = vec![0; n];
        for (id, t) in btf.types() {
            if let (Some((k, name)), Some(slot)) =
                (nominal_name(btf, t), token.get_mut(id.0 as usize))
            {
                let mut h = hasher();
                (1u8, k.as_u8(), name).hash(&mut h);
                *slot = h.finish() | 1;
            }
        }
        Shapes {
            btf,
            memo: vec![0; n],
            state: vec![0; n],
            token,
        }
    }

    /// `(shape, id)` for every own type, in id order.
    fn own_shapes(&mut self) -> Vec<(u64, TypeId)> {
        let ids: Vec<TypeId> = self.btf.own_types().map(|(id, _)| id).collect();
        ids.into_iter().map(|id| (self.shape(id), id)).collect()
    }

    /// The shape of type `id` (see the module doc).
    fn shape(&mut self, id: TypeId) -> u64 {
        let i = id.0 as usize;
        if self.state.get(i) != Some(&2) {
            self.compute(id);
        }
        self.memo.get(i).copied().unwrap_or(BAD_ID)
    }

    /// The reference to `id` as it enters a referring type's shape. Must only
    /// be called once the structural children are done (or on the DFS path).
    fn reference(&self, id: TypeId) -> u64 {
        if id.is_void() {
            return VOID;
        }
        let i = id.0 as usize;
        match (self.token.get(i), self.state.get(i)) {
            (None, _) => BAD_ID,
            (Some(&tok), _) if tok != 0 => tok,
            (_, Some(2)) => self.memo[i],
            _ => CYCLE,
        }
    }

    /// [`Shapes::reference`], computing `id`'s shape first when needed.
    fn reference_now(&mut self, id: TypeId) -> u64 {
        if self.is_structural(id) {
            self.shape(id);
        }
        self.reference(id)
    }

    /// Whether a reference to `id` needs `id`'s shape (not void, not nominal).
    fn is_structural(&self, id: TypeId) -> bool {
        !id.is_void() && self.token.get(id.0 as usize) == Some(&0)
    }

    /// Computes the shapes of `root` and of every structural type it reaches,
    /// by an iterative post-order DFS (no recursion: chains may be long).
    fn compute(&mut self, root: TypeId) {
        enum Step {
            Enter(TypeId),
            Exit(TypeId),
        }
        let mut stack = vec![Step::Enter(root)];
        let mut kids = Vec::new();
        while let Some(step) = stack.pop() {
            match step {
                Step::Enter(id) => {
                    let i = id.0 as usize;
                    if self.state.get(i) != Some(&0) {
                        continue;
                    }
                    self.state[i] = 1;
                    stack.push(Step::Exit(id));
                    let Some(t) = self.btf.type_by_id(id) else {
                        continue;
                    };
                    kids.clear();
                    shape_refs(t, |r| kids.push(r));
                    for &k in kids.iter().rev() {
                        if self.state.get(k.0 as usize) == Some(&0) && self.is_structural(k) {
                            stack.push(Step::Enter(k));
                        }
                    }
                }
                Step::Exit(id) => {
                    let i = id.0 as usize;
                    let h = match self.btf.type_by_id(id) {
                        Some(t) => self.local(t),
                        None => BAD_ID,
                    };
                    self.memo[i] = h;
                    self.state[i] = 2;
                }
            }
        }
    }

    /// The shape of `t` from its own fields and its references.
    fn local(&self, t: &Type) -> u64 {
        let btf = self.btf;
        let mut h = hasher();
        let kf = t.kind_flag;
        (0u8, t.kind().as_u8()).hash(&mut h);
        btf.str_bytes(t.name_off).unwrap_or_default().hash(&mut h);
        let r = |id: TypeId| self.reference(id);
        match &t.data {
            TypeData::Int(i) => (i.size, i.encoding, i.offset, i.bits).hash(&mut h),
            TypeData::Float(f) => f.size.hash(&mut h),
            TypeData::Ptr(x)
            | TypeData::Typedef(x)
            | TypeData::Const(x)
            | TypeData::Volatile(x)
            | TypeData::Restrict(x)
            | TypeData::TypeTag(x) => r(*x).hash(&mut h),
            TypeData::Array(a) => (a.nelems, r(a.elem)).hash(&mut h),
            TypeData::Struct(c) | TypeData::Union(c) => {
                (c.size, c.members.len()).hash(&mut h);
                for m in &c.members {
                    btf.str_bytes(m.name_off).unwrap_or_default().hash(&mut h);
                    (m.bit_offset(kf), m.bitfield_size(kf), r(m.ty)).hash(&mut h);
                }
            }
            TypeData::Enum(e) => {
                (e.size, kf, e.values.len()).hash(&mut h);
                for v in &e.values {
                    btf.str_bytes(v.name_off).unwrap_or_default().hash(&mut h);
                    v.val.hash(&mut h);
                }
            }
            TypeData::Enum64(e) => {
                (e.size, kf, e.values.len()).hash(&mut h);
                for v in &e.values {
                    btf.str_bytes(v.name_off).unwrap_or_default().hash(&mut h);
                    v.val.hash(&mut h);
                }
            }
            TypeData::Fwd => kf.hash(&mut h),
            TypeData::Func(f) => (f.linkage, r(f.proto)).hash(&mut h),
            TypeData::FuncProto(p) => {
                (r(p.ret), p.params.len()).hash(&mut h);
                for q in &p.params {
                    btf.str_bytes(q.name_off).unwrap_or_default().hash(&mut h);
                    r(q.ty).hash(&mut h);
                }
            }
            TypeData::Var(v) => (v.linkage, r(v.ty)).hash(&mut h),
            TypeData::Datasec(d) => {
                (d.size, d.vars.len()).hash(&mut h);
                for v in &d.vars {
                    (v.offset, v.size, r(v.ty)).hash(&mut h);
                }
            }
            TypeData::DeclTag(d) => (d.component_idx, r(d.ty)).hash(&mut h),
        }
        h.finish()
    }
}

/// Calls `f` on every type id that enters `t`'s shape (all references but an
/// ARRAY's index type).
fn shape_refs(t: &Type, mut f: impl FnMut(TypeId)) {
    match &t.data {
        TypeData::Array(a) => f(a.elem),
        _ => t.for_each_type_id(f),
    }
}

/// A short description of a type for the report: `STRUCT 'foo'` for named
/// types, the structure down to named types (at most a few levels) for others.
fn describe(btf: &Btf, id: TypeId, depth: u32) -> String {
    if id.is_void() {
        return "void".into();
    }
    let Some(t) = btf.type_by_id(id) else {
        return format!("<bad id {}>", id.0);
    };
    let kind = t.kind().name();
    let named = !t.name_off.is_empty();
    let label = if named {
        format!("{kind} '{}'", name(btf, t.name_off))
    } else {
        format!("{kind} '(anon)'")
    };
    if nominal_name(btf, t).is_some() {
        return label;
    }
    if depth >= 4 {
        return format!("{label} ...");
    }
    let d = |x: TypeId| describe(btf, x, depth + 1);
    match &t.data {
        TypeData::Ptr(x)
        | TypeData::Typedef(x)
        | TypeData::Const(x)
        | TypeData::Volatile(x)
        | TypeData::Restrict(x)
        | TypeData::TypeTag(x) => format!("{label} -> {}", d(*x)),
        TypeData::Array(a) => format!("{label} [{}] of {}", a.nelems, d(a.elem)),
        TypeData::Struct(c) | TypeData::Union(c) => {
            format!("{label} size={} vlen={}", c.size, c.members.len())
        }
        TypeData::Enum(e) => format!("{label} size={} vlen={}", e.size, e.values.len()),
        TypeData::Enum64(e) => format!("{label} size={} vlen={}", e.size, e.values.len()),
        TypeData::FuncProto(p) => {
            let params: Vec<String> = p.params.iter().map(|q| d(q.ty)).collect();
            format!("{label} ({}) -> {}", params.join(", "), d(p.ret))
        }
        TypeData::DeclTag(x) => format!("{label} on {} component {}", d(x.ty), x.component_idx),
        _ => label,
    }
}

/// A type's line in the `only_a`/`only_b` lists: [`describe`], plus size and
/// count for named composites and enums.
fn summary(btf: &Btf, id: TypeId) -> String {
    let base = describe(btf, id, 0);
    match btf
        .type_by_id(id)
        .map(|t| (&t.data, nominal_name(btf, t).is_some()))
    {
        Some((TypeData::Struct(c) | TypeData::Union(c), true)) => {
            format!("{base} size={} vlen={}", c.size, c.members.len())
        }
        Some((TypeData::Enum(e), true)) => {
            format!("{base} size={} vlen={}", e.size, e.values.len())
        }
        Some((TypeData::Enum64(e), true)) => {
            format!("{base} size={} vlen={}", e.size, e.values.len())
        }
        Some((TypeData::Typedef(x), true)) => format!("{base} -> {}", describe(btf, *x, 1)),
        Some((TypeData::Func(f), true)) => format!("{base}: {}", describe(btf, f.proto, 1)),
        Some((TypeData::Var(v), true)) => format!("{base}: {}", describe(btf, v.ty, 1)),
        _ => base,
    }
}

/// What differs between `ia` in A and `ib` in B (same kind and name).
fn changes(a: &mut Shapes<'_>, b: &mut Shapes<'_>, ia: TypeId, ib: TypeId) -> Vec<String> {
    let mut out = Vec::new();
    let (Some(ta), Some(tb)) = (a.btf.type_by_id(ia), b.btf.type_by_id(ib)) else {
        return vec!["definition differs".into()];
    };
    let (ta, tb) = (ta.clone(), tb.clone());
    let num = |out: &mut Vec<String>, what: &str, x: u64, y: u64| {
        if x != y {
            out.push(format!("{what} {x} -> {y}"));
        }
    };
    match (&ta.data, &tb.data) {
        (TypeData::Int(x), TypeData::Int(y)) => {
            num(&mut out, "size", x.size.into(), y.size.into());
            num(&mut out, "bits_offset", x.offset.into(), y.offset.into());
            num(&mut out, "nr_bits", x.bits.into(), y.bits.into());
            if x.encoding != y.encoding {
                out.push(format!(
                    "encoding {} -> {}",
                    crate::raw::int_encoding(x.encoding),
                    crate::raw::int_encoding(y.encoding)
                ));
            }
        }
        (TypeData::Float(x), TypeData::Float(y)) => {
            num(&mut out, "size", x.size.into(), y.size.into())
        }
        (TypeData::Fwd, TypeData::Fwd) => {
            let k = |u: bool| if u { "union" } else { "struct" };
            out.push(format!(
                "fwd_kind {} -> {}",
                k(ta.kind_flag),
                k(tb.kind_flag)
            ));
        }
        (TypeData::Struct(x), TypeData::Struct(y)) | (TypeData::Union(x), TypeData::Union(y)) => {
            num(&mut out, "size", x.size.into(), y.size.into());
            member_changes(a, b, &ta, &tb, &mut out);
        }
        (TypeData::Enum(x), TypeData::Enum(y)) => {
            num(&mut out, "size", x.size.into(), y.size.into());
            let va: Vec<_> = x
                .values
                .iter()
                .map(|v| (v.name_off, i64::from(v.val as i32)))
                .collect();
            let vb: Vec<_> = y
                .values
                .iter()
                .map(|v| (v.name_off, i64::from(v.val as i32)))
                .collect();
            enum_changes(a, b, &ta, &tb, &va, &vb, &mut out);
        }
        (TypeData::Enum64(x), TypeData::Enum64(y)) => {
            num(&mut out, "size", x.size.into(), y.size.into());
            let va: Vec<_> = x
                .values
                .iter()
                .map(|v| (v.name_off, v.val as i64))
                .collect();
            let vb: Vec<_> = y
                .values
                .iter()
                .map(|v| (v.name_off, v.val as i64))
                .collect();
            enum_changes(a, b, &ta, &tb, &va, &vb, &mut out);
        }
        (TypeData::Typedef(x), TypeData::Typedef(y)) => {
            ref_change(a, b, "type", *x, *y, &mut out);
        }
        (TypeData::Func(x), TypeData::Func(y)) => {
            if x.linkage != y.linkage {
                out.push(format!(
                    "linkage {} -> {}",
                    crate::raw::linkage_name(x.linkage.into()),
                    crate::raw::linkage_name(y.linkage.into())
                ));
            }
            proto_changes(a, b, x.proto, y.proto, &mut out);
        }
        (TypeData::Var(x), TypeData::Var(y)) => {
            if x.linkage != y.linkage {
                out.push(format!(
                    "linkage {} -> {}",
                    crate::raw::linkage_name(x.linkage),
                    crate::raw::linkage_name(y.linkage)
                ));
            }
            ref_change(a, b, "type", x.ty, y.ty, &mut out);
        }
        (TypeData::Datasec(x), TypeData::Datasec(y)) => {
            num(&mut out, "size", x.size.into(), y.size.into());
            num(&mut out, "vlen", x.vars.len() as u64, y.vars.len() as u64);
        }
        _ => {}
    }
    if out.is_empty() {
        out.push("definition differs".into());
    }
    out
}

/// Records `what OLD -> NEW` when two references differ.
fn ref_change(
    a: &mut Shapes<'_>,
    b: &mut Shapes<'_>,
    what: &str,
    x: TypeId,
    y: TypeId,
    out: &mut Vec<String>,
) {
    if a.reference_now(x) != b.reference_now(y) {
        let (dx, dy) = (describe(a.btf, x, 1), describe(b.btf, y, 1));
        if dx == dy {
            out.push(format!("{what} {dx} differs in structure"));
        } else {
            out.push(format!("{what} {dx} -> {dy}"));
        }
    }
}

/// Member changes of a STRUCT/UNION pair: named members matched by name,
/// anonymous ones by their rank among the anonymous members.
fn member_changes(
    a: &mut Shapes<'_>,
    b: &mut Shapes<'_>,
    ta: &Type,
    tb: &Type,
    out: &mut Vec<String>,
) {
    let (Some(ma), Some(mb)) = (ta.members(), tb.members()) else {
        return;
    };
    let key = |btf: &Btf, ms: &[btf::types::Member]| -> Vec<(String, usize)> {
        let mut anon = 0usize;
        ms.iter()
            .map(|m| {
                let n = name(btf, m.name_off);
                if n.is_empty() {
                    anon += 1;
                    (String::new(), anon)
                } else {
                    (n, 0)
                }
            })
            .collect()
    };
    let ka = key(a.btf, ma);
    let kb = key(b.btf, mb);
    let label = |k: &(String, usize)| {
        if k.0.is_empty() {
            format!("anonymous member #{}", k.1)
        } else {
            format!("member '{}'", k.0)
        }
    };
    let index_b: HashMap<&(String, usize), usize> =
        kb.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let index_a: HashMap<&(String, usize), usize> =
        ka.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let (fa, fb) = (ta.kind_flag, tb.kind_flag);
    let mut same_order = true;
    let mut last_j = None;
    for (i, k) in ka.iter().enumerate() {
        let m = ma[i];
        match index_b.get(k) {
            None => out.push(format!(
                "{} removed (was at bit {}: {})",
                label(k),
                m.bit_offset(fa),
                describe(a.btf, m.ty, 1)
            )),
            Some(&j) => {
                if last_j.is_some_and(|l| j < l) {
                    same_order = false;
                }
                last_j = Some(j);
                let n = mb[j];
                if m.bit_offset(fa) != n.bit_offset(fb) {
                    out.push(format!(
                        "{} offset {} -> {}",
                        label(k),
                        m.bit_offset(fa),
                        n.bit_offset(fb)
                    ));
                }
                if m.bitfield_size(fa) != n.bitfield_size(fb) {
                    out.push(format!(
                        "{} bitfield_size {} -> {}",
                        label(k),
                        m.bitfield_size(fa),
                        n.bitfield_size(fb)
                    ));
                }
                ref_change(a, b, &format!("{} type", label(k)), m.ty, n.ty, out);
            }
        }
    }
    for (j, k) in kb.iter().enumerate() {
        if !index_a.contains_key(k) {
            let n = mb[j];
            out.push(format!(
                "{} added at bit {}: {}",
                label(k),
                n.bit_offset(fb),
                describe(b.btf, n.ty, 1)
            ));
        }
    }
    if !same_order {
        out.push("member order changed".into());
    }
}

/// Enumerator changes, matched by name.
fn enum_changes(
    a: &Shapes<'_>,
    b: &Shapes<'_>,
    ta: &Type,
    tb: &Type,
    va: &[(StrOff, i64)],
    vb: &[(StrOff, i64)],
    out: &mut Vec<String>,
) {
    if ta.kind_flag != tb.kind_flag {
        let s = |f: bool| if f { "SIGNED" } else { "UNSIGNED" };
        out.push(format!(
            "encoding {} -> {}",
            s(ta.kind_flag),
            s(tb.kind_flag)
        ));
    }
    let na: Vec<(String, i64)> = va.iter().map(|&(n, v)| (name(a.btf, n), v)).collect();
    let nb: Vec<(String, i64)> = vb.iter().map(|&(n, v)| (name(b.btf, n), v)).collect();
    let mb: HashMap<&str, i64> = nb.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let ma: HashMap<&str, i64> = na.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    for (n, v) in &na {
        match mb.get(n.as_str()) {
            None => out.push(format!("value '{n}' removed (was {v})")),
            Some(w) if w != v => out.push(format!("value '{n}' {v} -> {w}")),
            Some(_) => {}
        }
    }
    for (n, v) in &nb {
        if !ma.contains_key(n.as_str()) {
            out.push(format!("value '{n}' added ({v})"));
        }
    }
}

/// Prototype changes of a FUNC pair: return type, parameter count, names, types.
fn proto_changes(
    a: &mut Shapes<'_>,
    b: &mut Shapes<'_>,
    pa: TypeId,
    pb: TypeId,
    out: &mut Vec<String>,
) {
    let get = |btf: &Btf, id: TypeId| match btf.type_by_id(id).map(|t| &t.data) {
        Some(TypeData::FuncProto(p)) => Some(p.clone()),
        _ => None,
    };
    let (Some(x), Some(y)) = (get(a.btf, pa), get(b.btf, pb)) else {
        ref_change(a, b, "prototype", pa, pb, out);
        return;
    };
    ref_change(a, b, "return type", x.ret, y.ret, out);
    if x.params.len() != y.params.len() {
        out.push(format!(
            "parameter count {} -> {}",
            x.params.len(),
            y.params.len()
        ));
    }
    for (i, (p, q)) in x.params.iter().zip(&y.params).enumerate() {
        let (np, nq) = (name(a.btf, p.name_off), name(b.btf, q.name_off));
        if np != nq {
            out.push(format!("parameter #{i} name '{np}' -> '{nq}'"));
        }
        ref_change(
            a,
            b,
            &format!("parameter #{i} '{nq}' type"),
            p.ty,
            q.ty,
            out,
        );
    }
}
