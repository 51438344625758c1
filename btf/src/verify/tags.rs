//! The modifier chain check (the kernel's `btf_check_type_tags`): in every
//! chain of modifiers (CONST, VOLATILE, RESTRICT, TYPEDEF, TYPE_TAG), the
//! TYPE_TAGs must come first, and no chain may be longer than 32 links.
//!
//! Invariant: chains are walked from each own modifier in id order; a walk
//! stops at a type already proven good (an id at most `good_id`, the last
//! checked one), so every walk is at most 33 steps and the check is linear.

use super::env::*;
use super::msg as m;
use crate::ids::TypeId;
use crate::types::TypeData;

impl Env<'_> {
    /// Kind and referenced id of any type, base ones included (`None` when
    /// the id does not exist).
    fn kind_ref(&self, id: u32) -> Option<(u8, u32)> {
        if id >= self.start_id {
            let r = self.ty(id)?;
            return Some((if r.is_void() { K_UNKN } else { r.kind() }, r.st));
        }
        if id == 0 {
            return Some((K_UNKN, 0));
        }
        let t = self.base?.type_by_id(TypeId(id))?;
        let r = match &t.data {
            TypeData::Typedef(x)
            | TypeData::Volatile(x)
            | TypeData::Const(x)
            | TypeData::Restrict(x)
            | TypeData::TypeTag(x) => x.0,
            _ => 0,
        };
        Some((t.kind().as_u8(), r))
    }

    /// `btf_check_type_tags`, from the first own id.
    pub fn check_type_tags(&mut self) -> Res {
        let is_mod = |k: u8| {
            matches!(
                k,
                K_TYPEDEF | K_VOLATILE | K_CONST | K_RESTRICT | K_TYPE_TAG
            )
        };
        let first = self.start_id.max(1);
        let n = self.start_id + self.nr_types();
        let mut good_id = first - 1;
        for i in first..n {
            let Some((mut k, mut r)) = self.kind_ref(i) else {
                self.silent = Some(m::NOLOG_TAG_CHAIN_MISSING.to_string());
                return Err(EINVAL);
            };
            if !is_mod(k) {
                continue;
            }
            let mut in_tags = k == K_TYPE_TAG;
            let mut limit = MAX_RESOLVE_DEPTH;
            let mut cur = i;
            while is_mod(k) {
                if limit == 0 {
                    self.log_plain(format_args!("{}", m::MAX_CHAIN_LENGTH));
                    return Err(ELOOP);
                }
                limit -= 1;
                if k == K_TYPE_TAG {
                    if !in_tags {
                        self.log_plain(format_args!("{}", m::TYPE_TAGS_DONT_PRECEDE));
                        return Err(EINVAL);
                    }
                } else {
                    in_tags = false;
                }
                if cur <= good_id {
                    break;
                }
                cur = r;
                match self.kind_ref(cur) {
                    Some((k2, r2)) => {
                        k = k2;
                        r = r2;
                    }
                    None => {
                        self.silent = Some(m::NOLOG_TAG_CHAIN_MISSING.to_string());
                        return Err(EINVAL);
                    }
                }
            }
            good_id = i;
        }
        Ok(())
    }
}
