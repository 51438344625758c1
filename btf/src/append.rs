//! [`Builder::add_btf`]: libbpf's `btf__add_btf`, appending one BTF's types to
//! a builder with their ids and string offsets renumbered.
//!
//! Invariants (those of libbpf 1.1's `btf__add_btf`, so that the bytes agree):
//! - the source's types are appended in id order, each record unchanged but
//!   for its references;
//! - a type id `i > 0` of the source becomes `i + next_id - 1`, where
//!   `next_id` is the builder's next id before the call; `void` stays 0;
//! - each string offset is replaced by the builder's offset of the same bytes,
//!   visiting the strings in [`crate::format::str_slots`] order and adding
//!   the ones the builder (or its base) lacks in that order; the empty string
//!   stays 0;
//! - the source must be base BTF (libbpf refuses split sources, and so do we).

use std::collections::HashMap;

use crate::btf::Btf;
use crate::builder::Builder;
use crate::error::{Error, Result};
use crate::ids::{StrOff, TypeId};

impl Builder {
    /// Appends every type of `src` (base BTF) and returns the id the first
    /// of them got. Strings are added as libbpf's `btf__add_btf` adds them,
    /// so the result has the same bytes as libbpf's on the same inputs.
    pub fn add_btf(&mut self, src: &Btf) -> Result<TypeId> {
        if src.base().is_some() {
            return Err(Error::new(
                "cannot append split BTF (libbpf's btf__add_btf refuses it too): flatten it onto its base first",
            ));
        }
        let first = self.next_id();
        let shift = first.0 - 1;
        if u64::from(shift) + u64::from(src.type_count()) > u64::from(u32::MAX) {
            return Err(Error::new(format!(
                "too many types: {} + {}",
                shift,
                src.type_count()
            )));
        }
        let mut strs: HashMap<StrOff, StrOff> = HashMap::new();
        for (id, t) in src.own_types() {
            let mut t = t.clone();
            let mut bad = None;
            t.for_each_str_off_mut(|s| {
                if s.is_empty() || bad.is_some() {
                    return;
                }
                if let Some(&n) = strs.get(s) {
                    *s = n;
                    return;
                }
                match src.str_bytes(*s) {
                    Some(bytes) => {
                        let n = self.add_str_bytes(bytes);
                        strs.insert(*s, n);
                        *s = n;
                    }
                    None => bad = Some(*s),
                }
            });
            if let Some(s) = bad {
                return Err(
                    Error::new(format!("string offset {} out of range", s.0)).with_type(id.0)
                );
            }
            t.for_each_type_id_mut(|r| {
                if !r.is_void() {
                    r.0 += shift;
                }
            });
            self.add_type(t);
        }
        Ok(first)
    }
}

impl Btf {
    /// Split BTF as one base BTF: the base's types then the own ones (whose
    /// ids already continue from the base's), the base's strings then the
    /// own ones (offsets continue too), so every id and offset keeps its
    /// value. Base BTF is returned as it is.
    pub fn flatten(&self) -> Result<Btf> {
        let Some(base) = self.base() else {
            return Ok(self.clone());
        };
        let base = base.flatten()?;
        let (endian, _, mut strings, mut types) = base.into_parts();
        strings.extend_from_slice(self.own_strings());
        types.extend_from_slice(self.own_type_slice());
        Btf::from_parts(endian, None, 1, 0, strings, types)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::{Builder, Kind};

    #[test]
    fn add_btf_renumbers_and_shares_strings() {
        let mut a = Builder::new();
        let int = a.add_int("int", 4, crate::types::INT_SIGNED);
        a.add_ptr(int);
        let a = a.finish().unwrap();
        let mut b = Builder::new();
        b.add_int("long", 8, 0);
        let first = b.add_btf(&a).unwrap();
        b.add_btf(&a).unwrap();
        let out = b.finish().unwrap();
        assert_eq!(first.0, 2);
        assert_eq!(out.type_count(), 6);
        assert_eq!(out.name_of(crate::TypeId(4)), "int");
        assert_eq!(out.get(crate::TypeId(5)).unwrap().ref_type().unwrap().0, 4);
        // "int" is added once.
        assert_eq!(out.own_strings(), b"\0long\0int\0");
    }

    #[test]
    fn add_btf_refuses_split_and_flatten_keeps_ids() {
        let mut base = Builder::new();
        base.add_int("int", 4, 0);
        let base = Arc::new(base.finish().unwrap());
        let mut m = Builder::new_split(base.clone());
        let s = m.add_struct("s", 4, &[("x", crate::TypeId(1), 0)]);
        let m = m.finish().unwrap();
        assert!(Builder::new().add_btf(&m).is_err());
        let flat = m.flatten().unwrap();
        assert!(flat.base().is_none());
        assert_eq!(flat.name_of(s), "s");
        assert!(flat.is_kind(s, Kind::Struct));
        assert_eq!(crate::Btf::parse(&flat.to_bytes()).unwrap().type_count(), 3);
    }
}
