//! `btf-encode`: DWARF to BTF, a drop-in for `pahole -J` (pahole 1.24's
//! output, byte for byte, is the reference).
//!
//! ```no_run
//! let data = std::fs::read("prog.o")?;
//! let opts = btf_encode::Options { gen_floats: true, ..Default::default() };
//! if let Some(btf) = btf_encode::encode(&data, &opts)? {
//!     std::fs::write("prog.btf", btf.to_bytes())?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pipeline: [`elf`] reads the ELF side (debug sections, relocated for
//! relocatable objects; function and per-CPU symbols), [`dwarf`] decodes each
//! compile unit into pahole's tables, [`encoder`] turns them into BTF in
//! pahole's order, and the result goes through `btf-dedup` (libbpf's
//! `btf__dedup`, as pahole calls it).

pub mod dwarf;
pub mod elf;
pub mod elf_write;
pub mod encoder;
pub mod features;
pub mod kfuncs;

use std::path::Path;
use std::sync::Arc;

use btf::{Btf, Error, Result};

/// What `--version` reports: the newest pahole version whose flags the
/// kernel's scripts (6.1 `scripts/pahole-flags.sh`, 6.12
/// `scripts/Makefile.btf`) pass and this encoder fully implements: v1.31
/// (the 6.1 script's 1.25 flags, 6.12's `--btf_features` list and
/// `distilled_base` for external modules). tests/kernel/kernel.sh builds and
/// boots both trees with the flags this version gets.
pub const REPORTED_VERSION: &str = "v1.31";

/// What to encode (pahole's flags).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--btf_gen_floats`: FLOAT for floating-point base types (else INT).
    pub gen_floats: bool,
    /// `--skip_encoding_btf_vars`.
    pub skip_encoding_vars: bool,
    /// `--skip_encoding_btf_decl_tag`.
    pub skip_encoding_decl_tag: bool,
    /// `--skip_encoding_btf_type_tag`.
    pub skip_encoding_type_tag: bool,
    /// `--skip_encoding_btf_enum64`: 64-bit enums as ENUM with truncated values.
    pub skip_encoding_enum64: bool,
    /// `--btf_encode_force`: skip what cannot be encoded instead of failing.
    pub force: bool,
    /// `--lang_exclude`: `DW_AT_language` codes whose units are skipped.
    pub lang_exclude: Vec<u64>,
    /// `--lang`: when not empty, only units of these `DW_AT_language` codes.
    pub lang_include: Vec<u64>,
    /// `-V`: collect messages on what was left out.
    pub verbose: bool,
    /// Where the run reports how far it is (units encoded, then dedup):
    /// the CLI draws a bar from it on a terminal and prints `-V` lines
    /// otherwise. `None`: no reports.
    pub progress: Option<ProgressFn>,
    /// `--btf_base`: encode split BTF on this base.
    pub base: Option<Arc<Btf>>,
    /// `decl_tag_kfuncs`: a `bpf_kfunc` DECL_TAG (component -1) on the FUNC
    /// of every kfunc of `.BTF_ids`'s `BTF_SET8` kfunc sets (and
    /// `bpf_fastcall` on those flagged `KF_FASTCALL`), as pahole 1.26+.
    pub tag_kfuncs: bool,
    /// `global_var`: every global variable as VAR, in one DATASEC per ELF
    /// section, by pahole 1.31's rules (which then also cover the per-CPU
    /// ones).
    pub global_var: bool,
    /// `optimized_func` / `consistent_func` / `--btf_gen_optimized` /
    /// `--skip_encoding_btf_inconsistent_proto`: pahole 1.31's function
    /// rules (every instance of a function collected, matched to ELF
    /// symbols by the name cut at its first `.`, merged by name, added
    /// after the last unit) instead of pahole 1.24's.
    pub new_functions: bool,
    /// `consistent_func` / `--skip_encoding_btf_inconsistent_proto`: with
    /// [`Options::new_functions`], leave out functions whose instances have
    /// inconsistent prototypes, parameters in unexpected registers,
    /// uncertain parameter locations or symbols at more than one address.
    pub skip_inconsistent_proto: bool,
    /// `distilled_base`: with [`Options::base`], the output is split BTF on
    /// a distilled base (`.BTF.base`), written beside `.BTF` (the CLI's
    /// in-place mode, as pahole 1.28+).
    pub distilled_base: bool,
    /// `-j N`: threads decoding units (`None` or 0: rayon's default). The
    /// output does not depend on it.
    pub jobs: Option<usize>,
    /// The smallest `.debug_info` (bytes) decoded on more than one thread
    /// (`None`: [`PARALLEL_MIN_INFO`]); a smaller one is decoded on the
    /// calling thread whatever [`Options::jobs`] says. The output does not
    /// depend on it.
    pub parallel_min_info: Option<usize>,
}

/// Below this much `.debug_info` the pipeline's threads save nothing
/// (BENCHMARKS.md, session 9, split on the vmlinux, three runs each, one
/// thread against the pipeline on two cores: nf_nat.ko and gve.ko, 0.9 and
/// 1.1 MB, 0.04 s both ways; nf_tables.ko, 3.5 MB, 0.090 -> 0.080 s;
/// btrfs.ko 0.147 -> 0.120 s; xfs.ko 0.237 -> 0.200 s; mlx5_core.ko,
/// 16 MB, 0.37 -> 0.29 s, memory unchanged but for nf_tables, +5 MiB).
pub const PARALLEL_MIN_INFO: usize = 2 << 20;

/// How far an encoding run is, as reported to [`Options::progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// `done` of the `total` compile units of `.debug_info` are decoded
    /// and encoded (reported after each unit).
    Units { done: usize, total: usize },
    /// Every unit is encoded; the `types` records are being deduplicated.
    Dedup { types: u32 },
}

/// A receiver of [`Progress`] reports. It is called on the thread that runs
/// [`encode`], in order; what it does has no effect on the output.
#[derive(Clone)]
pub struct ProgressFn(Arc<dyn Fn(Progress) + Send + Sync>);

impl ProgressFn {
    /// Reports go to `f`.
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        ProgressFn(Arc::new(f))
    }

    fn report(&self, p: Progress) {
        (self.0)(p)
    }
}

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn")
    }
}

/// pahole's language names (`lang__str2int`), case-insensitive.
pub fn language_code(name: &str) -> Option<u64> {
    const LANGS: &[(&str, u64)] = &[
        ("c89", 0x01),
        ("c", 0x02),
        ("ada83", 0x03),
        ("c++", 0x04),
        ("cobol74", 0x05),
        ("cobol85", 0x06),
        ("fortran77", 0x07),
        ("fortran90", 0x08),
        ("pascal83", 0x09),
        ("modula2", 0x0a),
        ("java", 0x0b),
        ("c99", 0x0c),
        ("ada95", 0x0d),
        ("fortran95", 0x0e),
        ("pli", 0x0f),
        ("objc", 0x10),
        ("objc++", 0x11),
        ("upc", 0x12),
        ("d", 0x13),
        ("python", 0x14),
        ("opencl", 0x15),
        ("go", 0x16),
        ("modula3", 0x17),
        ("haskell", 0x18),
        ("c++03", 0x19),
        ("c++11", 0x1a),
        ("ocaml", 0x1b),
        ("rust", 0x1c),
        ("c11", 0x1d),
        ("swift", 0x1e),
        ("julia", 0x1f),
        ("dylan", 0x20),
        ("c++14", 0x21),
        ("fortran03", 0x22),
        ("fortran08", 0x23),
        ("renderscript", 0x24),
        ("bliss", 0x25),
    ];
    LANGS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, c)| c)
}

/// The result of an encoding run.
pub struct Encoded {
    /// The deduplicated BTF (`None`: nothing to encode, pahole writes nothing).
    pub btf: Option<Btf>,
    /// `-V` messages.
    pub log: Vec<String>,
}

/// Encodes the DWARF of an ELF file (vmlinux, a module, an object) as BTF,
/// deduplicated. `None` when there is nothing to encode.
pub fn encode(data: &[u8], opts: &Options) -> Result<Option<Btf>> {
    Ok(encode_with_log(data, opts)?.btf)
}

/// [`encode`], with the `-V` messages.
pub fn encode_with_log(data: &[u8], opts: &Options) -> Result<Encoded> {
    encode_input(data, None, opts)
}

/// [`encode_with_log`]; with `map` (the mapping `data` lies in), the pages
/// of the input are given back as soon as they are no longer needed.
fn encode_input(data: &[u8], map: Option<&memmap2::Mmap>, opts: &Options) -> Result<Encoded> {
    let clock = std::time::Instant::now();
    // Without a base, dedup's per-unit passes run while units are encoded
    // (see docs/ARCHITECTURE.md, btf-dedup, "Streaming"), under every rule
    // set: what the encoder needs after the last unit of records already
    // handed to the stream (pahole 1.31's prototype match) it keeps as
    // match keys (encoder.rs, `MatchKey`).
    let mut stream = opts.base.is_none().then(btf_dedup::Stream::new);
    let (raw, endian, log, pushed) = encode_words(data, map, opts, stream.as_mut())?;
    if let Some(m) = map {
        // Nothing refers to the input any more: the records and strings are
        // owned. Dropping its pages before dedup takes the mapped file's
        // share out of the peak memory.
        release_pages(m, data);
    }
    timing("encode (ELF, DWARF, BTF before dedup)", clock);
    let clock = std::time::Instant::now();
    if let (Some(p), Some(r)) = (&opts.progress, &raw) {
        p.report(Progress::Dedup { types: r.count });
    }
    let btf = match (raw, stream, pushed) {
        (Some(r), Some(st), Some(p)) => {
            Some(st.finish(endian, &r.words, r.strings.get(p..).unwrap_or(&[]))?)
        }
        (Some(r), _, _) => Some(btf_dedup::dedup_words(
            endian,
            opts.base.clone(),
            r.words,
            r.strings,
            &btf_dedup::Options::default(),
        )?),
        (None, _, _) => None,
    };
    timing("dedup (after the last unit)", clock);
    Ok(Encoded { btf, log })
}

/// The encoder's output before deduplication (pahole's BTF just before
/// `btf__dedup`).
pub fn encode_raw(data: &[u8], opts: &Options) -> Result<Encoded> {
    let (raw, endian, log, _) = encode_words(data, None, opts, None)?;
    let btf = match raw {
        Some(r) => Some(btf::read::raw::from_words(
            endian,
            opts.base.clone(),
            &r.words,
            &r.strings,
        )?),
        None => None,
    };
    Ok(Encoded { btf, log })
}

/// Decodes and encodes every unit: the raw pre-dedup records, the byte order
/// of the input, the `-V` messages.
///
/// Units are decoded in parallel and encoded strictly in `.debug_info`
/// order, one batch while the next is decoded (see docs/ARCHITECTURE.md,
/// btf-encode): the encoder's state (type ids, the string table, which
/// functions were already emitted) only ever sees units in file order, so
/// the output cannot depend on the number of threads or on scheduling.
///
/// With `map` (the file mapping `data` lies in), the pages of `.debug_info`
/// holding units already encoded are given back as the run goes (see
/// [`release_pages`]), so that the mapped input does not add up to its
/// whole size in the peak memory.
///
/// With `stream`, when units are decoded on more than one thread, the
/// records of each encoded batch go to it while the next batch is encoded;
/// the records returned are then only the rest, and the last value says how
/// many bytes of the strings the stream has (`None`: the stream was not
/// used, the records returned are all of them).
#[allow(clippy::type_complexity)]
fn encode_words(
    data: &[u8],
    map: Option<&memmap2::Mmap>,
    opts: &Options,
    mut stream: Option<&mut btf_dedup::Stream>,
) -> Result<(
    Option<encoder::RawBtf>,
    btf::Endian,
    Vec<String>,
    Option<usize>,
)> {
    let info = elf::read_with(
        data,
        elf::ReadOptions {
            objects: opts.global_var,
            kfuncs: opts.tag_kfuncs,
            function_table: opts.new_functions,
        },
    )?;
    // The pages the ELF reader touched (symbols, and for a relocatable
    // object the relocation sections and the sections it copied to apply
    // them or to inflate them) are not needed again: give them all back.
    // Those of the sections still borrowed come back when read.
    if let Some(m) = map {
        release_pages(m, data);
    }
    // `.debug_info` as a slice of the mapping (not a relocated or inflated
    // copy, whose memory must not be dropped): what is released per batch.
    let mapped_info: Option<&[u8]> = map.and_then(|_| {
        info.sections.iter().find_map(|(n, d)| match d {
            std::borrow::Cow::Borrowed(b) if *n == ".debug_info" => Some(*b),
            _ => None,
        })
    });
    // Gives back the pages of the units in `hs` (all encoded).
    let release_units =
        |hs: &[gimli::UnitHeader<gimli::EndianSlice<'_, gimli::RunTimeEndian>>],
         next: Option<&gimli::UnitHeader<gimli::EndianSlice<'_, gimli::RunTimeEndian>>>| {
            let (Some(m), Some(di), Some(first)) = (map, mapped_info, hs.first()) else {
                return;
            };
            let off =
                |h: &gimli::UnitHeader<_>| h.offset().as_debug_info_offset().map_or(0, |o| o.0);
            let (a, b) = (off(first), next.map_or(di.len(), off));
            if let Some(s) = di.get(a..b) {
                release_pages(m, s);
            }
        };
    if let Some(name) = info.invalid_percpu_names.first() {
        if !opts.force && !opts.skip_encoding_vars && !opts.global_var {
            return Err(Error::new(format!(
                "found per-CPU symbol of invalid name when encoding btf (sym: '{name}'); \
                 use --btf_encode_force to ignore such symbols"
            )));
        }
    }
    let endian = match info.endian {
        btf::Endian::Little => gimli::RunTimeEndian::Little,
        btf::Endian::Big => gimli::RunTimeEndian::Big,
    };
    let get = |id: gimli::SectionId| -> std::result::Result<
        gimli::EndianSlice<'_, gimli::RunTimeEndian>,
        gimli::Error,
    > {
        Ok(gimli::EndianSlice::new(
            info.section(id.name()).unwrap_or(&[]),
            endian,
        ))
    };
    let dwarf =
        gimli::Dwarf::load(get).map_err(|e| Error::new(format!("cannot load DWARF: {e}")))?;
    let info_len = info.section(".debug_info").map_or(0, <[u8]>::len);
    if info_len == 0 {
        return Err(Error::new("no DWARF: the file has no .debug_info section"));
    }
    let lopts = dwarf::LoadOptions {
        skip_decl_tag: opts.skip_encoding_decl_tag,
        skip_type_tag: opts.skip_encoding_type_tag,
        param_locations: opts.new_functions && opts.skip_inconsistent_proto,
        register_params: dwarf::register_params(info.machine),
    };
    let clock = std::time::Instant::now();
    let mut enc = encoder::Encoder::new(opts, &info);
    let mut headers = Vec::new();
    let mut units = dwarf.units();
    loop {
        match units.next() {
            Ok(Some(h)) => headers.push(h),
            Ok(None) => break,
            Err(e) => {
                return Err(Error::new(format!(
                    "bad DWARF unit header in .debug_info: {e}"
                )))
            }
        }
    }
    // Units already encoded, emptied, for the next ones to be decoded into
    // (`dwarf::Cu::recycle`): at most a few, of the sizes units need.
    const SPARE_UNITS: usize = 16;
    let spare_units: std::sync::Mutex<Vec<dwarf::Cu<'_>>> = std::sync::Mutex::new(Vec::new());
    let decode = |header: gimli::UnitHeader<_>| {
        let uoff = header
            .offset()
            .as_debug_info_offset()
            .map(|o| o.0)
            .unwrap_or(0);
        let unit = dwarf.unit(header).map_err(|e| {
            Error::new(format!(
                "bad DWARF unit at .debug_info offset {uoff:#x}: {e}"
            ))
        })?;
        let spare: Option<dwarf::Cu<'_>> = spare_units.lock().ok().and_then(|mut v| v.pop());
        let Some(mut cu) = dwarf::decode_unit(&dwarf, &unit, lopts, spare)
            .map_err(|e| Error::new(format!("unit at .debug_info offset {uoff:#x}: {e}")))?
        else {
            return Result::<Option<dwarf::Cu<'_>>>::Ok(None);
        };
        if opts.lang_exclude.contains(&cu.language)
            || (!opts.lang_include.is_empty() && !opts.lang_include.contains(&cu.language))
        {
            return Ok(None);
        }
        cu.resolve();
        cu.offset = uoff;
        Result::Ok(Some(cu))
    };
    let encode_unit = |enc: &mut encoder::Encoder<'_, '_>, cu: &dwarf::Cu<'_>| -> Result<()> {
        enc.encode_cu(cu, &info)
            .map_err(|e| Error::new(format!("unit at .debug_info offset {:#x}: {e}", cu.offset)))
    };
    let recycle = |cu| {
        if let Ok(mut v) = spare_units.lock() {
            if v.len() < SPARE_UNITS {
                v.push(dwarf::Cu::recycle(cu));
            }
        }
    };
    // The decoding pool, when it pays (see `PARALLEL_MIN_INFO`).
    let pool = match info_len >= opts.parallel_min_info.unwrap_or(PARALLEL_MIN_INFO)
        && opts.jobs != Some(1)
    {
        true => Some(JoinedPool::new(opts.jobs.unwrap_or(0))?),
        false => None,
    };
    let threads = pool.as_ref().map_or(1, |p| p.current_num_threads().max(1));
    let total = headers.len();
    let mut pushed_strs = 0usize;
    let mut used = false;
    // Units encoded between two releases of their input pages, and between
    // two pieces handed to the stream.
    const RELEASE_EVERY: usize = 64;
    const STREAM_EVERY: usize = 8;
    // After the first `upto` units are encoded: progress, and every
    // RELEASE_EVERY units (and after the last) their input pages back.
    let unit_done = |upto: usize| {
        if let Some(p) = &opts.progress {
            p.report(Progress::Units { done: upto, total });
        }
        if upto.is_multiple_of(RELEASE_EVERY) || upto == total {
            let from = (upto - 1) / RELEASE_EVERY * RELEASE_EVERY;
            release_units(&headers[from..upto], headers.get(upto));
        }
    };
    match pool.as_deref().filter(|_| threads > 1) {
        None => {
            for (i, h) in headers.iter().enumerate() {
                if let Some(cu) = decode(*h)? {
                    encode_unit(&mut enc, &cu)?;
                    recycle(cu);
                }
                unit_done(i + 1);
            }
        }
        Some(pool) => {
            // The pipeline (docs/ARCHITECTURE.md, btf-encode, "Parallel
            // decoding"): units decoded on the pool, at most `window` ahead of
            // this thread, which encodes them in file order; every STREAM_EVERY
            // units the records encoded since the last piece go to the stream's
            // thread, which runs dedup's per-piece passes while encoding goes
            // on. Three stages, none waiting for a whole batch of another.
            let window = threads * 4;
            let streaming = stream.is_some();
            // The stream's own pool, of one thread: the stream never waits
            // behind decoding jobs, rayon's global pool is never started, and
            // dedup's few parallel steps per piece run inline (the cores are
            // busy decoding and encoding; waking helpers for them cost more
            // in spinning and switches than it gave).
            let stream_pool = match streaming {
                true => Some(JoinedPool::new(1)?),
                false => None,
            };
            std::thread::scope(|ts| -> Result<()> {
                let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<u32>, Vec<u8>)>(2);
                let streamer = stream.take().zip(stream_pool.as_deref()).map(|(st, sp)| {
                    ts.spawn(move || -> Result<()> {
                        sp.install(|| {
                            for (w, b) in rx {
                                st.push(&w, &b)?;
                            }
                            Ok(())
                        })
                    })
                });
                let mut tx = streamer.is_some().then_some(tx);
                let encoded = ordered_map(
                    pool,
                    &headers,
                    window,
                    |h| decode(*h),
                    |i, cu| {
                        if let Some(cu) = cu? {
                            encode_unit(&mut enc, &cu)?;
                            recycle(cu);
                        }
                        let upto = i + 1;
                        unit_done(upto);
                        if let Some(t) = &tx {
                            if upto % STREAM_EVERY == 0 || upto == total {
                                let w = enc.take_words();
                                let b = enc.strings_from(pushed_strs).to_vec();
                                pushed_strs += b.len();
                                if t.send((w, b)).is_err() {
                                    // The stream stopped on an error: its thread
                                    // reports it below.
                                    return Ok(false);
                                }
                            }
                        }
                        Ok(true)
                    },
                );
                // Closing the channel ends the stream's loop.
                tx.take();
                let streamed = match streamer {
                    Some(h) => h
                        .join()
                        .unwrap_or_else(|_| Err(Error::new("the dedup stream's thread panicked"))),
                    None => Ok(()),
                };
                encoded?;
                streamed?;
                used = streaming;
                Ok(())
            })?;
        }
    }
    timing("units decoded and encoded", clock);
    let (raw, log) = enc.finish()?;
    Ok((raw, info.endian, log, used.then_some(pushed_strs)))
}

/// A rayon pool whose threads are joined when it is dropped. A dropped
/// rayon pool lets its threads wind down on their own; a library run
/// returning (or a process ending) right after would leave them behind,
/// mid-teardown (LeakSanitizer reports what they still hold).
struct JoinedPool {
    pool: Option<rayon::ThreadPool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl JoinedPool {
    /// `n` threads (0: rayon's default).
    fn new(n: usize) -> Result<JoinedPool> {
        let handles = std::sync::Mutex::new(Vec::new());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .spawn_handler(|t| {
                let h = std::thread::Builder::new().spawn(|| t.run())?;
                if let Ok(mut v) = handles.lock() {
                    v.push(h);
                }
                Ok(())
            })
            .build()
            .map_err(|e| Error::new(format!("cannot start threads: {e}")))?;
        Ok(JoinedPool {
            pool: Some(pool),
            threads: handles.into_inner().unwrap_or_default(),
        })
    }
}

impl std::ops::Deref for JoinedPool {
    type Target = rayon::ThreadPool;
    fn deref(&self) -> &rayon::ThreadPool {
        // Set from `new` to the drop.
        self.pool.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for JoinedPool {
    fn drop(&mut self) {
        // Dropping the pool tells its threads to stop; then wait for them.
        self.pool.take();
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

/// Runs `f` over `items` on `pool`, no item started more than `window`
/// past the one the calling thread consumes, which gets the results through `consume` strictly in
/// item order (index, result); `consume` returns `false` to stop early.
///
/// Invariants: `consume` runs only on the calling thread, once per index
/// from 0 up, never out of order, so whatever state it keeps sees the items
/// in the same order at any thread count; at most `window` results wait at
/// once (memory); after an error or a stop no new item is started, and the
/// items already started finish before this returns (they borrow `items`).
fn ordered_map<T: Sync, U: Send>(
    pool: &rayon::ThreadPool,
    items: &[T],
    window: usize,
    f: impl Fn(&T) -> U + Sync,
    mut consume: impl FnMut(usize, U) -> Result<bool>,
) -> Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let window = window.max(1);
    let stop = AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Option<U>)>();
    pool.in_place_scope_fifo(|s| {
        let (f, stop) = (&f, &stop);
        let start = |i: usize| {
            let tx = tx.clone();
            s.spawn_fifo(move |_| {
                let r = (!stop.load(Ordering::Relaxed)).then(|| f(&items[i]));
                let _ = tx.send((i, r));
            });
        };
        let mut next_start = 0;
        while next_start < items.len().min(window) {
            start(next_start);
            next_start += 1;
        }
        // Results that came before their turn, by index - next.
        let mut early: std::collections::VecDeque<Option<U>> = std::collections::VecDeque::new();
        let mut next = 0;
        let out = (|| {
            while next < items.len() {
                let r = match early.front_mut().and_then(Option::take) {
                    Some(r) => r,
                    None => loop {
                        let (i, r) = rx
                            .recv()
                            .map_err(|_| Error::new("a decoding thread stopped"))?;
                        let r = r.ok_or_else(|| Error::new("a decoding thread stopped"))?;
                        if i == next {
                            break r;
                        }
                        let k = i - next;
                        if early.len() <= k {
                            early.resize_with(k + 1, || None);
                        }
                        early[k] = Some(r);
                    },
                };
                early.pop_front();
                if next_start < items.len() {
                    start(next_start);
                    next_start += 1;
                }
                let go_on = consume(next, r)?;
                next += 1;
                if !go_on {
                    break;
                }
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        out
    })
}

/// Gives the pages of `part` (a slice of the read-only file mapping `map`;
/// anything else is left alone) back to the kernel. They stay in the page
/// cache, and a later read of them faults them in again with the same
/// bytes, so this changes only the resident memory, never what is read.
fn release_pages(map: &memmap2::Mmap, part: &[u8]) {
    let (base, start) = (map.as_ptr() as usize, part.as_ptr() as usize);
    if part.is_empty() || start < base || start + part.len() > base + map.len() {
        return;
    }
    // SAFETY: `map` is a read-only shared mapping of a file (memmap2's
    // `Mmap::map`), so MADV_DONTNEED discards no data of ours: pages read
    // again come back from the file with the contents they had (the file
    // changing under the mapping is the risk every mmap reader accepts, see
    // `encode_file`). The call is a hint; its result is ignored.
    unsafe {
        let _ = map.unchecked_advise_range(
            memmap2::UncheckedAdvice::DontNeed,
            start - base,
            part.len(),
        );
    }
}

/// `BTF_ENCODE_TIMING=1`: the time of each phase on stderr.
fn timing(what: &str, since: std::time::Instant) {
    if std::env::var_os("BTF_ENCODE_TIMING").is_some() {
        eprintln!("btf-encode: {what}: {:.3} s", since.elapsed().as_secs_f64());
    }
}

/// [`encode`] on a file (memory-mapped).
pub fn encode_file(path: &Path, opts: &Options) -> Result<Encoded> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::new(format!("cannot open: {e}")).with_file(path))?;
    // SAFETY: the map is read-only and private; the file is not modified by
    // this process while mapped. Another process truncating it could fault
    // (SIGBUS), the accepted risk of every mmap-based reader (pahole too).
    let map = unsafe { memmap2::Mmap::map(&f) }
        .map_err(|e| Error::new(format!("cannot map: {e}")).with_file(path))?;
    encode_input(&map, Some(&map), opts).map_err(|e| e.with_file(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("pool")
    }

    /// Items of very unequal cost come back strictly in order, each once,
    /// with at most `window` started ahead of the one consumed.
    #[test]
    fn ordered_map_keeps_order_and_window() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let items: Vec<u64> = (0..300).map(|i| (i * 7919) % 13).collect();
        let started = AtomicUsize::new(0);
        for (threads, window) in [(1, 1), (2, 3), (4, 8), (3, 1000)] {
            started.store(0, Ordering::SeqCst);
            let mut seen = Vec::new();
            ordered_map(
                &pool(threads),
                &items,
                window,
                |&x| {
                    started.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_micros(x * 20));
                    x * 2
                },
                |i, v| {
                    // The consumer sees index i while no item past
                    // i + window has been started.
                    assert!(started.load(Ordering::SeqCst) <= i + window + 1);
                    seen.push((i, v));
                    Ok(true)
                },
            )
            .expect("no error");
            let want: Vec<(usize, u64)> = items.iter().map(|&x| x * 2).enumerate().collect();
            assert_eq!(seen, want, "threads {threads} window {window}");
        }
    }

    /// An error from the consumer stops the run: it is returned, no item
    /// after it is consumed, and no new item starts.
    #[test]
    fn ordered_map_stops_on_error_and_on_false() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let items: Vec<usize> = (0..500).collect();
        let started = AtomicUsize::new(0);
        let mut last = 0;
        let r = ordered_map(
            &pool(2),
            &items,
            4,
            |&x| {
                started.fetch_add(1, Ordering::SeqCst);
                x
            },
            |i, _| {
                last = i;
                if i == 10 {
                    Err(Error::new("unit 10 is bad"))
                } else {
                    Ok(true)
                }
            },
        );
        assert!(r.is_err_and(|e| e.to_string().contains("unit 10 is bad")));
        assert_eq!(last, 10);
        assert!(started.load(Ordering::SeqCst) <= 10 + 4 + 1);
        let mut count = 0;
        ordered_map(
            &pool(2),
            &items,
            4,
            |&x| x,
            |i, _| {
                count += 1;
                Ok(i < 20)
            },
        )
        .expect("a stop is not an error");
        assert_eq!(count, 21);
    }
}
