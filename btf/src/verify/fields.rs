//! Special fields of user BTF (the kernel's `btf_parse_struct_metas`, with
//! `btf_parse_fields`, `btf_find_field` and its helpers,
//! `btf_check_and_fixup_fields` and `btf_check_ownership_depth`), run by
//! `BPF_BTF_LOAD` on base BTF after the type checks. The kernel logs nothing
//! here: a failure only sets the errno, and our message says which rule failed.
//!
//! Structs that have a member of an "allocated object" type (`bpf_spin_lock`,
//! `bpf_list_head`, `bpf_list_node`, `bpf_rb_root`, `bpf_rb_node`,
//! `bpf_refcount`, or a `kptr`-tagged pointer type) get their fields
//! collected: at most [`BTF_FIELDS_MAX`] of them, no overlaps, one spin lock,
//! one refcount, lists/trees owning a value struct named by a
//! `contains:Type:node` decl tag, and an ownership chain at most 8 deep.
//!
//! Invariants: nested structs are entered at most 32 levels deep and arrays
//! walked at most 32 levels; the field list never exceeds `BTF_FIELDS_MAX`;
//! the ownership walk is memoised per record and cut at depth 8.
//!
//! Where the kernels differ (found by probing the running 6.18 kernel, whose
//! source is not at hand): 6.18 accepts several `bpf_refcount` fields and
//! has no ownership-depth check; the Debian 6.12 source has both. "Struct"
//! means STRUCT only (the kernel's `__btf_type_is_struct`), unions are
//! neither containers nor special fields here.
//!
//! Not reproducible offline: `btf_parse_kptr` looks the pointee's name up in
//! the running kernel's BTF and its destructor kfuncs; here every kptr pointee
//! is taken as program-local (the kernel's answer for names it does not know).

use super::env::*;
use super::msg as m;

/// `BTF_FIELDS_MAX`.
const BTF_FIELDS_MAX: usize = 11;
/// The kernel's `BTF_MAX_OWNERSHIP_DEPTH`.
const MAX_OWNERSHIP_DEPTH: i32 = 8;
/// The kernel's `alloc_obj_fields`.
const ALLOC_OBJ_FIELDS: [&[u8]; 6] = [
    b"bpf_spin_lock",
    b"bpf_list_head",
    b"bpf_list_node",
    b"bpf_rb_root",
    b"bpf_rb_node",
    b"bpf_refcount",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum F {
    SpinLock,
    ListHead,
    ListNode,
    RbRoot,
    RbNode,
    Refcount,
    KptrUnref,
    KptrRef,
    KptrPercpu,
}

impl F {
    /// `btf_field_type_size` and `btf_field_type_align`.
    fn size_align(self) -> (u32, u32) {
        match self {
            F::SpinLock | F::Refcount => (4, 4),
            F::ListHead | F::RbRoot => (16, 8),
            F::ListNode => (24, 8),
            F::RbNode => (32, 8),
            F::KptrUnref | F::KptrRef | F::KptrPercpu => (8, 8),
        }
    }
    fn is_kptr(self) -> bool {
        matches!(self, F::KptrUnref | F::KptrRef | F::KptrPercpu)
    }
    fn is_root(self) -> bool {
        matches!(self, F::ListHead | F::RbRoot)
    }
}

#[derive(Clone, Debug)]
struct Info {
    ty: F,
    off: u32,
    /// kptr: the pointee struct; graph root: the value struct.
    target: u32,
    /// graph root: the node member's name.
    node_name: Vec<u8>,
}

/// A failure with the errno and the rule that failed.
type FRes<T> = Result<T, (i32, &'static str)>;

/// What `btf_get_field_type` found: the field type, or a kptr candidate.
enum Found {
    Field(F),
    KptrCandidate,
}

impl Env<'_> {
    /// `btf_find_by_name_kind` over own types.
    fn find_by_name_kind(&self, name: &[u8], kind: u8) -> Option<u32> {
        (1..self.nr_types()).find(|&i| {
            self.ty(i)
                .is_some_and(|t| t.is_kind(kind) && self.str_at(t.name_off) == Some(name))
        })
    }

    /// `btf_type_skip_modifiers` (bounded).
    fn skip_modifiers(&self, mut id: u32) -> (u32, Option<Rec>) {
        for _ in 0..=MAX_RESOLVE_DEPTH * 2 {
            match self.ty(id) {
                Some(t) if t.is_modifier_or_typedef() => id = t.st,
                other => return (id, other),
            }
        }
        (id, self.ty(id))
    }

    /// `btf_find_kptr`: VOLATILE? → PTR → one TYPE_TAG (`kptr`,
    /// `kptr_untrusted`, `percpu_kptr`) → modifiers → a struct.
    fn find_kptr(&self, t: Rec, off: u32) -> FRes<Option<Info>> {
        let mut t = t;
        if t.is_kind(K_VOLATILE) {
            t = self.ty(t.st).unwrap_or(Rec::VOID);
        }
        if !t.is_kind(K_PTR) {
            return Ok(None);
        }
        let tag = self.ty(t.st).unwrap_or(Rec::VOID);
        if !tag.is_kind(K_TYPE_TAG) {
            return Ok(None);
        }
        if self.ty(tag.st).is_some_and(|x| x.is_kind(K_TYPE_TAG)) {
            return Err((EINVAL, "a kptr with two type tags"));
        }
        let ty = match self.log_name(tag.name_off) {
            b"kptr_untrusted" => F::KptrUnref,
            b"kptr" => F::KptrRef,
            b"percpu_kptr" => F::KptrPercpu,
            _ => return Err((EINVAL, "a pointer type tag that is not a kptr tag")),
        };
        let (res_id, base) = self.skip_modifiers(tag.st);
        if !base.is_some_and(|b| b.is_kind(K_STRUCT)) {
            return Err((EINVAL, "a kptr to something other than a struct"));
        }
        Ok(Some(Info {
            ty,
            off,
            target: res_id,
            node_name: Vec::new(),
        }))
    }

    /// `btf_get_field_type` for the struct-meta mask: by the type's name.
    fn get_field_type(&self, t: &Rec, seen: &mut u32) -> FRes<Option<Found>> {
        let name = self.log_name(t.name_off);
        let once = |seen: &mut u32, bit: u32, f: F| -> FRes<Option<Found>> {
            if *seen & bit != 0 {
                return Err((E2BIG, "a second bpf_spin_lock or bpf_refcount"));
            }
            *seen |= bit;
            Ok(Some(Found::Field(f)))
        };
        match name {
            b"bpf_spin_lock" => once(seen, 1, F::SpinLock),
            b"bpf_list_head" => Ok(Some(Found::Field(F::ListHead))),
            b"bpf_list_node" => Ok(Some(Found::Field(F::ListNode))),
            b"bpf_rb_root" => Ok(Some(Found::Field(F::RbRoot))),
            b"bpf_rb_node" => Ok(Some(Found::Field(F::RbNode))),
            b"bpf_refcount" if self.rules.refcount_once() => once(seen, 2, F::Refcount),
            b"bpf_refcount" => Ok(Some(Found::Field(F::Refcount))),
            _ if !t.is_kind(K_STRUCT) => Ok(Some(Found::KptrCandidate)),
            _ => Ok(None),
        }
    }

    /// `btf_find_next_decl_tag`: a DECL_TAG on `pt_id`'s component `comp`
    /// whose value starts with `key`, after `last`.
    fn find_next_decl_tag(&self, pt_id: u32, comp: i32, key: &[u8], last: u32) -> Option<u32> {
        (last + 1..self.nr_types()).find(|&i| {
            self.ty(i).is_some_and(|t| {
                t.is_kind(K_DECL_TAG)
                    && t.st == pt_id
                    && self.w(t.extra()) as i32 == comp
                    && self.log_name(t.name_off).starts_with(key)
            })
        })
    }

    /// `btf_find_graph_root`: a `bpf_list_head`/`bpf_rb_root` of the right
    /// size, with exactly one `contains:Type:node` tag naming a struct.
    fn find_graph_root(
        &self,
        pt_id: u32,
        t: &Rec,
        comp: i32,
        off: u32,
        sz: u32,
        head: F,
    ) -> FRes<Option<Info>> {
        if !t.is_kind(K_STRUCT) || t.st != sz {
            return Ok(None);
        }
        let key = b"contains:";
        let Some(tag) = self.find_next_decl_tag(pt_id, comp, key, 0) else {
            return Err((EINVAL, "a list/tree root without a contains: decl tag"));
        };
        if self.find_next_decl_tag(pt_id, comp, key, tag).is_some() {
            return Err((EINVAL, "a list/tree root with two contains: decl tags"));
        }
        let value = self
            .ty(tag)
            .map_or(&b""[..], |t| self.log_name(t.name_off))
            .get(key.len()..)
            .unwrap_or(b"");
        let Some(colon) = value.iter().position(|&c| c == b':') else {
            return Err((EINVAL, "a contains: decl tag without a node name"));
        };
        let Some(id) = self.find_by_name_kind(&value[..colon], K_STRUCT) else {
            return Err((ENOENT, "a contains: decl tag naming a missing struct"));
        };
        let node = &value[colon + 1..];
        if node.is_empty() {
            return Err((EINVAL, "a contains: decl tag with an empty node name"));
        }
        Ok(Some(Info {
            ty: head,
            off,
            target: id,
            node_name: node.to_vec(),
        }))
    }

    /// `btf_repeat_fields`: copies the last `cnt` fields `repeat` times,
    /// `elem` bytes apart (only kptrs and roots may repeat).
    fn repeat_fields(&self, info: &mut Vec<Info>, cnt: usize, repeat: u32, elem: u32) -> FRes<()> {
        let start = info.len() - cnt;
        if info[start..]
            .iter()
            .any(|f| !(f.ty.is_kptr() || f.ty.is_root()))
        {
            return Err((EINVAL, "an array of spin locks, refcounts or nodes"));
        }
        let total = (repeat as usize + 1).checked_mul(cnt);
        if total.is_none_or(|t| t > BTF_FIELDS_MAX - start) {
            return Err((
                E2BIG,
                "more special fields than the kernel's BTF_FIELDS_MAX",
            ));
        }
        for i in 0..repeat {
            for j in 0..cnt {
                let mut f = info[start + j].clone();
                f.off = f.off.wrapping_add((i + 1).wrapping_mul(elem));
                info.push(f);
            }
        }
        Ok(())
    }

    /// `btf_find_field_one`: one member (or section variable), arrays
    /// flattened; returns the number of fields added.
    #[allow(clippy::too_many_arguments)]
    fn find_field_one(
        &self,
        var_id: u32,
        ty_id: u32,
        var_idx: i32,
        off: u32,
        expected: u32,
        seen: &mut u32,
        info: &mut Vec<Info>,
        level: u32,
    ) -> FRes<usize> {
        let mut t_id = ty_id;
        let mut t = self.ty(ty_id).unwrap_or(Rec::VOID);
        let mut nelems: u32 = 1;
        let mut i = 0;
        while i < MAX_RESOLVE_DEPTH && t.is_kind(K_ARRAY) {
            nelems = nelems.wrapping_mul(self.w(t.extra() + 8));
            t_id = self.w(t.extra());
            t = self.ty(t_id).unwrap_or(Rec::VOID);
            i += 1;
        }
        if i == MAX_RESOLVE_DEPTH {
            return Err((E2BIG, "arrays nested more than 32 deep"));
        }
        if nelems == 0 {
            return Ok(0);
        }
        let found = self.get_field_type(&t, seen)?;
        let ft = match found {
            None if t.is_kind(K_STRUCT) => {
                if expected != 0 && expected != t.st.wrapping_mul(nelems) {
                    return Ok(0);
                }
                return self.find_nested_struct(t_id, &t, off, nelems, seen, info, level);
            }
            None => return Ok(0),
            Some(Found::KptrCandidate) => F::KptrRef,
            Some(Found::Field(f)) => f,
        };
        let (sz, align) = ft.size_align();
        if expected != 0 && expected != sz.wrapping_mul(nelems) {
            return Ok(0);
        }
        if !off.is_multiple_of(align) {
            return Ok(0);
        }
        let got = match ft {
            F::SpinLock | F::ListNode | F::RbNode | F::Refcount => {
                (t.is_kind(K_STRUCT) && t.st == sz).then(|| Info {
                    ty: ft,
                    off,
                    target: 0,
                    node_name: Vec::new(),
                })
            }
            F::KptrUnref | F::KptrRef | F::KptrPercpu => self.find_kptr(t, off)?,
            F::ListHead | F::RbRoot => self.find_graph_root(var_id, &t, var_idx, off, sz, ft)?,
        };
        let Some(f) = got else { return Ok(0) };
        if info.len() >= BTF_FIELDS_MAX {
            return Err((
                E2BIG,
                "more special fields than the kernel's BTF_FIELDS_MAX",
            ));
        }
        info.push(f);
        if nelems > 1 {
            self.repeat_fields(info, 1, nelems - 1, sz)?;
        }
        Ok(nelems as usize)
    }

    /// `btf_find_nested_struct`.
    #[allow(clippy::too_many_arguments)]
    fn find_nested_struct(
        &self,
        id: u32,
        t: &Rec,
        off: u32,
        nelems: u32,
        seen: &mut u32,
        info: &mut Vec<Info>,
        level: u32,
    ) -> FRes<usize> {
        let level = level + 1;
        if level >= MAX_RESOLVE_DEPTH {
            return Err((E2BIG, "special fields nested more than 32 structs deep"));
        }
        let start = info.len();
        let n = self.find_struct_field(id, seen, info, level)?;
        if n == 0 {
            return Ok(0);
        }
        for f in &mut info[start..] {
            f.off = f.off.wrapping_add(off);
        }
        if nelems > 1 {
            self.repeat_fields(info, n, nelems - 1, t.st)?;
            return Ok(n * nelems as usize);
        }
        Ok(n)
    }

    /// `btf_find_struct_field`: every member at a byte offset.
    fn find_struct_field(
        &self,
        id: u32,
        seen: &mut u32,
        info: &mut Vec<Info>,
        level: u32,
    ) -> FRes<usize> {
        let t = self.ty(id).unwrap_or(Rec::VOID);
        let mut n = 0;
        for i in 0..t.vlen() {
            let mb = self.member(&t, i);
            let bit = if t.kflag() {
                mb.offset & 0x00ff_ffff
            } else {
                mb.offset
            };
            if bit % 8 != 0 {
                return Err((EINVAL, "a struct member not on a byte boundary"));
            }
            n += self.find_field_one(id, mb.ty, i as i32, bit / 8, 0, seen, info, level)?;
        }
        Ok(n)
    }

    /// `btf_parse_graph_root`: the value struct has exactly one member named
    /// as the tag says, a `bpf_list_node`/`bpf_rb_node` at an aligned offset.
    fn parse_graph_root(&self, f: &Info, node_type: &[u8]) -> FRes<()> {
        let t = self.ty(f.target).unwrap_or(Rec::VOID);
        let mut found = false;
        for i in 0..t.vlen() {
            let mb = self.member(&t, i);
            if self.log_name(mb.name_off) != &f.node_name[..] {
                continue;
            }
            if found {
                return Err((EINVAL, "two value struct members named as the node"));
            }
            found = true;
            let n = self.ty(mb.ty).unwrap_or(Rec::VOID);
            if !n.is_kind(K_STRUCT) || self.log_name(n.name_off) != node_type {
                return Err((EINVAL, "the node member is not a bpf_list_node/bpf_rb_node"));
            }
            // The kernel reads the member offset with the node type's kind_flag.
            let bit = if n.kflag() {
                mb.offset & 0x00ff_ffff
            } else {
                mb.offset
            };
            if bit % 8 != 0 || (bit / 8) % 8 != 0 {
                return Err((EINVAL, "a misaligned list/tree node"));
            }
        }
        if !found {
            return Err((ENOENT, "no value struct member named as the node"));
        }
        Ok(())
    }

    /// `btf_parse_fields` on a struct with the struct-meta mask.
    fn parse_fields(&self, id: u32, value_size: u32) -> FRes<Vec<Info>> {
        let mut info = Vec::new();
        let mut seen = 0;
        self.find_struct_field(id, &mut seen, &mut info, 0)?;
        if info.is_empty() {
            return Err((EFAULT, "no special field found in a struct that has one"));
        }
        let mut next_off: u32 = 0;
        for f in &info {
            let (size, _) = f.ty.size_align();
            if u64::from(f.off) + u64::from(size) > u64::from(value_size) {
                return Err((EFAULT, "a special field past the end of its struct"));
            }
            if f.off < next_off {
                return Err((EEXIST, "overlapping special fields"));
            }
            next_off = f.off + size;
            match f.ty {
                F::ListHead => self.parse_graph_root(f, b"bpf_list_node")?,
                F::RbRoot => self.parse_graph_root(f, b"bpf_rb_node")?,
                _ => {}
            }
        }
        let has = |x: F| info.iter().any(|f| f.ty == x);
        if (has(F::ListHead) || has(F::RbRoot)) && !has(F::SpinLock) {
            return Err((EINVAL, "a list/tree root without a bpf_spin_lock"));
        }
        if !has(F::Refcount) && has(F::ListNode) && has(F::RbNode) {
            return Err((EINVAL, "both a list and a tree node without a bpf_refcount"));
        }
        Ok(info)
    }

    /// `btf_parse_struct_metas` with `btf_check_and_fixup_fields` and
    /// `btf_check_ownership_depth`.
    pub fn check_struct_metas(&mut self) -> Res {
        match self.struct_metas() {
            Ok(()) => Ok(()),
            Err((errno, why)) => {
                self.silent = Some(format!("{}{why}", m::NOLOG_SPECIAL_FIELDS));
                Err(errno)
            }
        }
    }

    fn struct_metas(&self) -> FRes<()> {
        let n = self.nr_types();
        // One pass: the first struct of each special name (as
        // `btf_find_by_name_kind` per name would find), and every kptr type.
        let mut first: [Option<u32>; ALLOC_OBJ_FIELDS.len()] = [None; ALLOC_OBJ_FIELDS.len()];
        let mut aof: Vec<u32> = Vec::new();
        for i in 1..n {
            let t = self.ty(i).unwrap_or(Rec::VOID);
            if t.is_kind(K_STRUCT) {
                if let Some(name) = self.str_at(t.name_off).filter(|s| s.starts_with(b"bpf_")) {
                    if let Some(k) = ALLOC_OBJ_FIELDS.iter().position(|f| *f == name) {
                        first[k].get_or_insert(i);
                    }
                }
            } else if t.is_kind(K_PTR) || t.is_kind(K_VOLATILE) {
                if let Ok(Some(_)) = self.find_kptr(t, 0) {
                    aof.push(i);
                }
            }
        }
        aof.extend(first.iter().flatten());
        if aof.is_empty() {
            return Ok(());
        }
        aof.sort_unstable();
        let mut tab: Vec<(u32, Vec<Info>)> = Vec::new();
        for i in 1..n {
            let t = self.ty(i).unwrap_or(Rec::VOID);
            if !t.is_kind(K_STRUCT) {
                continue;
            }
            let uses = (0..t.vlen()).any(|j| aof.binary_search(&self.member(&t, j).ty).is_ok());
            if uses {
                let rec = self.parse_fields(i, t.st)?;
                tab.push((i, rec));
            }
        }
        let meta_idx = |id: u32| tab.binary_search_by_key(&id, |e| e.0).ok();
        for (_, rec) in &tab {
            for f in rec.iter().filter(|f| f.ty.is_root()) {
                if meta_idx(f.target).is_none() {
                    return Err((EFAULT, "a list/tree value struct without special fields"));
                }
            }
        }
        if !self.rules.ownership_depth() {
            return Ok(());
        }
        // Ownership depth: edges from roots and owning kptrs to the value's record.
        let mut depth = vec![0i32; tab.len()];
        for i in 0..tab.len() {
            self.ownership_depth(&tab, &meta_idx, &mut depth, i, MAX_OWNERSHIP_DEPTH)?;
        }
        Ok(())
    }

    /// `btf_ownership_depth`, memoised; returns the depth of `idx`.
    fn ownership_depth(
        &self,
        tab: &[(u32, Vec<Info>)],
        meta_idx: &dyn Fn(u32) -> Option<usize>,
        depth: &mut Vec<i32>,
        idx: usize,
        left: i32,
    ) -> FRes<i32> {
        let loop_err = (ELOOP, "ownership chains deeper than 8 (or a cycle)");
        if left == 0 {
            return Err(loop_err);
        }
        if depth[idx] == 0 {
            let mut max = 0;
            for f in &tab[idx].1 {
                let owned = if f.ty.is_root() {
                    Some(
                        meta_idx(f.target)
                            .ok_or((EFAULT, "a list/tree value struct without special fields"))?,
                    )
                } else if matches!(f.ty, F::KptrRef | F::KptrPercpu) {
                    meta_idx(f.target)
                } else {
                    None
                };
                if let Some(o) = owned {
                    max = max.max(self.ownership_depth(tab, meta_idx, depth, o, left - 1)?);
                }
            }
            depth[idx] = max + 1;
        }
        if depth[idx] > left {
            return Err(loop_err);
        }
        Ok(depth[idx])
    }
}
