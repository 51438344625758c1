//! Output format `c`: the BTF as a compilable C header, byte for byte what
//! `bpftool btf dump file F format c` prints (bpftool 7.1, libbpf 1.1).
//!
//! The work follows libbpf's C emitter in two passes per root type:
//!
//! 1. ordering (`order.rs`): a depth-first topological sort that decides which named
//!    definitions must come before which (strong links: embedding by value;
//!    weak links: through a pointer to a named type, satisfied by a forward
//!    declaration), queuing the named definitions;
//! 2. emission (`emit.rs`): the queued definitions are printed, each preceded by the
//!    forward declarations it needs; `decl.rs` turns a chain of BTF types
//!    (pointers, arrays, modifiers, prototypes) into C declarator syntax.
//!
//! Names are de-duplicated as libbpf does: the `n`th struct/union/enum with a
//! given name becomes `name___n`, typedefs and enumerators share a second
//! namespace. Counting happens when a name is first printed, so the output
//! depends on the emission order exactly as libbpf's does.
//!
//! Unlike libbpf, the emitter never crashes or recurses without bound on
//! corrupted BTF: recursion depth, declaration chains and total work are
//! bounded, and what libbpf would crash on (a loop of typedefs or modifiers,
//! a division by a zero alignment) is reported as an error naming the type.

mod decl;
mod emit;
mod layout;
mod order;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Write};
use std::sync::mpsc;

use btf::{Btf, Error, Type, TypeId};

/// What to print, beyond the types themselves.
#[derive(Clone, Debug)]
pub struct Options {
    /// Print bpftool's prologue (`#ifndef __VMLINUX_H__`, the
    /// `preserve_access_index` pragma) and epilogue around the types.
    pub header: bool,
    /// Dump these types (and every type they need), in this order, as
    /// bpftool's `root_id` does; `None` dumps every type, in id order.
    pub roots: Option<Vec<TypeId>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            header: true,
            roots: None,
        }
    }
}

/// Dumps `btf` as `bpftool btf dump file F format c` does: the prologue,
/// every type in id order (for split BTF the base's types too, as bpftool
/// does), the epilogue.
///
/// On BTF the emitter cannot handle (an unsatisfiable type loop, a loop of
/// typedefs or modifiers, ...) the output written so far stays written, as
/// with bpftool, and the error is returned as [`io::ErrorKind::InvalidData`]
/// wrapping a [`btf::Error`].
pub fn dump(btf: &Btf, out: &mut dyn Write) -> io::Result<()> {
    match run(btf, out, &Options::default()) {
        Ok(()) => Ok(()),
        Err(Fail::Io(e)) => Err(e),
        Err(Fail::Btf(e)) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
    }
}

/// Like [`dump`], with [`Options`], and every failure (output errors too) as
/// a [`btf::Error`].
pub fn dump_with(btf: &Btf, out: &mut dyn Write, opts: &Options) -> Result<(), Error> {
    run(btf, out, opts).map_err(|f| match f {
        Fail::Io(e) => Error::new(format!("cannot write the C header: {e}")),
        Fail::Btf(e) => e,
    })
}

/// Dumps `btf` into a byte vector (see [`dump_with`]).
pub fn dump_to_vec(btf: &Btf, opts: &Options) -> Result<Vec<u8>, Error> {
    let mut v = Vec::new();
    dump_with(btf, &mut v, opts)?;
    Ok(v)
}

const PROLOGUE: &[u8] = b"#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n\
#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n\
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n\
#endif\n\n";

const EPILOGUE: &[u8] =
    b"#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n\
#endif /* __VMLINUX_H__ */\n";

/// Runs the dump on a thread of its own with a large stack, so that deeply
/// nested (but finite) BTF that libbpf prints is printed here too; the
/// output comes back in chunks through a channel and is written here. When
/// no thread can be started, runs on this one with a smaller depth bound.
fn run(btf: &Btf, out: &mut dyn Write, opts: &Options) -> Result<(), Fail> {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(4);
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("btf-dump-c".into())
            .stack_size(BIG_STACK)
            .spawn_scoped(s, move || {
                let mut d = Dumper::new(btf, Sink::Chan(tx), DEPTH_BIG_STACK);
                let res = d.run(opts);
                let flushed = d.flush();
                res.and(flushed)
            });
        match worker {
            Ok(handle) => {
                let mut io_err = None;
                for chunk in rx {
                    if let Err(e) = out.write_all(&chunk) {
                        // Dropping the receiver stops the worker.
                        io_err = Some(e);
                        break;
                    }
                }
                let res = match handle.join() {
                    Ok(r) => r,
                    Err(panic) => std::panic::resume_unwind(panic),
                };
                match io_err {
                    Some(e) => Err(Fail::Io(e)),
                    None => res,
                }
            }
            Err(_) => {
                let mut d = Dumper::new(btf, Sink::Writer(out), DEPTH_SMALL_STACK);
                let res = d.run(opts);
                // What was printed before an error stays printed, as with bpftool.
                let flushed = d.flush();
                res.and(flushed)
            }
        }
    })
}

/// Where the output goes.
enum Sink<'w> {
    Writer(&'w mut dyn Write),
    Chan(mpsc::SyncSender<Vec<u8>>),
}

/// Why the dump stopped.
pub(crate) enum Fail {
    /// The writer failed.
    Io(io::Error),
    /// The BTF cannot be printed (what libbpf reports or would crash on).
    Btf(Error),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Fail::Io(e)
    }
}

type R<T = ()> = Result<T, Fail>;

/// An error about type `id`.
fn err(id: u32, msg: impl Into<String>) -> Fail {
    Fail::Btf(Error::new(msg).with_type(id))
}

/// Deepest recursion (ordering, emission, nested declarations) accepted on
/// the dump thread's [`BIG_STACK`]: real BTF nests a few dozen levels at
/// most; libbpf itself manages a few thousand before its stack runs out.
/// One nesting level of an inline anonymous struct costs 3 units.
const DEPTH_BIG_STACK: u32 = 10_000;
/// The depth bound when the dump must run on the caller's stack.
const DEPTH_SMALL_STACK: u32 = 300;
/// Stack of the dump thread (reserved, touched only as deep as needed).
const BIG_STACK: usize = 256 << 20;
/// Longest chain of pointers/arrays/modifiers (and prototypes, in a
/// declaration) followed in a loop; longer means a loop in the BTF.
const MAX_CHAIN: usize = 1 << 16;
/// The output is handed to the writer whenever this much is buffered.
/// Chunks are large so that the dump thread and the writing thread hand
/// over rarely (each hand-over may wait for a CPU on a busy machine).
const FLUSH_AT: usize = 1 << 20;

/// Topological order state of a type (libbpf's `order_state`; 0 is not ordered).
const ORDERING: u8 = 1;
const ORDERED: u8 = 2;
/// Emission state of a type (libbpf's `emit_state`).
const NOT_EMITTED: u8 = 0;
const EMITTING: u8 = 1;
const EMITTED: u8 = 2;

/// Per-type state of the emitter.
#[derive(Clone, Copy, Default)]
struct Aux {
    order: u8,
    emit: u8,
    /// A forward declaration (or, for a typedef, its definition) was printed.
    fwd_emitted: bool,
    /// Some other type refers to this one.
    referenced: bool,
    /// 0: the de-duplicated name is not chosen yet; 1: the plain name;
    /// n > 1: `name___n`.
    dup: u32,
}

/// A name to print: `s`, or `s___dup` when `dup > 1`, cut to 255 bytes as
/// libbpf's fixed buffer does.
#[derive(Clone, Copy)]
pub(crate) struct Name<'a> {
    s: &'a [u8],
    dup: u32,
}

impl<'a> Name<'a> {
    const EMPTY: Name<'static> = Name { s: b"", dup: 0 };

    fn plain(s: &'a [u8]) -> Self {
        Name { s, dup: 0 }
    }

    fn is_empty(&self) -> bool {
        self.s.is_empty() && self.dup <= 1
    }

    /// Whether the printed name is exactly `other`.
    fn is(&self, other: &[u8]) -> bool {
        self.dup <= 1 && self.s == other
    }
}

/// Which of libbpf's two name maps counts a name.
#[derive(Clone, Copy)]
enum Space {
    /// struct, union, enum (and INT, whose names libbpf also counts here).
    Types = 0,
    /// typedefs and enumerators.
    Idents = 1,
}

/// A small fast hasher for the name maps (FxHash's mixing step).
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }
    fn write_usize(&mut self, i: usize) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(K);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The emitter's state for one dump (libbpf's `struct btf_dump`).
pub(crate) struct Dumper<'a, 'w> {
    btf: &'a Btf,
    /// Pointer size: the size of the first INT named like `long`, else 8.
    ptr_sz: u32,
    aux: Vec<Aux>,
    /// What [`Dumper::aux`] hands out for an id past the types (lenient
    /// BTF holds such ids): a done type, reset on every use.
    spare: Aux,
    /// Occurrence counts of names, per [`Space`].
    names: HashMap<&'a [u8], [u32; 2], BuildHasherDefault<FxHasher>>,
    /// Memoized `btf__align_of`: -1 unknown, -2 being computed.
    align: Vec<i8>,
    /// Named definitions queued by the ordering pass for one root.
    queue: Vec<u32>,
    /// Shared stack of declaration chains.
    decl: Vec<u32>,
    /// Pointers being followed by the ordering pass, marked ordered after.
    ptr_chain: Vec<u32>,
    /// Work left before the dump is declared runaway.
    budget: u64,
    /// Recursion depth bound (see [`DEPTH_BIG_STACK`]).
    max_depth: u32,
    buf: Vec<u8>,
    w: Sink<'w>,
}

impl<'a, 'w> Dumper<'a, 'w> {
    fn new(btf: &'a Btf, w: Sink<'w>, max_depth: u32) -> Self {
        let n = btf.type_count() as usize;
        let mut aux = vec![Aux::default(); n];
        if let Some(v) = aux.first_mut() {
            v.order = ORDERED;
            v.emit = EMITTED;
        }
        Dumper {
            btf,
            ptr_sz: determine_ptr_size(btf),
            aux,
            spare: Aux::default(),
            names: HashMap::with_capacity_and_hasher(n / 2, Default::default()),
            align: vec![-1; n],
            queue: Vec::new(),
            decl: Vec::new(),
            ptr_chain: Vec::new(),
            // Set by `mark_referenced`, which sees every record.
            budget: 0,
            max_depth,
            buf: Vec::with_capacity(FLUSH_AT + (FLUSH_AT >> 2)),
            w,
        }
    }

    fn run(&mut self, opts: &Options) -> R {
        if opts.header {
            self.buf.extend_from_slice(PROLOGUE);
        }
        self.mark_referenced();
        match &opts.roots {
            Some(roots) => {
                for r in roots {
                    self.dump_type(r.0)?;
                }
            }
            None => {
                for id in 1..self.btf.type_count() {
                    self.dump_type(id)?;
                }
            }
        }
        if opts.header {
            self.buf.extend_from_slice(EPILOGUE);
        }
        Ok(())
    }

    /// One root: order it, then emit what the ordering queued.
    fn dump_type(&mut self, id: u32) -> R {
        if id >= self.btf.type_count() {
            return Err(err(id, "no such type"));
        }
        self.queue.clear();
        self.order(id, false, 0)?;
        let queue = std::mem::take(&mut self.queue);
        for &q in &queue {
            self.emit_type(q, 0, 0)?;
            self.maybe_flush()?;
        }
        self.queue = queue;
        Ok(())
    }

    /// The type with this id (`None` for `void`).
    #[inline]
    fn ty(&self, id: u32) -> Option<&'a Type> {
        self.btf.type_by_id(TypeId(id))
    }

    /// Counts one unit of work; errors when the budget is spent.
    #[inline]
    fn tick(&mut self, id: u32) -> R {
        match self.budget.checked_sub(1) {
            Some(b) => {
                self.budget = b;
                Ok(())
            }
            None => Err(err(id, "type graph too large to print (runaway recursion)")),
        }
    }

    #[inline]
    fn aux(&mut self, id: u32) -> &mut Aux {
        match self.aux.get_mut(id as usize) {
            Some(a) => a,
            None => {
                // An id past the types (BTF read leniently). libbpf reads
                // (and writes) its state array past the end there: it prints
                // only when what it finds says "ordered" and "emitted", and
                // crashes on the NULL type otherwise. Take the run that
                // prints: the id is done, whatever was written to it.
                self.spare = Aux {
                    order: ORDERED,
                    emit: EMITTED,
                    ..Aux::default()
                };
                &mut self.spare
            }
        }
    }

    /// The raw bytes of a string (empty when out of range).
    #[inline]
    fn str(&self, off: btf::StrOff) -> &'a [u8] {
        str_bytes(self.btf, off.0)
    }

    /// Counts one more occurrence of `name` in `space`; returns the count.
    fn name_dups(&mut self, space: Space, name: &'a [u8]) -> u32 {
        let e = self.names.entry(name).or_insert([0, 0]);
        let c = &mut e[space as usize];
        *c = c.saturating_add(1);
        *c
    }

    /// The printed name of type `id`, chosen (and counted) on first use.
    fn resolve_name(&mut self, id: u32, space: Space) -> Name<'a> {
        let Some(t) = self.ty(id) else {
            return Name::EMPTY;
        };
        if t.name_off.is_empty() {
            return Name::EMPTY;
        }
        let s = self.str(t.name_off);
        let dup = self.aux(id).dup;
        if dup != 0 {
            return Name { s, dup };
        }
        let dup = match &t.data {
            btf::TypeData::Fwd => 1,
            btf::TypeData::Enum(e) if e.values.is_empty() => 1,
            _ => self.name_dups(space, s),
        };
        self.aux(id).dup = dup;
        Name { s, dup }
    }

    fn type_name(&mut self, id: u32) -> Name<'a> {
        self.resolve_name(id, Space::Types)
    }

    fn ident_name(&mut self, id: u32) -> Name<'a> {
        self.resolve_name(id, Space::Idents)
    }

    // ---- output ----

    #[inline]
    fn put(&mut self, s: &[u8]) {
        self.buf.extend_from_slice(s);
    }

    fn put_name(&mut self, n: Name<'_>) {
        if n.dup <= 1 {
            self.buf.extend_from_slice(n.s);
        } else {
            put_dup_name(&mut self.buf, n.s, n.dup, true);
        }
    }

    /// libbpf's `pfx(lvl)`: `lvl` tabs, at most 13.
    #[inline]
    fn pfx(&mut self, lvl: u32) {
        const TABS: &[u8; 13] = b"\t\t\t\t\t\t\t\t\t\t\t\t\t";
        let n = (lvl as usize).min(TABS.len());
        self.buf.extend_from_slice(&TABS[..n]);
    }

    fn put_u64(&mut self, v: u64) {
        put_u64(&mut self.buf, v);
    }

    fn put_i64(&mut self, v: i64) {
        if v < 0 {
            self.buf.push(b'-');
        }
        put_u64(&mut self.buf, v.unsigned_abs());
    }

    fn maybe_flush(&mut self) -> R {
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> R {
        if !self.buf.is_empty() {
            match &mut self.w {
                Sink::Writer(w) => {
                    w.write_all(&self.buf)?;
                    self.buf.clear();
                }
                Sink::Chan(tx) => {
                    let chunk = std::mem::replace(
                        &mut self.buf,
                        Vec::with_capacity(FLUSH_AT + (FLUSH_AT >> 2)),
                    );
                    tx.send(chunk).map_err(|_| {
                        Fail::Io(io::Error::new(io::ErrorKind::BrokenPipe, "output closed"))
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// Writes `name___dup`; with `truncate`, cut to 255 bytes as libbpf's
/// `snprintf` into a 256-byte buffer does for type names.
fn put_dup_name(buf: &mut Vec<u8>, s: &[u8], dup: u32, truncate: bool) {
    let start = buf.len();
    buf.extend_from_slice(s);
    buf.extend_from_slice(b"___");
    put_u64(buf, u64::from(dup));
    if truncate && buf.len() - start > 255 {
        buf.truncate(start + 255);
    }
}

use crate::raw::put_u64;

/// Calls `f` on every type with its id, the bases' first (slices, not
/// lookups by id).
fn for_each_type<'a>(btf: &'a Btf, f: &mut impl FnMut(u32, &'a Type)) {
    if let Some(base) = btf.base() {
        for_each_type(base, f);
    }
    let start = btf.start_id();
    for (i, t) in btf.own_type_slice().iter().enumerate() {
        f(start.wrapping_add(i as u32), t);
    }
}

/// The NUL-terminated string at `off` of `btf` or its bases, without the
/// NUL; empty when out of range (the parser checked every offset).
fn str_bytes(btf: &Btf, off: u32) -> &[u8] {
    let mut b = btf;
    loop {
        if let Some(rel) = off.checked_sub(b.start_str_off()) {
            let s = b.own_strings().get(rel as usize..).unwrap_or(b"");
            return &s[..find_nul(s)];
        }
        match b.base() {
            Some(base) => b = base,
            None => return b"",
        }
    }
}

/// The index of the first NUL in `s` (or its length), 8 bytes at a time.
#[inline]
fn find_nul(s: &[u8]) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    let mut i = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        // The lowest set bit marks the first zero byte exactly.
        let z = w.wrapping_sub(LO) & !w & HI;
        if z != 0 {
            return i + (z.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + chunks
        .remainder()
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(chunks.remainder().len())
}

/// libbpf's pointer size guess: the size of the first INT of size 4 or 8
/// named like `long` (in any word order), in id order; 8 (the host's) if none.
fn determine_ptr_size(btf: &Btf) -> u32 {
    const LONGS: [&[u8]; 11] = [
        b"long",
        b"long int",
        b"int long",
        b"unsigned long",
        b"long unsigned",
        b"unsigned long int",
        b"unsigned int long",
        b"long unsigned int",
        b"long int unsigned",
        b"int unsigned long",
        b"int long unsigned",
    ];
    let mut found = None;
    for_each_type(btf, &mut |_, t| {
        if let (None, btf::TypeData::Int(i)) = (found, &t.data) {
            if (i.size == 4 || i.size == 8) && LONGS.contains(&str_bytes(btf, t.name_off.0)) {
                found = Some(i.size);
            }
        }
    });
    found.unwrap_or(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dup_names_are_cut_at_255_bytes() {
        let mut v = Vec::new();
        put_dup_name(&mut v, &[b'a'; 254], 12, true);
        assert_eq!(v.len(), 255);
        assert_eq!(&v[250..], b"aaaa_");
        v.clear();
        put_dup_name(&mut v, b"x", 3, true);
        assert_eq!(v, b"x___3");
    }

    #[test]
    fn nul_search() {
        for len in 0..40 {
            for nul in 0..=len {
                let mut v = vec![b'x'; len];
                if nul < len {
                    v[nul] = 0;
                    v.extend_from_slice(b"\0\0");
                }
                assert_eq!(find_nul(&v), nul.min(len), "len {len} nul {nul}");
            }
        }
        assert_eq!(find_nul(b"\x80\x01\x81ab\0cdefgh"), 5);
    }

    #[test]
    fn numbers() {
        let mut v = Vec::new();
        put_u64(&mut v, 0);
        put_u64(&mut v, u64::MAX);
        assert_eq!(v, b"018446744073709551615");
    }
}
