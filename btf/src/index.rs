//! [`NameIndex`]: find types by name without scanning.
//!
//! The index owns no borrowed data: it holds, for the types of one BTF layer,
//! a sorted vector of `(hash of the name, type id)` keys, and every lookup takes
//! the [`Btf`] it was built over to compare the actual names. It can therefore
//! live beside an `Arc<Btf>`, and a split BTF's index is layered on its base's
//! index (shared through an `Arc`), so a module's index never re-indexes vmlinux.
//!
//! Invariants:
//! - `keys` is sorted; each key is `hash32(name) << 32 | id`, so the keys of one
//!   hash are contiguous and in id order, and the ids of one name come out in
//!   id order without another sort.
//! - Only this layer's own ids (from the BTF's `start_id` to `end_id`) are in
//!   `keys`; a base layer covers exactly the ids below the split's `start_id`.
//! - `buckets[b]..buckets[b + 1]` is the range of keys whose hash has top
//!   `BUCKET_BITS` bits `b` (a radix table in front of the binary search).
//! - The hash is fixed (FxHash's mixing, no random seed): the same BTF gives the
//!   same index, and nothing depends on hash-map iteration.
//! - Hash collisions are resolved by comparing the name bytes, so a lookup never
//!   returns a type of another name.

use std::sync::Arc;

use crate::btf::Btf;
use crate::error::{Error, Result};
use crate::ids::TypeId;
use crate::kind::Kind;

const BUCKET_BITS: u32 = 12;

/// FxHash's multiplier.
const K: u64 = 0x517c_c1b7_2722_0a95;

/// The deterministic 32-bit hash of a name used by [`NameIndex`] (FxHash's
/// mixing step over 8-byte words, then folded).
#[inline]
pub fn name_hash(name: &[u8]) -> u32 {
    let mut h: u64 = 0;
    let mut chunks = name.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h = (h.rotate_left(5) ^ name.len() as u64).wrapping_mul(K);
    (h >> 32) as u32 ^ (h as u32)
}

/// Maps each name to the ids of the types carrying it, in id order. Anonymous
/// types are not indexed. Built once in O(types log types) over one layer;
/// lookups are a radix step, a binary search and one name comparison per
/// type sharing the name's hash.
///
/// ```
/// # use btf::{Builder, Kind, NameIndex};
/// let mut b = Builder::new();
/// let int = b.add_int("int", 4, btf::types::INT_SIGNED);
/// let btf = b.finish().unwrap();
/// let index = NameIndex::new(&btf);
/// assert_eq!(index.find(&btf, "int", Kind::Int), Some(int));
/// ```
#[derive(Debug, Clone)]
pub struct NameIndex {
    base: Option<Arc<NameIndex>>,
    end_id: u32,
    keys: Vec<u64>,
    buckets: Vec<u32>,
}

impl NameIndex {
    /// Indexes every named type of `btf`. For split BTF the base is indexed
    /// too, as a layer of its own ([`NameIndex::base`]); to share one base
    /// index between many split BTFs use [`NameIndex::with_base`].
    pub fn new(btf: &Btf) -> Self {
        let base = btf.base().map(|b| Arc::new(NameIndex::new(b)));
        Self::layer(btf, base)
    }

    /// Indexes the own types of the split BTF `btf` only, on `base`, the index
    /// of its base BTF. Fails when `base` does not cover exactly the ids below
    /// `btf`'s first own id.
    pub fn with_base(btf: &Btf, base: Arc<NameIndex>) -> Result<Self> {
        if base.end_id != btf.start_id() {
            return Err(Error::new(format!(
                "base name index covers ids below {}, but the split BTF starts at id {}",
                base.end_id,
                btf.start_id()
            )));
        }
        Ok(Self::layer(btf, Some(base)))
    }

    fn layer(btf: &Btf, base: Option<Arc<NameIndex>>) -> Self {
        let mut keys = Vec::with_capacity(btf.own_type_count());
        for (id, t) in btf.own_types() {
            if t.name_off.is_empty() {
                continue;
            }
            match btf.str_bytes(t.name_off) {
                Some(name) if !name.is_empty() => {
                    keys.push(u64::from(name_hash(name)) << 32 | u64::from(id.0));
                }
                _ => {}
            }
        }
        keys.sort_unstable();
        let nb = 1usize << BUCKET_BITS;
        let mut buckets = vec![0u32; nb + 1];
        for &k in &keys {
            buckets[(k >> (64 - BUCKET_BITS)) as usize + 1] += 1;
        }
        for i in 0..nb {
            buckets[i + 1] += buckets[i];
        }
        NameIndex {
            base,
            end_id: btf.type_count(),
            keys,
            buckets,
        }
    }

    /// The index of the base BTF, for an index of split BTF.
    pub fn base(&self) -> Option<&Arc<NameIndex>> {
        self.base.as_ref()
    }

    /// This layer's own ids, in id order, named `name` (hash matches only;
    /// the caller compares names).
    fn own_candidates(&self, hash: u32) -> &[u64] {
        let b = (hash >> (32 - BUCKET_BITS)) as usize;
        let (lo, hi) = (self.buckets[b] as usize, self.buckets[b + 1] as usize);
        let range = &self.keys[lo..hi];
        let lo_key = u64::from(hash) << 32;
        let start = range.partition_point(|&k| k < lo_key);
        let len = range[start..].partition_point(|&k| (k >> 32) as u32 == hash);
        &range[start..start + len]
    }

    fn layers(&self) -> Vec<&NameIndex> {
        let mut v = Vec::new();
        let mut cur = Some(self);
        while let Some(l) = cur {
            v.push(l);
            cur = l.base.as_deref();
        }
        v.reverse();
        v
    }

    /// Every type named `name`, in id order (the base's first). `btf` must be
    /// the BTF the index was built over (for a layered index, the split BTF).
    pub fn find_all<'s, N>(&'s self, btf: &'s Btf, name: &'s N) -> impl Iterator<Item = TypeId> + 's
    where
        N: AsRef<[u8]> + ?Sized,
    {
        let name = name.as_ref();
        let hash = name_hash(name);
        self.layers()
            .into_iter()
            .flat_map(move |l| l.own_candidates(hash).iter())
            .map(|&k| TypeId(k as u32))
            .filter(move |&id| {
                btf.type_by_id(id)
                    .and_then(|t| btf.str_bytes(t.name_off))
                    .is_some_and(|n| n == name)
            })
    }

    /// Every type named `name` of kind `kind`, in id order (the base's first).
    pub fn find_all_kind<'s, N>(
        &'s self,
        btf: &'s Btf,
        name: &'s N,
        kind: Kind,
    ) -> impl Iterator<Item = TypeId> + 's
    where
        N: AsRef<[u8]> + ?Sized,
    {
        self.find_all(btf, name)
            .filter(move |&id| btf.type_by_id(id).is_some_and(|t| t.kind() == kind))
    }

    /// The first type named `name` of kind `kind`.
    pub fn find<N>(&self, btf: &Btf, name: &N, kind: Kind) -> Option<TypeId>
    where
        N: AsRef<[u8]> + ?Sized,
    {
        self.find_all_kind(btf, name, kind).next()
    }

    /// The first type named `name`, of any kind.
    pub fn find_any<N>(&self, btf: &Btf, name: &N) -> Option<TypeId>
    where
        N: AsRef<[u8]> + ?Sized,
    {
        self.find_all(btf, name).next()
    }

    /// The number of named types indexed, the base's included.
    pub fn len(&self) -> usize {
        self.keys.len() + self.base.as_ref().map_or(0, |b| b.len())
    }

    /// Whether no type has a name.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::INT_SIGNED;
    use crate::Builder;

    fn ids(it: impl Iterator<Item = TypeId>) -> Vec<u32> {
        it.map(|i| i.0).collect()
    }

    fn base() -> (Btf, [TypeId; 5]) {
        let mut b = Builder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let s1 = b.add_struct("dup", 4, &[("a", int, 0)]);
        let td = b.add_typedef("dup", int);
        let s2 = b.add_struct("dup", 8, &[("a", int, 0), ("b", int, 32)]);
        let anon = b.add_ptr(int);
        (b.finish().unwrap(), [int, s1, td, s2, anon])
    }

    #[test]
    fn duplicates_in_id_order_by_kind() {
        let (btf, [int, s1, td, s2, anon]) = base();
        let idx = NameIndex::new(&btf);
        assert_eq!(idx.len(), 4);
        assert_eq!(ids(idx.find_all(&btf, "dup")), vec![s1.0, td.0, s2.0]);
        assert_eq!(
            ids(idx.find_all_kind(&btf, "dup", Kind::Struct)),
            vec![s1.0, s2.0]
        );
        assert_eq!(
            ids(idx.find_all_kind(&btf, b"dup".as_slice(), Kind::Typedef)),
            vec![td.0]
        );
        assert_eq!(idx.find(&btf, "int", Kind::Int), Some(int));
        assert_eq!(idx.find(&btf, "int", Kind::Struct), None);
        assert_eq!(idx.find_any(&btf, "dup"), Some(s1));
        assert_eq!(idx.find_any(&btf, ""), None);
        assert_eq!(idx.find_any(&btf, "du"), None);
        assert_eq!(idx.find_any(&btf, "dupx"), None);
        assert!(!anon.is_void());
    }

    #[test]
    fn split_layered_on_base_index() {
        let (base, [int, s1, _td, s2, _]) = base();
        let base = Arc::new(base);
        let base_idx = Arc::new(NameIndex::new(&base));
        let mut b = Builder::new_split(base.clone());
        let s3 = b.add_struct("dup", 4, &[("a", int, 0)]);
        let own = b.add_struct("own", 4, &[("a", int, 0)]);
        let split = b.finish().unwrap();
        let idx = NameIndex::with_base(&split, base_idx.clone()).unwrap();
        assert!(Arc::ptr_eq(idx.base().unwrap(), &base_idx));
        assert_eq!(idx.len(), base_idx.len() + 2);
        assert_eq!(
            ids(idx.find_all_kind(&split, "dup", Kind::Struct)),
            vec![s1.0, s2.0, s3.0]
        );
        assert_eq!(idx.find(&split, "own", Kind::Struct), Some(own));
        assert_eq!(idx.find(&split, "int", Kind::Int), Some(int));
        // The base index does not know the split's types.
        assert_eq!(base_idx.find_any(&base, "own"), None);
        // NameIndex::new on split BTF builds the same answers.
        let full = NameIndex::new(&split);
        assert_eq!(
            ids(full.find_all(&split, "dup")),
            ids(idx.find_all(&split, "dup"))
        );
        // A base index of the wrong BTF is refused.
        let wrong = Arc::new(NameIndex::new(&split));
        assert!(NameIndex::with_base(&split, wrong).is_err());
    }

    #[test]
    fn hash_collisions_compare_names() {
        // Many names: every one finds itself and only itself.
        let mut b = Builder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let mut want = Vec::new();
        for i in 0..5000 {
            let name = format!("t{i}_{}", "x".repeat(i % 17));
            want.push((name.clone(), b.add_typedef(&name, int)));
        }
        let btf = b.finish().unwrap();
        let idx = NameIndex::new(&btf);
        for (name, id) in &want {
            assert_eq!(ids(idx.find_all(&btf, name.as_str())), vec![id.0]);
        }
        // Deterministic: the same BTF gives the same keys.
        assert_eq!(NameIndex::new(&btf).keys, idx.keys);
    }

    #[test]
    fn byte_names() {
        let mut b = Builder::new();
        let int = b.add_int("int", 4, INT_SIGNED);
        let raw = b.add_typedef("abc", int);
        let btf = b.finish().unwrap();
        let idx = NameIndex::new(&btf);
        assert_eq!(idx.find(&btf, b"abc", Kind::Typedef), Some(raw));
        assert_eq!(idx.find(&btf, b"ab\xff".as_slice(), Kind::Typedef), None);
    }
}

/// The DECL_TAGs of a BTF (the base's included) by what they tag: a type and
/// a component index (-1 for the type itself, else the member or parameter
/// index). Built once in O(types); tags of one target come in id order.
#[derive(Clone, Debug, Default)]
pub struct DeclTags {
    map: std::collections::HashMap<(TypeId, i32), Vec<TypeId>>,
}

impl DeclTags {
    /// Indexes every DECL_TAG of `btf`, base first.
    pub fn new(btf: &Btf) -> Self {
        let mut map: std::collections::HashMap<(TypeId, i32), Vec<TypeId>> = Default::default();
        for (id, t) in btf.types() {
            if let crate::types::TypeData::DeclTag(d) = &t.data {
                map.entry((d.ty, d.component_idx)).or_default().push(id);
            }
        }
        DeclTags { map }
    }

    /// The DECL_TAG ids on `target`'s component `component` (-1: the type).
    pub fn get(&self, target: TypeId, component: i32) -> &[TypeId] {
        self.map
            .get(&(target, component))
            .map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod decl_tag_tests {
    use super::*;
    use crate::Builder;

    #[test]
    fn decl_tags_by_target_and_component() {
        let mut b = Builder::new();
        let int = b.add_int("int", 4, 0);
        let s = b.add_struct("s", 4, &[("x", int, 0)]);
        let t1 = b.add_decl_tag("a", s, -1);
        let t2 = b.add_decl_tag("b", s, 0);
        let t3 = b.add_decl_tag("c", s, 0);
        let btf = b.finish().unwrap();
        let tags = DeclTags::new(&btf);
        assert_eq!(tags.get(s, -1), [t1]);
        assert_eq!(tags.get(s, 0), [t2, t3]);
        assert!(tags.get(int, -1).is_empty());
    }
}
