//! The verifier: the kernel's BTF checks (kernel/bpf/btf.c `btf_parse`), with
//! the kernel's messages. It reads the raw blob itself, as the kernel does, so
//! that it judges exactly the bytes a loader would hand to `bpf(BPF_BTF_LOAD)`.
//!
//! The passes, each named after the kernel function it mirrors:
//! 1. `btf_parse_hdr` / `btf_check_sec_info`: the header and the section layout;
//! 2. `btf_parse_str_sec`: the string section;
//! 3. `btf_check_all_metas`: every record on its own (each kind's `check_meta`);
//! 4. `btf_check_all_types`: references resolved (loops, sizes, members,
//!    arrays, FUNC/FUNC_PROTO, VAR/DATASEC, DECL_TAG) — base BTF only: the
//!    kernel does not resolve module (split) BTF;
//! 5. `btf_check_type_tags`: TYPE_TAGs before other modifiers in every chain;
//! 6. `btf_parse_struct_metas`: special fields (`bpf_spin_lock`, lists, trees,
//!    refcounts, kptrs) of user BTF — base BTF, 6.2+ rules; the kernel logs
//!    nothing for these failures, [`Rejection::message`] says which rule failed.
//!
//! Split BTF (a `base` given) follows `btf_parse_module`: ids and string
//! offsets continue from the base, base types are trusted, passes 1, 2, 3 and
//! 5 run, and the log is the kernel's internal one (error lines only).
//!
//! The log is the kernel's level-1 log: the header, one line per type (and
//! member, enumerator, section entry), then the error. A first run keeps no
//! log (fast); only a failing blob is verified a second time to write it.
//!
//! Not mirrored: the running kernel's own lookups for kptr pointees
//! (`btf_parse_kptr`); see docs/ARCHITECTURE.md, "The verifier".

use std::fmt;

use crate::btf::Btf;

mod env;
mod fields;
mod meta;
pub mod msg;
mod resolve;
mod tags;

use env::{Env, Log, Rec, BTF_MAX_SIZE, K_DATASEC, K_INT};

/// Why the kernel would reject a blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The kernel's message, as its verifier log ends (for a type, prefixed with
    /// the type's description, e.g. `[2] PTR (anon) type_id=3 Invalid name`).
    ///
    /// Names in it whose bytes are not UTF-8 hold U+FFFD here; the kernel's
    /// bytes are in [`Rejection::message_bytes`].
    pub message: String,
    /// The message byte for byte as the kernel's log line holds it (the
    /// names' bytes as they are in the string section).
    pub message_bytes: Vec<u8>,
    /// The whole log the kernel would write at log level 1.
    pub log: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rejection {}

/// Which kernel's rules to apply where kernels differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rules {
    /// Linux 6.1: DECL_TAG and TYPE_TAG must not carry `kind_flag`; DATASEC
    /// names must be identifiers; no special-field pass (it came in 6.2).
    Linux6_1,
    /// Linux 6.12 (the Debian source): as 6.1 plus the special-field pass, with
    /// one `bpf_refcount` per struct and the ownership-depth limit.
    Linux6_12,
    /// Linux 6.14 and later as the running 6.18 behaves: DECL_TAG and TYPE_TAG
    /// may carry `kind_flag` (an `__attribute__` tag rather than a
    /// `btf_*_tag`); repeated `bpf_refcount`s and kptr ownership cycles pass.
    #[default]
    Linux6_18,
}

impl Rules {
    /// Whether DECL_TAG / TYPE_TAG may have `kind_flag` set.
    fn tag_kflag_allowed(self) -> bool {
        self >= Rules::Linux6_18
    }
    /// Whether DATASEC names may hold any printable character (6.5+; an
    /// identifier before).
    fn printable_section_names(self) -> bool {
        self >= Rules::Linux6_12
    }
    /// Whether `btf_parse_struct_metas` runs at load (6.2+).
    fn struct_metas(self) -> bool {
        self >= Rules::Linux6_12
    }
    /// Whether a second `bpf_refcount` is an error (the Debian 6.12 source;
    /// the running 6.18 accepts it).
    fn refcount_once(self) -> bool {
        self == Rules::Linux6_12
    }
    /// Whether `btf_check_ownership_depth` runs (the Debian 6.12 source; the
    /// running 6.18 accepts a self-owning kptr).
    fn ownership_depth(self) -> bool {
        self == Rules::Linux6_12
    }
}

/// The verdict with the kernel's error number, for callers that compare with
/// the real `bpf()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The message and log.
    pub rejection: Rejection,
    /// The (positive) errno the kernel returns: `EINVAL` (22), `E2BIG` (7),
    /// `ELOOP` (40) or `ENOTSUPP` (524).
    pub errno: i32,
}

/// Checks a raw BTF blob as the kernel's `BPF_BTF_LOAD` would; `base` for
/// split BTF (module BTF on vmlinux, under the kernel's module rules). Uses
/// the running kernel's rules ([`Rules::default`]).
pub fn verify_raw(data: &[u8], base: Option<&Btf>) -> Result<(), Rejection> {
    verify_raw_with(data, base, Rules::default()).map_err(|f| f.rejection)
}

/// Checks a parsed [`Btf`] by writing it back to bytes (in the machine's byte
/// order) and verifying those, on its base when it has one.
pub fn verify_btf(btf: &Btf) -> Result<(), Rejection> {
    let bytes = crate::write::to_bytes(btf, crate::btf::Endian::native());
    verify_raw(&bytes, btf.base().map(|b| &**b))
}

/// [`verify_raw`] under a given kernel's rules, with the errno.
pub fn verify_raw_with(data: &[u8], base: Option<&Btf>, rules: Rules) -> Result<(), Failure> {
    verify_passes(data, base, rules, true)
}

/// [`verify_raw_with`] without the special-field pass (`btf_parse_struct_metas`):
/// the type checks only, for callers that make that pass themselves with what
/// the kernel knows (btf-match looks kptr pointees and destructors up in the
/// kernel's BTF).
pub fn verify_types_with(data: &[u8], base: Option<&Btf>, rules: Rules) -> Result<(), Failure> {
    verify_passes(data, base, rules, false)
}

fn verify_passes(
    data: &[u8],
    base: Option<&Btf>,
    rules: Rules,
    metas: bool,
) -> Result<(), Failure> {
    let (res, _) = run(data, base, rules, false, metas);
    let Err(errno) = res else {
        return Ok(());
    };
    let (res2, env) = run(data, base, rules, true, metas);
    let errno = res2.err().unwrap_or(errno);
    let buf = &env.log.buf;
    let log = String::from_utf8_lossy(buf).into_owned();
    let message_bytes = match &env.silent {
        Some(s) => s.as_bytes().to_vec(),
        None => {
            let end = buf.iter().rposition(|&b| b != b'\n').map_or(0, |p| p + 1);
            let trimmed = &buf[..end];
            match trimmed.iter().rposition(|&b| b == b'\n') {
                Some(p) => trimmed[p + 1..].to_vec(),
                None if trimmed.is_empty() => {
                    format!("rejected with errno {errno} and no log").into_bytes()
                }
                None => trimmed.to_vec(),
            }
        }
    };
    let message = String::from_utf8_lossy(&message_bytes).into_owned();
    Err(Failure {
        rejection: Rejection {
            message,
            message_bytes,
            log,
        },
        errno,
    })
}

/// One verification; `log` writes the log.
fn run<'a>(
    data: &'a [u8],
    base: Option<&'a Btf>,
    rules: Rules,
    log: bool,
    metas: bool,
) -> (Result<(), i32>, Env<'a>) {
    let mut env = Env::new(data, base, Log::new(log, base.is_some()), rules);
    if base.is_none() && data.len() > BTF_MAX_SIZE {
        env.silent = Some(msg::NOLOG_TOO_BIG.to_string());
        return (Err(env::E2BIG), env);
    }
    let res = passes(&mut env, metas);
    (res, env)
}

fn passes(env: &mut Env, metas: bool) -> Result<(), i32> {
    env.parse_hdr()?;
    env.parse_str_sec()?;
    if env.base.is_none() {
        env.type_sec_prologue()?;
    }
    env.check_all_metas()?;
    if env.base.is_none() {
        env.check_all_types()?;
    }
    env.check_type_tags()?;
    if metas && env.base.is_none() && env.rules.struct_metas() {
        env.check_struct_metas()?;
    }
    Ok(())
}

/// The map a BTF's key and value types are checked against at map creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// The map type: only arrays have a kind-specific check here.
    pub map_type: MapType,
    /// `key_size` of the map.
    pub key_size: u32,
    /// `value_size` of the map.
    pub value_size: u32,
    /// `max_entries` of the map.
    pub max_entries: u32,
    /// `btf_key_type_id` (0: none).
    pub key_type_id: u32,
    /// `btf_value_type_id`.
    pub value_type_id: u32,
}

/// Map types known to [`check_map_kv`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapType {
    /// `BPF_MAP_TYPE_ARRAY`: `array_map_check_btf` applies.
    Array,
    /// Any map type without its own `map_check_btf`.
    Other,
}

/// Checks a map's key and value types as `bpf(BPF_MAP_CREATE)` does with BTF
/// (the kernel's `map_check_btf`, then `array_map_check_btf` for arrays): the
/// blob must verify; key (when given) and value must resolve to types whose
/// sizes equal the map's; an array's key must be a 32-bit INT at bit offset 0,
/// or absent for a one-entry array of a DATASEC. The kernel gives no message
/// (EINVAL): the error says which rule failed.
///
/// Not mirrored: the special-field parse of the value (`btf_parse_fields`).
pub fn check_map_kv(data: &[u8], spec: &MapSpec) -> Result<(), String> {
    let (res, env) = run(data, None, Rules::default(), false, true);
    if res.is_err() {
        return Err(verify_raw(data, None)
            .err()
            .map_or_else(|| "BTF rejected".to_string(), |r| r.message));
    }
    let key = if spec.key_type_id != 0 {
        let Some((kt, _, ksize)) = env.type_id_size(spec.key_type_id) else {
            return Err(format!(
                "key type [{}] has no size (map_check_btf: EINVAL)",
                spec.key_type_id
            ));
        };
        if ksize != spec.key_size {
            return Err(format!(
                "key type [{}] is {ksize} bytes, the map's key_size is {} (map_check_btf: EINVAL)",
                spec.key_type_id, spec.key_size
            ));
        }
        Some(kt)
    } else {
        if spec.map_type != MapType::Array {
            return Err(
                "no key type, and this map type has no check allowing that (map_check_btf: EINVAL)"
                    .into(),
            );
        }
        None
    };
    let Some((vt, _, vsize)) = env.type_id_size(spec.value_type_id) else {
        return Err(format!(
            "value type [{}] has no size (map_check_btf: EINVAL)",
            spec.value_type_id
        ));
    };
    if vsize != spec.value_size {
        return Err(format!(
            "value type [{}] is {vsize} bytes, the map's value_size is {} (map_check_btf: EINVAL)",
            spec.value_type_id, spec.value_size
        ));
    }
    if spec.map_type == MapType::Array {
        array_map_check(&env, key, &vt, spec)?;
    }
    Ok(())
}

/// `array_map_check_btf`.
fn array_map_check(env: &Env, key: Option<Rec>, vt: &Rec, spec: &MapSpec) -> Result<(), String> {
    let Some(kt) = key else {
        if spec.max_entries != 1 || !vt.is_kind(K_DATASEC) {
            return Err("an array without a key type must have one entry and a DATASEC value (array_map_check_btf: EINVAL)".into());
        }
        return Ok(());
    };
    if !kt.is_kind(K_INT) {
        return Err(format!(
            "array key type [{}] is not an INT (array_map_check_btf: EINVAL)",
            spec.key_type_id
        ));
    }
    let d = env.w(kt.extra());
    if d & 0xff != 32 || (d >> 16) & 0xff != 0 {
        return Err(format!(
            "array key type [{}] is not a 32-bit INT at bit offset 0 (array_map_check_btf: EINVAL)",
            spec.key_type_id
        ));
    }
    Ok(())
}
