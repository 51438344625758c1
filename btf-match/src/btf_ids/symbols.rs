//! The `__BTF_ID__<kind>__<name>__<n>` symbol names, parsed strictly.
//!
//! Grammar (as the kernel's `btf_ids.h` emits them):
//! - `__BTF_ID__struct__NAME__N`, `union`, `typedef`, `func`: one 4-byte id slot;
//!   `N` is the decimal suffix the macros paste (`__COUNTER__`, and since 6.x
//!   `__COUNTER__` then `__LINE__`: still only digits).
//! - `__BTF_ID__set__NAME`, `__BTF_ID__set8__NAME`: the start of a set, no suffix.
//!
//! `NAME` must be a C identifier (it may itself contain `__`). Anything else
//! with the `__BTF_ID__` prefix is an error, where resolve_btfids would guess.

/// The kind of type an id slot names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlotKind {
    /// `BTF_KIND_STRUCT`.
    Struct,
    /// `BTF_KIND_UNION`.
    Union,
    /// `BTF_KIND_TYPEDEF`.
    Typedef,
    /// `BTF_KIND_FUNC`.
    Func,
}

impl SlotKind {
    /// Every slot kind, in the order resolve_btfids patches them.
    pub const ALL: [SlotKind; 4] = [
        SlotKind::Struct,
        SlotKind::Union,
        SlotKind::Typedef,
        SlotKind::Func,
    ];

    /// The word in the symbol name.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotKind::Struct => "struct",
            SlotKind::Union => "union",
            SlotKind::Typedef => "typedef",
            SlotKind::Func => "func",
        }
    }

    /// The BTF kind looked up.
    pub fn btf_kind(self) -> btf::Kind {
        match self {
            SlotKind::Struct => btf::Kind::Struct,
            SlotKind::Union => btf::Kind::Union,
            SlotKind::Typedef => btf::Kind::Typedef,
            SlotKind::Func => btf::Kind::Func,
        }
    }
}

/// What a `__BTF_ID__` symbol name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// An id slot for the type `name` of kind `kind`.
    Slot {
        /// The kind.
        kind: SlotKind,
        /// The type name.
        name: Vec<u8>,
    },
    /// The start of a set (`set8`: a set of `{id, flags}` pairs).
    Set {
        /// Whether this is a `BTF_SET8`.
        set8: bool,
        /// The set's name.
        name: Vec<u8>,
    },
}

/// The prefix every resolvable symbol carries.
pub const PREFIX: &[u8] = b"__BTF_ID__";

fn is_ident(s: &[u8]) -> bool {
    match s.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return false,
    }
    s.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Parses a symbol name. `Ok(None)`: not a `__BTF_ID__` symbol (a list label).
/// `Err`: a `__BTF_ID__` symbol that does not follow the grammar, with the reason.
pub fn parse(sym: &[u8]) -> Result<Option<Parsed>, String> {
    let Some(rest) = sym.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    let Some(sep) = rest.windows(2).position(|w| w == b"__") else {
        return Err("no '__' after the kind".into());
    };
    let (kind, tail) = (&rest[..sep], &rest[sep + 2..]);
    let slot = match kind {
        b"struct" => SlotKind::Struct,
        b"union" => SlotKind::Union,
        b"typedef" => SlotKind::Typedef,
        b"func" => SlotKind::Func,
        b"set" | b"set8" => {
            if !is_ident(tail) {
                return Err("the set name is not a C identifier".into());
            }
            return Ok(Some(Parsed::Set {
                set8: kind == b"set8",
                name: tail.to_vec(),
            }));
        }
        _ => {
            return Err(format!(
                "unsupported kind '{}' (expected struct, union, typedef, func, set or set8)",
                String::from_utf8_lossy(kind)
            ))
        }
    };
    let digits = tail.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return Err("no numeric '__N' suffix".into());
    }
    let Some(name) = tail[..tail.len() - digits].strip_suffix(b"__") else {
        return Err("no '__' before the numeric suffix".into());
    };
    if !is_ident(name) {
        return Err("the type name is not a C identifier".into());
    }
    Ok(Some(Parsed::Slot {
        kind: slot,
        name: name.to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(kind: SlotKind, name: &str) -> Option<Parsed> {
        Some(Parsed::Slot {
            kind,
            name: name.as_bytes().to_vec(),
        })
    }

    #[test]
    fn names() {
        assert_eq!(
            parse(b"__BTF_ID__func__vfs_truncate__0"),
            Ok(slot(SlotKind::Func, "vfs_truncate"))
        );
        assert_eq!(
            parse(b"__BTF_ID__struct__task_struct__12345"),
            Ok(slot(SlotKind::Struct, "task_struct"))
        );
        assert_eq!(
            parse(b"__BTF_ID__func____x64_sys_foo__7"),
            Ok(slot(SlotKind::Func, "__x64_sys_foo"))
        );
        assert_eq!(
            parse(b"__BTF_ID__func__a__b__7"),
            Ok(slot(SlotKind::Func, "a__b"))
        );
        assert_eq!(
            parse(b"__BTF_ID__typedef__pid_t___3"),
            Ok(slot(SlotKind::Typedef, "pid_t_"))
        );
        assert_eq!(
            parse(b"__BTF_ID__set8__bpf_kfuncs"),
            Ok(Some(Parsed::Set {
                set8: true,
                name: b"bpf_kfuncs".to_vec()
            }))
        );
        assert_eq!(
            parse(b"__BTF_ID__set__s"),
            Ok(Some(Parsed::Set {
                set8: false,
                name: b"s".to_vec()
            }))
        );
        assert_eq!(parse(b"btf_sock_ids"), Ok(None));
        for bad in [
            &b"__BTF_ID__func__foo"[..],
            b"__BTF_ID__func__foo__",
            b"__BTF_ID__func____3",
            b"__BTF_ID__func__foo_3",
            b"__BTF_ID__structx__foo__3",
            b"__BTF_ID__enum__foo__3",
            b"__BTF_ID__set__",
            b"__BTF_ID__set__a-b",
            b"__BTF_ID__func__f.o__1",
            b"__BTF_ID__",
            b"__BTF_ID__func",
        ] {
            assert!(
                parse(bad).is_err(),
                "{} accepted",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
