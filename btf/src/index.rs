//! [`NameIndex`]: find types by name without scanning.

use std::collections::HashMap;

use crate::btf::Btf;
use crate::ids::TypeId;
use crate::kind::Kind;

/// Maps each name to the ids of the types carrying it, in id order. Anonymous
/// types are not indexed. Built once in O(types); lookups are O(1) plus the
/// number of types sharing the name.
#[derive(Debug)]
pub struct NameIndex<'a> {
    btf: &'a Btf,
    map: HashMap<&'a [u8], Vec<TypeId>>,
}

impl<'a> NameIndex<'a> {
    /// Indexes every named type of `btf`, the base's included.
    pub fn new(btf: &'a Btf) -> Self {
        let mut map: HashMap<&'a [u8], Vec<TypeId>> =
            HashMap::with_capacity(btf.type_count() as usize);
        for (id, t) in btf.types() {
            if t.name_off.is_empty() {
                continue;
            }
            if let Some(name) = btf.str_bytes(t.name_off) {
                if !name.is_empty() {
                    map.entry(name).or_default().push(id);
                }
            }
        }
        NameIndex { btf, map }
    }

    /// All types named `name`, in id order.
    pub fn find_all(&self, name: &str) -> &[TypeId] {
        self.map.get(name.as_bytes()).map_or(&[], Vec::as_slice)
    }

    /// The first type named `name` of kind `kind`.
    pub fn find(&self, name: &str, kind: Kind) -> Option<TypeId> {
        self.find_all(name)
            .iter()
            .copied()
            .find(|&id| self.btf.type_by_id(id).is_some_and(|t| t.kind() == kind))
    }

    /// The first type named `name`, of any kind.
    pub fn find_any(&self, name: &str) -> Option<TypeId> {
        self.find_all(name).first().copied()
    }

    /// The number of distinct names.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no type has a name.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
