//! The candidate table: libbpf's `dedup_table`, with the same iteration order.
//!
//! libbpf keeps canonical types in a chained hash map keyed by a type's
//! signature hash, and walks the chain of a key to find candidates. Which
//! candidate is found first decides the output in the ambiguous cases (an enum
//! forward declaration with two full enums of its name, a struct equivalent to
//! two canonical structs through forward declarations), so the order must be
//! reproduced exactly:
//! - a new entry goes to the head of its bucket's chain;
//! - before an insertion that would fill the map past 75 % (and into an empty
//!   map), the map doubles (from 4 buckets) and every chain is rebuilt by
//!   walking the old buckets in order and pushing each entry to the head of its
//!   new bucket, which reverses the relative order of entries sharing a key.
//!
//! Entries of one key always share a bucket, so the order among them is:
//! newest first, with the whole list reversed at each growth. This is kept as
//! a deque per key plus one global parity bit (the number of growths so far,
//! mod 2): the logical head is the physical front when the parity is even and
//! the physical back when it is odd. Growth only flips the bit.
//!
//! Invariant: the sequence of insertions (and so `len` and the growth points)
//! is the same as libbpf's, because an entry is inserted exactly when libbpf
//! inserts one. The key itself need not be libbpf's hash value: any key that
//! is equal for every pair of types libbpf's equality and compatibility checks
//! can match gives the same candidate sequence once non-matching entries are
//! skipped. This implementation uses libbpf's hash values anyway.

pub(crate) use btf::hash::{mix64, FastMap};
use std::collections::VecDeque;

/// The candidate table (see the module documentation).
#[derive(Default)]
pub(crate) struct Cands {
    lists: FastMap<u64, List>,
    len: u64,
    cap: u64,
    odd: bool,
}

/// The entries of one key, in physical order (see [`Cands::nth`]). Most keys
/// have one entry, held inline: no allocation per key; the rare longer
/// lists are boxed, so that an entry of the map is 24 bytes, not 48.
#[derive(Default)]
pub(crate) enum List {
    /// No entry.
    #[default]
    Empty,
    /// One entry.
    One(u32),
    /// Two or more. Boxed on purpose (clippy's `box_collection` would have
    /// the deque inline): the box keeps every entry of the map small.
    #[allow(clippy::box_collection)]
    Many(Box<VecDeque<u32>>),
}

impl List {
    fn len(&self) -> usize {
        match self {
            List::Empty => 0,
            List::One(_) => 1,
            List::Many(d) => d.len(),
        }
    }

    fn get(&self, i: usize) -> Option<u32> {
        match self {
            List::Empty => None,
            List::One(x) => (i == 0).then_some(*x),
            List::Many(d) => d.get(i).copied(),
        }
    }

    fn push(&mut self, id: u32, back: bool) {
        match self {
            List::Empty => *self = List::One(id),
            List::One(x) => {
                let d = if back {
                    VecDeque::from([*x, id])
                } else {
                    VecDeque::from([id, *x])
                };
                *self = List::Many(Box::new(d));
            }
            List::Many(d) => {
                if back {
                    d.push_back(id)
                } else {
                    d.push_front(id)
                }
            }
        }
    }
}

impl Cands {
    /// Room for `n` more keys.
    pub fn reserve(&mut self, n: usize) {
        self.lists.reserve(n);
    }

    /// Adds `id` under `key`, as libbpf's `hashmap__append`.
    pub fn add(&mut self, key: u64, id: u32) {
        // libbpf: grow when empty or when (size + 1) * 4 / 3 > capacity.
        if self.cap == 0 || (self.len + 1) * 4 / 3 > self.cap {
            self.cap = (self.cap * 2).max(4);
            self.odd = !self.odd;
        }
        self.lists.entry(key).or_default().push(id, self.odd);
        self.len += 1;
    }

    /// Takes the candidates of `key` out (give them back with [`Cands::put`]),
    /// so that the caller can walk them while changing other state.
    #[inline]
    pub fn take(&mut self, key: u64) -> List {
        match self.lists.get_mut(&key) {
            Some(l) => std::mem::take(l),
            None => List::Empty,
        }
    }

    /// Gives back what [`Cands::take`] took.
    #[inline]
    pub fn put(&mut self, key: u64, l: List) {
        if l.len() > 0 {
            if let Some(slot) = self.lists.get_mut(&key) {
                *slot = l;
            }
        }
    }

    /// The `i`-th candidate of a taken list in libbpf's iteration order.
    #[inline]
    pub fn nth(&self, l: &List, i: usize) -> Option<u32> {
        if self.odd {
            let n = l.len();
            if i >= n {
                return None;
            }
            l.get(n - 1 - i)
        } else {
            l.get(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_small() {
        assert!(std::mem::size_of::<List>() <= 16);
    }

    /// A literal model of libbpf's chained map, to check the deque shortcut.
    struct Model {
        buckets: Vec<Vec<(u64, u32)>>, // each chain head first
        bits: u32,
        len: u64,
    }

    fn bucket(h: u64, bits: u32) -> usize {
        if bits == 0 {
            0
        } else {
            (h.wrapping_mul(11400714819323198485) >> (64 - bits)) as usize
        }
    }

    impl Model {
        fn add(&mut self, key: u64, v: u32) {
            let cap = if self.buckets.is_empty() {
                0
            } else {
                1u64 << self.bits
            };
            if cap == 0 || (self.len + 1) * 4 / 3 > cap {
                let bits = (self.bits + 1).max(2);
                let mut nb: Vec<Vec<(u64, u32)>> = vec![Vec::new(); 1 << bits];
                for b in &self.buckets {
                    for &(k, v) in b {
                        nb[bucket(k, bits)].insert(0, (k, v));
                    }
                }
                self.buckets = nb;
                self.bits = bits;
            }
            let b = bucket(key, self.bits);
            self.buckets[b].insert(0, (key, v));
            self.len += 1;
        }
        fn list(&self, key: u64) -> Vec<u32> {
            if self.buckets.is_empty() {
                return vec![];
            }
            self.buckets[bucket(key, self.bits)]
                .iter()
                .filter(|e| e.0 == key)
                .map(|e| e.1)
                .collect()
        }
    }

    #[test]
    fn order_matches_chained_map() {
        let mut m = Model {
            buckets: vec![],
            bits: 0,
            len: 0,
        };
        let mut c = Cands::default();
        let mut x = 12345u64;
        for i in 0..2000u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = (x >> 60) % 7;
            m.add(key, i);
            c.add(key, i);
            if i % 37 == 0 {
                for k in 0..7 {
                    let l = c.take(k);
                    let got: Vec<u32> = (0..).map_while(|j| c.nth(&l, j)).collect();
                    c.put(k, l);
                    assert_eq!(got, m.list(k), "key {k} after {i}");
                }
            }
        }
    }
}

/// An open-addressing set of type ids for exact-equality lookups, used by
/// the reference pass of non-split BTF.
///
/// Why the order of candidates does not matter there: the reference pass
/// compares a type with candidates by exact equality of (name, info,
/// referenced ids, ...), candidates of another kind never match, and no two
/// canonical reference types are equal (the later one would have matched the
/// earlier one), so at most one candidate can match. Without a base, only
/// reference types can match reference types, so the set holds only the
/// reference types made canonical by this pass. Slots are 8 bytes (id and 32
/// hash bits), so the set stays small enough for the caches.
#[derive(Default)]
pub(crate) struct IdSet {
    slots: Vec<(u32, u32)>,
    len: usize,
}

impl IdSet {
    /// Finds an id `eq` accepts among those stored under `hash`.
    #[inline]
    pub fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let tag = (hash >> 32) as u32;
        let mut i = hash as usize & mask;
        loop {
            let (id, t) = *self.slots.get(i)?;
            if id == 0 {
                return None;
            }
            if t == tag && eq(id) {
                return Some(id);
            }
            i = (i + 1) & mask;
        }
    }

    /// Asks the CPU to bring the first slot for `hash` into the cache.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        if self.slots.is_empty() {
            return;
        }
        let i = hash as usize & (self.slots.len() - 1);
        if let Some(slot) = self.slots.get(i) {
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                // SAFETY: a prefetch is only a hint: it never faults and does
                // not change memory; the pointer comes from a live reference.
                unsafe { _mm_prefetch::<_MM_HINT_T0>((slot as *const (u32, u32)).cast()) };
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = slot;
        }
    }

    /// Adds `id` under `hash`; `rehash` gives the hash of a stored id when the
    /// set grows.
    pub fn insert(&mut self, hash: u64, id: u32, rehash: impl Fn(u32) -> u64) {
        if (self.len + 1) * 2 > self.slots.len() {
            let cap = (self.slots.len() * 2).max(1024);
            let old = std::mem::replace(&mut self.slots, vec![(0, 0); cap]);
            self.len = 0;
            for (oid, _) in old {
                if oid != 0 {
                    self.put(rehash(oid), oid);
                }
            }
        }
        self.put(hash, id);
    }

    fn put(&mut self, hash: u64, id: u32) {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while let Some(slot) = self.slots.get_mut(i) {
            if slot.0 == 0 {
                *slot = (id, (hash >> 32) as u32);
                self.len += 1;
                return;
            }
            i = (i + 1) & mask;
        }
    }
}
