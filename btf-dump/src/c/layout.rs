//! Sizes and alignments as libbpf computes them for the C emitter
//! (`btf__resolve_size`, `btf__align_of`, the packed-struct test).
//!
//! These differ from [`btf::Btf::resolve_size`] / [`btf::Btf::align_of`] in
//! the details the output depends on: errors are values (a size < 0, an
//! alignment of 0), bitfield members do not make a struct packed, FWD counts
//! as `void`. Alignments are memoized per type (libbpf recomputes them); a
//! loop, on which libbpf would recurse until it crashes, gives alignment 0.

use btf::TypeData;

use super::Dumper;

/// libbpf's `MAX_RESOLVE_DEPTH`.
use btf::MAX_RESOLVE_DEPTH;

const IN_PROGRESS: i8 = -2;

impl<'a, 'w> Dumper<'a, 'w> {
    /// `btf__resolve_size`: the size in bytes, or a negative value on error.
    pub(super) fn resolve_size(&self, id: u32) -> i64 {
        let mut id = id;
        let mut nelems: u32 = 1;
        let mut size: i64 = -1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let Some(t) = self.ty(id) else { break };
            match &t.data {
                TypeData::Fwd => break,
                TypeData::Int(i) => size = i64::from(i.size),
                TypeData::Struct(c) | TypeData::Union(c) => size = i64::from(c.size),
                TypeData::Enum(e) => size = i64::from(e.size),
                TypeData::Enum64(e) => size = i64::from(e.size),
                TypeData::Datasec(s) => size = i64::from(s.size),
                TypeData::Float(f) => size = i64::from(f.size),
                TypeData::Ptr(_) => size = i64::from(self.ptr_sz),
                TypeData::Typedef(to)
                | TypeData::Volatile(to)
                | TypeData::Const(to)
                | TypeData::Restrict(to)
                | TypeData::TypeTag(to) => {
                    id = to.0;
                    continue;
                }
                TypeData::Var(v) => {
                    id = v.ty.0;
                    continue;
                }
                TypeData::DeclTag(dt) => {
                    id = dt.ty.0;
                    continue;
                }
                TypeData::Array(a) => {
                    if nelems != 0 && a.nelems > u32::MAX / nelems {
                        return -7; // -E2BIG
                    }
                    nelems = nelems.wrapping_mul(a.nelems);
                    id = a.elem.0;
                    continue;
                }
                TypeData::Func(_) | TypeData::FuncProto(_) => return -22, // -EINVAL
            }
            break;
        }
        if size < 0 {
            return -22;
        }
        if nelems != 0 && size > i64::from(u32::MAX / nelems) {
            return -7;
        }
        i64::from(nelems) * size
    }

    /// `btf__align_of`: the natural alignment, 0 when it has none.
    pub(super) fn align_of(&mut self, id: u32) -> i32 {
        self.align_of_depth(id, 0)
    }

    fn align_of_depth(&mut self, id: u32, depth: u32) -> i32 {
        let memo = self.align.get(id as usize).copied().unwrap_or(IN_PROGRESS);
        if memo >= 0 {
            return i32::from(memo);
        }
        if memo == IN_PROGRESS || depth > self.max_depth {
            return 0;
        }
        self.align[id as usize] = IN_PROGRESS;
        let a = self.compute_align(id, depth);
        // Alignments are at most the pointer size (8).
        self.align[id as usize] = a.clamp(0, i32::from(i8::MAX)) as i8;
        a
    }

    fn compute_align(&mut self, id: u32, depth: u32) -> i32 {
        let Some(t) = self.ty(id) else { return 0 };
        let ptr = self.ptr_sz;
        match &t.data {
            TypeData::Int(i) => ptr.min(i.size) as i32,
            TypeData::Enum(e) => ptr.min(e.size) as i32,
            TypeData::Enum64(e) => ptr.min(e.size) as i32,
            TypeData::Float(f) => ptr.min(f.size) as i32,
            TypeData::Ptr(_) => ptr as i32,
            TypeData::Typedef(to)
            | TypeData::Volatile(to)
            | TypeData::Const(to)
            | TypeData::Restrict(to)
            | TypeData::TypeTag(to) => self.align_of_depth(to.0, depth + 1),
            TypeData::Array(a) => self.align_of_depth(a.elem.0, depth + 1),
            TypeData::Struct(c) | TypeData::Union(c) => {
                let mut max = 1;
                for m in &c.members {
                    let a = self.align_of_depth(m.ty.0, depth + 1);
                    if a <= 0 {
                        return a;
                    }
                    max = max.max(a);
                    if m.bitfield_size(t.kind_flag) == 0 && !divides(8 * a as u32, m.offset) {
                        return 1;
                    }
                }
                if !divides(max as u32, c.size) {
                    return 1;
                }
                max
            }
            _ => 0,
        }
    }

    /// Whether a struct must be printed `__attribute__((packed))`: a
    /// non-bitfield member off its natural alignment, or a size that is not
    /// a multiple of the largest member alignment.
    pub(super) fn is_struct_packed(&mut self, t: &btf::Type, c: &btf::types::Composite) -> bool {
        let mut max = 1;
        for m in &c.members {
            let a = self.align_of(m.ty.0);
            let bit_sz = m.bitfield_size(t.kind_flag);
            if a != 0 && bit_sz == 0 && !divides(8 * a as u32, m.offset) {
                return true;
            }
            max = max.max(a);
        }
        !divides(max as u32, c.size)
    }
}

/// Whether `d` divides `n` (`d` is never 0 here; 0 divides only 0).
/// (`u32::is_multiple_of` needs Rust 1.87; the workspace targets 1.80.)
fn divides(d: u32, n: u32) -> bool {
    n.checked_rem(d).map_or(n == 0, |r| r == 0)
}
