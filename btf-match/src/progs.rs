//! Which program types may call which kfunc set: the kernel's registrations
//! (`register_btf_kfunc_id_set`) per [`Version`], the program type → kfunc
//! hook mapping (`bpf_prog_type_to_kfunc_hook`), and the program an EXT
//! program resolves to (`resolve_prog_type`: its target's type).
//!
//! The tables are generated from the kernel sources by
//! `scripts/gen_kfunc_hooks.py` (6.1 from 6.1's sources; 6.18 from 6.12's,
//! the closest at hand, settled against the running kernel by
//! `tests/tests/match_kfunc_call.rs`).

use std::fmt;

use crate::kernel::Version;

macro_rules! prog_types {
    ($($v:ident = $n:literal, $s:literal;)*) => {
        /// `enum bpf_prog_type`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[allow(missing_docs)]
        pub enum ProgType { $($v = $n),* }
        impl ProgType {
            /// Every program type with its `BPF_PROG_TYPE_` suffix.
            pub const ALL: &'static [(ProgType, &'static str)] = &[$((ProgType::$v, $s)),*];
        }
    };
}

prog_types! {
    Unspec = 0, "UNSPEC"; SocketFilter = 1, "SOCKET_FILTER"; Kprobe = 2, "KPROBE";
    SchedCls = 3, "SCHED_CLS"; SchedAct = 4, "SCHED_ACT"; Tracepoint = 5, "TRACEPOINT";
    Xdp = 6, "XDP"; PerfEvent = 7, "PERF_EVENT"; CgroupSkb = 8, "CGROUP_SKB";
    CgroupSock = 9, "CGROUP_SOCK"; LwtIn = 10, "LWT_IN"; LwtOut = 11, "LWT_OUT";
    LwtXmit = 12, "LWT_XMIT"; SockOps = 13, "SOCK_OPS"; SkSkb = 14, "SK_SKB";
    CgroupDevice = 15, "CGROUP_DEVICE"; SkMsg = 16, "SK_MSG";
    RawTracepoint = 17, "RAW_TRACEPOINT"; CgroupSockAddr = 18, "CGROUP_SOCK_ADDR";
    LwtSeg6Local = 19, "LWT_SEG6LOCAL"; LircMode2 = 20, "LIRC_MODE2";
    SkReuseport = 21, "SK_REUSEPORT"; FlowDissector = 22, "FLOW_DISSECTOR";
    CgroupSysctl = 23, "CGROUP_SYSCTL";
    RawTracepointWritable = 24, "RAW_TRACEPOINT_WRITABLE";
    CgroupSockopt = 25, "CGROUP_SOCKOPT"; Tracing = 26, "TRACING";
    StructOps = 27, "STRUCT_OPS"; Ext = 28, "EXT"; Lsm = 29, "LSM";
    SkLookup = 30, "SK_LOOKUP"; Syscall = 31, "SYSCALL"; Netfilter = 32, "NETFILTER";
}

impl ProgType {
    /// The `BPF_PROG_TYPE_` suffix (`XDP`, `SCHED_CLS`).
    pub fn name(self) -> &'static str {
        ProgType::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("UNSPEC", |(_, n)| n)
    }

    /// Parses `BPF_PROG_TYPE_XDP`, `XDP` or `xdp` (and libbpf's `tc`).
    pub fn parse(s: &str) -> Option<ProgType> {
        let s = s.strip_prefix("BPF_PROG_TYPE_").unwrap_or(s);
        let up = s.to_ascii_uppercase();
        let up = if up == "TC" {
            "SCHED_CLS".to_string()
        } else {
            up
        };
        ProgType::ALL
            .iter()
            .find(|(_, n)| *n == up)
            .map(|(p, _)| *p)
    }
}

impl fmt::Display for ProgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BPF_PROG_TYPE_{}", self.name())
    }
}

/// The program a call site belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prog {
    /// Its own type.
    pub ty: ProgType,
    /// For `BPF_PROG_TYPE_EXT`: the target program's type.
    pub ext_target: Option<ProgType>,
    /// `expected_attach_type == BPF_TRACE_ITER` (kfunc sets filtered to
    /// iterators, e.g. `bpf_sock_destroy`).
    pub iter: bool,
}

impl Prog {
    /// A program of this type (not EXT, not an iterator).
    pub fn new(ty: ProgType) -> Prog {
        Prog {
            ty,
            ext_target: None,
            iter: false,
        }
    }

    /// An EXT program attached to a program of type `target`.
    pub fn ext(target: ProgType) -> Prog {
        Prog {
            ty: ProgType::Ext,
            ext_target: Some(target),
            iter: false,
        }
    }

    /// `resolve_prog_type`: an EXT program takes its target's type.
    pub fn resolved(&self) -> ProgType {
        match (self.ty, self.ext_target) {
            (ProgType::Ext, Some(t)) => t,
            (t, _) => t,
        }
    }
}

/// A kfunc hook (`enum btf_kfunc_hook`): where registrations go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum Hook {
    Common,
    Xdp,
    Tc,
    StructOps,
    Tracing,
    Syscall,
    Cgroup,
    SchedAct,
    SkSkb,
    SocketFilter,
    Lwt,
    Netfilter,
    Kprobe,
}

/// `bpf_prog_type_to_kfunc_hook` of the version: `None` for a program type
/// no kfunc set can be registered for (only the common sets, 6.18).
pub fn hook_of(version: Version, ty: ProgType) -> Option<Hook> {
    use ProgType as P;
    match version {
        Version::V6_1 => match ty {
            P::Xdp => Some(Hook::Xdp),
            P::SchedCls => Some(Hook::Tc),
            P::StructOps => Some(Hook::StructOps),
            P::Tracing | P::Lsm => Some(Hook::Tracing),
            P::Syscall => Some(Hook::Syscall),
            _ => None,
        },
        Version::V6_18 => match ty {
            P::Unspec => Some(Hook::Common),
            P::Xdp => Some(Hook::Xdp),
            P::SchedCls => Some(Hook::Tc),
            P::StructOps => Some(Hook::StructOps),
            P::Tracing | P::Tracepoint | P::PerfEvent | P::Lsm => Some(Hook::Tracing),
            P::Syscall => Some(Hook::Syscall),
            P::CgroupSkb
            | P::CgroupSock
            | P::CgroupDevice
            | P::CgroupSockAddr
            | P::CgroupSockopt
            | P::CgroupSysctl => Some(Hook::Cgroup),
            P::SchedAct => Some(Hook::SchedAct),
            P::SkSkb => Some(Hook::SkSkb),
            P::SocketFilter => Some(Hook::SocketFilter),
            P::LwtIn | P::LwtOut | P::LwtXmit | P::LwtSeg6Local => Some(Hook::Lwt),
            P::Netfilter => Some(Hook::Netfilter),
            P::Kprobe => Some(Hook::Kprobe),
            _ => None,
        },
    }
}

/// A kfunc set as the kernel registers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KfuncSet {
    /// The `BTF_SET8`/`BTF_KFUNCS` name (as `.BTF_ids` holds it).
    pub name: &'static str,
    /// The source file registering it.
    pub file: &'static str,
    /// The program types of its `register_btf_kfunc_id_set` calls
    /// (`Unspec`: the common hook, every program type; 6.18).
    pub prog_types: &'static [ProgType],
    /// Its kfuncs with their `KF_*` flags, in set order.
    pub entries: &'static [(&'static str, u32)],
}

impl KfuncSet {
    /// The hooks it is registered for.
    pub fn hooks(&self, version: Version) -> Vec<Hook> {
        let mut v: Vec<Hook> = self
            .prog_types
            .iter()
            .filter_map(|p| hook_of(version, *p))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Whether a program of (resolved) type `ty` may call its kfuncs.
    pub fn allows(&self, version: Version, prog: &Prog) -> bool {
        if self.filtered_to_iter() && !prog.iter {
            return false;
        }
        let hooks = self.hooks(version);
        if hooks.contains(&Hook::Common) {
            return true;
        }
        hook_of(version, prog.resolved()).is_some_and(|h| hooks.contains(&h))
    }

    /// Sets with the kernel's `tracing_iter_filter` (iterator programs only).
    pub fn filtered_to_iter(&self) -> bool {
        self.name == "bpf_sk_iter_kfunc_ids"
    }

    /// XDP metadata kfuncs: device-bound programs only.
    pub fn dev_bound(&self) -> bool {
        self.name == "xdp_metadata_kfunc_ids"
    }

    /// The flags of a kfunc of the set.
    pub fn flags_of(&self, kfunc: &str) -> Option<u32> {
        self.entries.iter().find(|(n, _)| *n == kfunc).map(|e| e.1)
    }
}

#[allow(clippy::unreadable_literal)]
mod data {
    use super::{KfuncSet, ProgType};
    include!("hooks_data.rs");
}

/// The kfunc sets of a version, by name.
pub fn kfunc_sets(version: Version) -> &'static [KfuncSet] {
    match version {
        Version::V6_1 => data::SETS_V6_1,
        Version::V6_18 => data::SETS_V6_18,
    }
}

/// The sets holding `kfunc` (a kfunc may be in several, e.g. for two hooks).
pub fn sets_of(version: Version, kfunc: &str) -> Vec<&'static KfuncSet> {
    kfunc_sets(version)
        .iter()
        .filter(|s| s.flags_of(kfunc).is_some())
        .collect()
}

/// Why a program may not call a kfunc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotAllowed {
    /// No set of the version holds it.
    Unknown,
    /// `calling kernel function %s is not allowed`: its sets are not
    /// registered for the program's hook.
    NotInHook,
    /// `metadata kfuncs require device-bound program`.
    NeedsDevBound,
}

/// `btf_kfunc_id_set_contains` by name: the flags of `kfunc` for a program,
/// or why it may not call it.
pub fn kfunc_flags_for(version: Version, prog: &Prog, kfunc: &str) -> Result<u32, NotAllowed> {
    let sets = sets_of(version, kfunc);
    if sets.is_empty() {
        return Err(NotAllowed::Unknown);
    }
    if sets.iter().any(|s| s.dev_bound()) {
        return Err(NotAllowed::NeedsDevBound);
    }
    sets.iter()
        .find(|s| s.allows(version, prog))
        .and_then(|s| s.flags_of(kfunc))
        .ok_or(NotAllowed::NotInHook)
}
