//! The verifier's state: the blob, the type records found so far, the log, and
//! the resolve bookkeeping. Mirrors the kernel's `struct btf` plus
//! `struct btf_verifier_env` (kernel/bpf/btf.c), in our own layout.
//!
//! Invariants:
//! - `recs[i]` describes own type `start_id + i`; in base-less mode `start_id`
//!   is 0 and `recs[0]` is `void` (as the kernel's `btf_void`), so ids index
//!   `recs` directly.
//! - every record in `recs` was accepted by its kind's `check_meta`, so its
//!   trailing records lie inside `data` (reads still go through bounds-checked
//!   helpers that give 0 out of range, so a bug cannot panic).
//! - `visit`, `rids` and `rsizes` have one slot per record once the resolve
//!   phase starts; the resolve stack never holds more than [`MAX_RESOLVE_DEPTH`]
//!   vertices.

use std::fmt::{self, Write as _};

use crate::btf::Btf;
use crate::format;
use crate::ids::StrOff;

use super::Rules;

/// `BTF_MAX_TYPE`: the highest type id.
pub(crate) const BTF_MAX_TYPE: u32 = 0x000f_ffff;
/// `BTF_MAX_NAME_OFFSET`: the highest string offset.
pub(crate) const BTF_MAX_NAME_OFFSET: u32 = 0x00ff_ffff;
/// `BTF_MAX_SIZE`: the largest blob `BPF_BTF_LOAD` takes.
pub(crate) const BTF_MAX_SIZE: usize = 16 * 1024 * 1024;
/// The kernel's `MAX_RESOLVE_DEPTH` (resolve stack size and chain limits).
pub(crate) use crate::format::MAX_RESOLVE_DEPTH;
/// `KSYM_NAME_LEN`: the identifier length limit.
pub(crate) const KSYM_NAME_LEN: usize = 512;
/// One `vscnprintf` into the kernel's temporary log buffer keeps at most this many bytes.
const TMP_LOG_MAX: usize = 1023;

// Kind numbers, from the one kind table.
pub(crate) use crate::kind::num::{
    ARRAY as K_ARRAY, CONST as K_CONST, DATASEC as K_DATASEC, DECL_TAG as K_DECL_TAG,
    ENUM as K_ENUM, ENUM64 as K_ENUM64, FLOAT as K_FLOAT, FUNC as K_FUNC,
    FUNC_PROTO as K_FUNC_PROTO, FWD as K_FWD, INT as K_INT, MAX as K_MAX, PTR as K_PTR,
    RESTRICT as K_RESTRICT, STRUCT as K_STRUCT, TYPEDEF as K_TYPEDEF, TYPE_TAG as K_TYPE_TAG,
    UNION as K_UNION, UNKN as K_UNKN, VAR as K_VAR, VOLATILE as K_VOLATILE,
};

/// Error numbers the kernel returns (positive).
pub(crate) const EINVAL: i32 = 22;
pub(crate) const E2BIG: i32 = 7;
pub(crate) const EEXIST: i32 = 17;
pub(crate) const ELOOP: i32 = 40;
pub(crate) const ENOTSUPP: i32 = 524;
pub(crate) const ENOENT: i32 = 2;
pub(crate) const EFAULT: i32 = 14;

/// A step failed with this errno; the message is in the log.
pub(crate) type Res<T = ()> = Result<T, i32>;

/// One type record: its three header words and where it sits in the blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rec {
    pub name_off: u32,
    pub info: u32,
    /// The size or type word.
    pub st: u32,
    /// Byte offset of the record in the blob; `u32::MAX` for `void`.
    pub off: u32,
}

impl Rec {
    /// The kernel's `btf_void`: all zero, recognised by identity.
    pub const VOID: Rec = Rec {
        name_off: 0,
        info: 0,
        st: 0,
        off: u32::MAX,
    };
    #[inline]
    pub fn kind(&self) -> u8 {
        format::info_kind(self.info)
    }
    #[inline]
    pub fn vlen(&self) -> u32 {
        format::info_vlen(self.info)
    }
    #[inline]
    pub fn kflag(&self) -> bool {
        format::info_kflag(self.info)
    }
    /// Bytes of trailing data a record of this kind and `vlen` has (the
    /// format's record size less the common part; 0 for unknown kinds).
    #[inline]
    pub fn trailing_bytes(&self) -> u32 {
        let words = format::record_words(self.kind(), self.vlen()).unwrap_or(format::HEAD_WORDS);
        4 * (words - format::HEAD_WORDS) as u32
    }
    #[inline]
    pub fn is_void(&self) -> bool {
        self.off == u32::MAX
    }
    /// Byte offset of the trailing data.
    #[inline]
    pub fn extra(&self) -> usize {
        self.off as usize + 12
    }
    /// The kernel's `btf_type_is_modifier`, which counts TYPEDEF too
    /// ([`crate::Kind::is_modifier_or_typedef`]).
    pub fn is_modifier_or_typedef(&self) -> bool {
        !self.is_void()
            && matches!(
                self.kind(),
                K_TYPEDEF | K_VOLATILE | K_CONST | K_RESTRICT | K_TYPE_TAG
            )
    }
    pub fn is_kind(&self, k: u8) -> bool {
        !self.is_void() && self.kind() == k
    }
    pub fn is_struct(&self) -> bool {
        self.is_kind(K_STRUCT) || self.is_kind(K_UNION)
    }
    /// `btf_type_nosize`: void, FWD, FUNC, FUNC_PROTO, DECL_TAG.
    pub fn nosize(&self) -> bool {
        self.is_void() || matches!(self.kind(), K_FWD | K_FUNC | K_FUNC_PROTO | K_DECL_TAG)
    }
    /// `btf_type_is_resolve_source_only`: VAR, DECL_TAG, DATASEC.
    pub fn source_only(&self) -> bool {
        !self.is_void() && matches!(self.kind(), K_VAR | K_DECL_TAG | K_DATASEC)
    }
    /// `btf_type_needs_resolve`.
    pub fn needs_resolve(&self) -> bool {
        !self.is_void()
            && (self.is_modifier_or_typedef()
                || matches!(
                    self.kind(),
                    K_PTR | K_STRUCT | K_UNION | K_ARRAY | K_VAR | K_FUNC | K_DECL_TAG | K_DATASEC
                ))
    }
    /// `btf_type_has_size`.
    pub fn has_size(&self) -> bool {
        !self.is_void()
            && matches!(
                self.kind(),
                K_INT | K_STRUCT | K_UNION | K_ENUM | K_DATASEC | K_FLOAT | K_ENUM64
            )
    }
}

/// A struct member (or a copy with its type replaced, as the kernel does).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Member {
    pub name_off: u32,
    pub ty: u32,
    pub offset: u32,
}

/// A DATASEC entry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vsi {
    pub ty: u32,
    pub offset: u32,
    pub size: u32,
}

/// The copied header; fields past `hdr_len` stay 0, as in the kernel.
pub(crate) type Hdr = crate::format::Header;

/// The verifier log: what `bpf_verifier_vlog` would write at level 1, or at the
/// kernel's internal level (module BTF) when `kernel_mode`.
pub(crate) struct Log {
    pub on: bool,
    pub kernel_mode: bool,
    pub buf: Vec<u8>,
    tmp: String,
}

impl Log {
    pub fn new(on: bool, kernel_mode: bool) -> Log {
        Log {
            on,
            kernel_mode,
            buf: Vec::new(),
            tmp: String::new(),
        }
    }
    /// One `bpf_verifier_vlog` call: formats, keeps at most 1023 bytes.
    #[inline]
    pub fn v(&mut self, args: fmt::Arguments) {
        if !self.on {
            return;
        }
        self.tmp.clear();
        let _ = self.tmp.write_fmt(args);
        let b = self.tmp.as_bytes();
        let n = b.len().min(TMP_LOG_MAX);
        self.buf.extend_from_slice(&b[..n]);
    }
    /// Like [`Log::v`] for raw bytes (names are bytes, not UTF-8).
    pub fn bytes(&mut self, parts: &[&[u8]]) {
        if !self.on {
            return;
        }
        let mut left = TMP_LOG_MAX;
        for p in parts {
            let n = p.len().min(left);
            self.buf.extend_from_slice(&p[..n]);
            left -= n;
        }
    }
}

/// The kernel's `btf_kind_str`.
pub(crate) fn kind_str(k: u8) -> &'static str {
    match k {
        K_UNKN => "UNKNOWN",
        _ => crate::kind::Kind::name_of(k),
    }
}

const IDENT_FIRST: u8 = 1;
const IDENT_REST: u8 = 2;
/// Per byte: may start an identifier (`IDENT_FIRST`), may continue one
/// (`IDENT_REST`), by the kernel's Latin-1 `ctype`.
static IDENT: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic() || (b >= 0xc0 && b != 0xd7 && b != 0xf7);
        let other = b == b'_' || b == b'.';
        if alpha || other {
            t[c] |= IDENT_FIRST | IDENT_REST;
        }
        if b.is_ascii_digit() {
            t[c] |= IDENT_REST;
        }
        c += 1;
    }
    t
};

/// The kernel's `isprint`: ASCII 0x20..=0x7e and Latin-1 0xa0..=0xff.
pub(crate) fn k_isprint(c: u8) -> bool {
    (0x20..=0x7e).contains(&c) || c >= 0xa0
}

/// Resolve modes of the kernel's `enum resolve_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Tbd,
    Ptr,
    StructOrArray,
}

/// A resolve stack entry (`struct resolve_vertex`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vertex {
    pub t: Rec,
    pub id: u32,
    pub next_member: u32,
}

pub(crate) const NOT_VISITED: u8 = 0;
pub(crate) const VISITED: u8 = 1;
pub(crate) const RESOLVED: u8 = 2;

/// The verifier environment.
pub(crate) struct Env<'a> {
    pub data: &'a [u8],
    pub hdr: Hdr,
    /// The header's magic, as the kernel read it.
    pub magic: u16,
    /// Absolute offset of the string section.
    pub str_start: usize,
    pub base: Option<&'a Btf>,
    pub start_id: u32,
    pub start_str_off: u32,
    pub recs: Vec<Rec>,
    /// The kernel's `types_size` (capacity of its types array), to reproduce
    /// when "Exceeded max num of types" fires.
    pub types_size: u32,
    pub log: Log,
    pub log_type_id: u32,
    /// false: CHECK_META; true: CHECK_TYPE.
    pub phase_types: bool,
    pub visit: Vec<u8>,
    pub rids: Vec<u32>,
    pub rsizes: Vec<u32>,
    pub stack: Vec<Vertex>,
    pub mode: Mode,
    pub rules: Rules,
    /// Why the verification failed when the kernel logs nothing.
    pub silent: Option<String>,
}

impl<'a> Env<'a> {
    pub fn new(data: &'a [u8], base: Option<&'a Btf>, log: Log, rules: Rules) -> Env<'a> {
        let (start_id, start_str_off) = match base {
            Some(b) => (b.type_count(), b.str_len_total()),
            None => (0, 0),
        };
        Env {
            data,
            hdr: Hdr::default(),
            magic: 0,
            str_start: 0,
            base,
            start_id,
            start_str_off,
            recs: Vec::new(),
            types_size: 0,
            log,
            log_type_id: 0,
            phase_types: false,
            visit: Vec::new(),
            rids: Vec::new(),
            rsizes: Vec::new(),
            stack: Vec::with_capacity(MAX_RESOLVE_DEPTH as usize),
            mode: Mode::Tbd,
            rules,
            silent: None,
        }
    }

    /// A native-endian word of the blob at byte offset `off` (any
    /// alignment: the kernel allows an odd header length); 0 out of range
    /// (never after check_meta).
    #[inline]
    pub fn w(&self, off: usize) -> u32 {
        format::ByteWords::new(self.data, crate::Endian::native())
            .u32_at(off)
            .unwrap_or(0)
    }

    /// Reads the record at `off`.
    pub fn rec_at(&self, off: usize) -> Rec {
        Rec {
            name_off: self.w(off),
            info: self.w(off + 4),
            st: self.w(off + 8),
            off: off as u32,
        }
    }

    /// `btf_type_by_id` for own types (and `void`); `None` for base ids and
    /// ids past the end.
    #[inline]
    pub fn ty(&self, id: u32) -> Option<Rec> {
        if id < self.start_id {
            return None;
        }
        self.recs.get((id - self.start_id) as usize).copied()
    }

    /// Number of types (the kernel's `btf->nr_types`, void included for base BTF).
    pub fn nr_types(&self) -> u32 {
        self.recs.len() as u32
    }

    pub fn member(&self, t: &Rec, i: u32) -> Member {
        let o = t.extra() + 12 * i as usize;
        Member {
            name_off: self.w(o),
            ty: self.w(o + 4),
            offset: self.w(o + 8),
        }
    }

    pub fn vsi(&self, t: &Rec, i: u32) -> Vsi {
        let o = t.extra() + 12 * i as usize;
        Vsi {
            ty: self.w(o),
            offset: self.w(o + 4),
            size: self.w(o + 8),
        }
    }

    /// A FUNC_PROTO parameter: (name_off, type).
    pub fn param(&self, t: &Rec, i: u32) -> (u32, u32) {
        let o = t.extra() + 8 * i as usize;
        (self.w(o), self.w(o + 4))
    }

    // --- strings ---

    /// `btf_str_by_offset`: the string at `off`, without its NUL.
    pub fn str_at(&self, off: u32) -> Option<&'a [u8]> {
        if off < self.start_str_off {
            return self.base.and_then(|b| b.str_bytes(StrOff(off)));
        }
        let rel = off - self.start_str_off;
        if rel >= self.hdr.str_len {
            return None;
        }
        let s = self.data.get(self.str_start + rel as usize..)?;
        let s = &s[..s.len().min((self.hdr.str_len - rel) as usize)];
        Some(match s.iter().position(|&b| b == 0) {
            Some(n) => &s[..n],
            None => s,
        })
    }

    /// `btf_name_offset_valid`.
    pub fn name_offset_valid(&self, off: u32) -> bool {
        if off > BTF_MAX_NAME_OFFSET {
            return false;
        }
        if off < self.start_str_off {
            return self.base.is_some_and(|b| off < b.str_len_total());
        }
        off - self.start_str_off < self.hdr.str_len
    }

    /// The bytes from `off` to the end of its string section (own strings),
    /// or the string without its NUL (base strings).
    fn str_tail(&self, off: u32) -> Option<&'a [u8]> {
        if off < self.start_str_off {
            return self.base.and_then(|b| b.str_bytes(StrOff(off)));
        }
        let rel = off - self.start_str_off;
        if rel >= self.hdr.str_len {
            return None;
        }
        let end = self.str_start + self.hdr.str_len as usize;
        self.data.get(self.str_start + rel as usize..end)
    }

    /// `btf_name_valid_identifier` (the offset must be valid): a letter, `_`
    /// or `.`, then letters, digits, `_` or `.`, NUL within 512 bytes. One
    /// pass with a table (this is the hottest check on vmlinux).
    pub fn name_valid_identifier(&self, off: u32) -> bool {
        let Some(s) = self.str_tail(off) else {
            return false;
        };
        let mut it = s.iter();
        match it.next() {
            Some(&c) if IDENT[c as usize] & IDENT_FIRST != 0 => {}
            _ => return false,
        }
        for (pos, &c) in (1usize..).zip(it) {
            if c == 0 {
                return true;
            }
            if pos >= KSYM_NAME_LEN || IDENT[c as usize] & IDENT_REST == 0 {
                return false;
            }
        }
        // Base strings come without their NUL: the name ended in time.
        true
    }

    /// `btf_name_valid_section`: non-empty, printable, at most 512 bytes.
    pub fn name_valid_section(&self, off: u32) -> bool {
        let Some(s) = self.str_at(off) else {
            return false;
        };
        if s.is_empty() || s.len() > KSYM_NAME_LEN {
            return false;
        }
        s.iter().all(|&c| k_isprint(c))
    }

    /// `__btf_name_by_offset`, for the log.
    pub fn log_name(&self, off: u32) -> &'a [u8] {
        if off == 0 {
            return b"(anon)";
        }
        self.str_at(off).unwrap_or(b"(invalid-name-offset)")
    }

    // --- logging (btf_verifier_log*, in the kernel's formats) ---

    /// `btf_verifier_log`: a free-form message (no newline added).
    pub fn log_plain(&mut self, args: fmt::Arguments) {
        self.log.v(args);
    }

    /// `__btf_verifier_log_type`: `[id] KIND name [details] [msg]\n`.
    pub fn log_type_x(&mut self, t: &Rec, details: bool, msg: Option<fmt::Arguments>) {
        if !self.log.on {
            return;
        }
        if self.log.kernel_mode && msg.is_none() {
            return;
        }
        let head = format!("[{}] {} ", self.log_type_id, kind_str(t.kind()));
        let name = self.log_name(t.name_off);
        let sep: &[u8] = if details { b" " } else { b"" };
        self.log.bytes(&[head.as_bytes(), name, sep]);
        if details {
            self.log_details(t);
        }
        if let Some(m) = msg {
            self.log.v(format_args!(" "));
            self.log.v(m);
        }
        self.log.v(format_args!("\n"));
    }

    /// `btf_verifier_log_type`: with the kind's details.
    pub fn log_type(&mut self, t: &Rec, msg: fmt::Arguments) {
        self.log_type_x(t, true, Some(msg));
    }

    /// `btf_verifier_log_basic`: without details.
    pub fn log_basic(&mut self, t: &Rec, msg: fmt::Arguments) {
        self.log_type_x(t, false, Some(msg));
    }

    /// `btf_verifier_log_member`.
    pub fn log_member(&mut self, st: &Rec, m: &Member, msg: Option<fmt::Arguments>) {
        if !self.log.on {
            return;
        }
        if self.log.kernel_mode && msg.is_none() {
            return;
        }
        if self.phase_types {
            self.log_type_x(st, true, None);
        }
        let name = self.log_name(m.name_off);
        let tail = if st.kflag() {
            format!(
                " type_id={} bitfield_size={} bits_offset={}",
                m.ty,
                m.offset >> 24,
                m.offset & 0x00ff_ffff
            )
        } else {
            format!(" type_id={} bits_offset={}", m.ty, m.offset)
        };
        self.log.bytes(&[b"\t", name, tail.as_bytes()]);
        if let Some(msg) = msg {
            self.log.v(format_args!(" "));
            self.log.v(msg);
        }
        self.log.v(format_args!("\n"));
    }

    /// `btf_verifier_log_vsi`.
    pub fn log_vsi(&mut self, dt: &Rec, v: &Vsi, msg: Option<fmt::Arguments>) {
        if !self.log.on {
            return;
        }
        if self.log.kernel_mode && msg.is_none() {
            return;
        }
        if self.phase_types {
            self.log_type_x(dt, true, None);
        }
        self.log.v(format_args!(
            "\t type_id={} offset={} size={}",
            v.ty, v.offset, v.size
        ));
        if let Some(msg) = msg {
            self.log.v(format_args!(" "));
            self.log.v(msg);
        }
        self.log.v(format_args!("\n"));
    }

    /// The kinds' `log_details`.
    fn log_details(&mut self, t: &Rec) {
        match t.kind() {
            K_INT => {
                let d = self.w(t.extra());
                let enc = match (d >> 24) & 0x0f {
                    0 => "(none)",
                    1 => "SIGNED",
                    2 => "CHAR",
                    4 => "BOOL",
                    _ => "UNKN",
                };
                self.log.v(format_args!(
                    "size={} bits_offset={} nr_bits={} encoding={}",
                    t.st,
                    (d >> 16) & 0xff,
                    d & 0xff,
                    enc
                ));
            }
            K_PTR | K_TYPEDEF | K_VOLATILE | K_CONST | K_RESTRICT | K_TYPE_TAG | K_FUNC => {
                self.log.v(format_args!("type_id={}", t.st));
            }
            K_FWD => self.log.v(format_args!(
                "{}",
                if t.kflag() { "union" } else { "struct" }
            )),
            K_ARRAY => {
                let o = t.extra();
                let (e, i, n) = (self.w(o), self.w(o + 4), self.w(o + 8));
                self.log
                    .v(format_args!("type_id={e} index_type_id={i} nr_elems={n}"));
            }
            K_STRUCT | K_UNION | K_ENUM | K_ENUM64 | K_DATASEC => {
                self.log.v(format_args!("size={} vlen={}", t.st, t.vlen()));
            }
            K_FUNC_PROTO => self.log_proto(t),
            K_VAR => {
                let l = self.w(t.extra());
                self.log.v(format_args!("type_id={} linkage={}", t.st, l));
            }
            K_FLOAT => self.log.v(format_args!("size={}", t.st)),
            K_DECL_TAG => {
                let c = self.w(t.extra()) as i32;
                self.log
                    .v(format_args!("type={} component_idx={}", t.st, c));
            }
            _ => {}
        }
    }

    /// `btf_func_proto_log`.
    fn log_proto(&mut self, t: &Rec) {
        let n = t.vlen();
        self.log.v(format_args!("return={} args=(", t.st));
        if n == 0 {
            self.log.v(format_args!("void"));
        } else if n == 1 && self.param(t, 0).1 == 0 {
            self.log.v(format_args!("vararg"));
        } else {
            let (name, ty) = self.param(t, 0);
            let nm = self.log_name(name);
            let head = format!("{ty} ");
            self.log.bytes(&[head.as_bytes(), nm]);
            for i in 1..n.saturating_sub(1) {
                let (name, ty) = self.param(t, i);
                let nm = self.log_name(name);
                let head = format!(", {ty} ");
                self.log.bytes(&[head.as_bytes(), nm]);
            }
            if n > 1 {
                let (name, ty) = self.param(t, n - 1);
                if ty != 0 {
                    let nm = self.log_name(name);
                    let head = format!(", {ty} ");
                    self.log.bytes(&[head.as_bytes(), nm]);
                } else {
                    self.log.v(format_args!(", vararg"));
                }
            }
        }
        self.log.v(format_args!(")"));
    }
}
