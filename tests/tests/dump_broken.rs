//! Broken BTF through the dumps and the verifier, against bpftool 7.1 and the
//! running kernel (issue 12): deterministic corrupted variants of real BTF
//! (the btf_dump suite's 14 objects, 13 BPF programs of the 6.1 kernel
//! selftests — `tests/data/selftests`, made by `scripts/selftests-btf.sh` —,
//! a sample of the 6.1 modules as split BTF on the 6.1 vmlinux, and the 6.1
//! vmlinux itself).
//!
//! For every variant bpftool dumps with exit 0, the lenient read
//! (`btf::read::parse_any_lenient`, what `btf-dump` dumps) must print the raw
//! text byte for byte as bpftool does and JSON equal as parsed JSON (bpftool
//! writes a name's bytes as they are, which is not always UTF-8: its output
//! is read with invalid bytes as U+FFFD, which is what ours writes); for C,
//! the same bytes wherever bpftool prints without crashing. Variants bpftool
//! crashes on are counted; ours must never panic or take long on any.
//!
//! The base variants also go through our verifier and `bpf(BPF_BTF_LOAD)`:
//! the verdict, errno and message (the log's last line, bytes and all, names
//! that are not UTF-8 included) must be identical. Split variants cannot be
//! handed to the kernel (see `verify_kernel.rs`).
//!
//! Run: `cargo test --release -p btfkit-tests --test dump_broken -- --nocapture`
//! (the figures are printed).

mod verify_common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use btf::format::{str_slots, type_slots, walk_records_lenient, ByteWords, Header, Record};
use btf::Btf;
use btfkit_tests::{
    bpftool_dump, first_difference, modules_61, oracle, oracle_file, oracle_program,
    output_with_timeout, shared_dir, suite_objects, Rng, VMLINUX_61,
};
use rayon::prelude::*;
use verify_common::{kernel_available, kernel_disagreement, mutate};

/// One corrupted blob.
struct Variant {
    what: String,
    blob: Vec<u8>,
    /// Split BTF on the 6.1 vmlinux.
    split: bool,
    /// Compare the C output too.
    c: bool,
}

/// The record starts (word indices) and header of a well-formed blob.
fn records(src: &[u8]) -> Option<(Header, Vec<usize>)> {
    let h = Header::parse(src).ok()?;
    let t = h.type_start() as usize;
    let words = ByteWords::new(src.get(t..t + h.type_len as usize)?, h.endian);
    let mut ats = Vec::new();
    walk_records_lenient(&words, 0, 0, |at| {
        ats.push(at);
        Ok(())
    })
    .ok()?;
    Some((h, ats))
}

fn get(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .map_or(0, |w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

fn put(b: &mut [u8], off: usize, v: u32) {
    if let Some(w) = b.get_mut(off..off + 4) {
        w.copy_from_slice(&v.to_le_bytes());
    }
}

/// One targeted corruption of the kinds bpftool still dumps (issue 12): a
/// type id or string offset out of range, a vlen on a kind without members,
/// reserved info or INT bits, a FWD with a size, a name with bytes that are
/// not UTF-8, a huge member offset, a flipped kind_flag. `type_count` and
/// `str_total` are the bounds (a split blob's include its base's).
fn mutate_targeted(src: &[u8], rng: &mut Rng, first_id: u32, str_base: u32) -> Vec<u8> {
    let mut b = src.to_vec();
    let Some((h, ats)) = records(src) else {
        return b;
    };
    if ats.is_empty() {
        return b;
    }
    let t0 = h.type_start() as usize;
    let s0 = h.str_start() as usize;
    let type_count = first_id + ats.len() as u32;
    let str_total = str_base + h.str_len;
    let pick = ats[rng.below(ats.len())];
    let words = ByteWords::new(&src[t0..t0 + h.type_len as usize], h.endian);
    let r = Record::new(&words, pick);
    let off = |i: usize| t0 + 4 * (pick + i);
    match rng.below(9) {
        0 | 1 => {
            let slots: Vec<usize> = type_slots(r.info()).collect();
            if let Some(&i) = slots.get(rng.below(slots.len())) {
                let v =
                    [type_count, type_count + 1 + rng.below(100) as u32, u32::MAX][rng.below(3)];
                put(&mut b, off(i), v);
            }
        }
        2 => {
            let slots: Vec<usize> = str_slots(r.info()).collect();
            let i = slots[rng.below(slots.len())];
            let v = [str_total, str_total + rng.below(1000) as u32, u32::MAX][rng.below(3)];
            put(&mut b, off(i), v);
        }
        3 => {
            // A vlen on a kind without trailing records (or a FUNC's linkage).
            let k = r.kind();
            if matches!(k, 2 | 7..=12 | 16 | 18) {
                put(&mut b, off(1), r.info() | (1 + rng.below(5) as u32));
            } else {
                put(&mut b, off(1), r.info() | 0x0040_0000);
            }
        }
        4 => {
            let bit = [16, 17, 20, 23, 29, 30][rng.below(6)];
            put(&mut b, off(1), r.info() | (1 << bit));
        }
        5 => {
            // A FWD with a size, else reserved INT bits, else a kind_flag.
            match r.kind() {
                7 => put(&mut b, off(2), 1 + rng.below(64) as u32),
                1 => put(&mut b, off(3), r.extra(0) | 0x1000_0000 << rng.below(4)),
                _ => put(&mut b, off(1), r.info() ^ 0x8000_0000),
            }
        }
        6 | 7 => {
            // Bytes that are not UTF-8 (or not an identifier) in a name.
            let name = r.name_off();
            if name >= str_base && name < str_total {
                let at = s0 + (name - str_base) as usize;
                let len = b[at..].iter().position(|&c| c == 0).unwrap_or(0);
                if len > 0 {
                    let i = at + rng.below(len);
                    b[i] = [0x80, 0xe9, 0xff, 0xc3, b'-', 0x01][rng.below(6)];
                }
            }
        }
        _ => {
            // A member offset (bitfield, huge) or an element count.
            match r.kind() {
                4 | 5 if r.vlen() > 0 => {
                    let m = rng.below(r.vlen() as usize);
                    let v = [0xffff_fff0, 0x8000_0000, 0x0100_0003, u32::MAX][rng.below(4)];
                    put(&mut b, off(3 + 3 * m + 2), v);
                }
                3 => put(&mut b, off(5), [0, u32::MAX, 0x1000_0000][rng.below(3)]),
                _ => put(&mut b, off(2), get(src, off(2)) ^ 0x8000_0000),
            }
        }
    }
    b
}

/// The `.BTF` bytes of a file.
fn btf_bytes(p: &Path) -> Vec<u8> {
    let d = std::fs::read(p).expect("read");
    btf::read::raw_btf_bytes(&d).expect(".BTF").into_owned()
}

/// The variants, deterministic: 18 of each suite object and 8 of each
/// selftest program (half targeted, half from the verifier's mutator), 8 of
/// each of 8 modules and 4 of vmlinux.
fn variants(shared: &Path, vmlinux_raw: &[u8], base: &Btf) -> Vec<Variant> {
    let mut rng = Rng::new(0x12d0);
    let mut out = Vec::new();
    let name = |p: &Path| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    for obj in suite_objects(shared) {
        let spec = Spec {
            n: 18,
            targeted_every: 2,
            first_id: 1,
            str_base: 0,
            split: false,
            c: true,
        };
        spec.push(&mut out, &mut rng, &name(&obj), &btf_bytes(&obj));
    }
    let mut selftests: Vec<PathBuf> =
        std::fs::read_dir(btfkit_tests::workspace_root().join("tests/data/selftests"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
    selftests.sort();
    assert_eq!(selftests.len(), 13, "tests/data/selftests");
    for p in selftests {
        let spec = Spec {
            n: 8,
            targeted_every: 2,
            first_id: 1,
            str_base: 0,
            split: false,
            c: true,
        };
        spec.push(
            &mut out,
            &mut rng,
            &name(&p),
            &std::fs::read(&p).expect("read"),
        );
    }
    let mods = modules_61();
    let ko: Vec<&PathBuf> = mods
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "ko"))
        .collect();
    for m in ko.iter().step_by((ko.len() / 8).max(1)).take(8) {
        let spec = Spec {
            n: 8,
            targeted_every: 4,
            first_id: base.type_count(),
            str_base: base.str_len_total(),
            split: true,
            c: false,
        };
        spec.push(&mut out, &mut rng, &name(m), &btf_bytes(m));
    }
    for k in 0..4 {
        out.push(Variant {
            what: format!("vmlinux #{k}"),
            blob: mutate_targeted(vmlinux_raw, &mut rng, 1, 0),
            split: false,
            c: k < 2,
        });
    }
    out
}

/// How to corrupt one source blob.
struct Spec {
    /// Variants made.
    n: usize,
    /// Variant `k` is the verifier's mutation when `k % targeted_every` is 1
    /// (`targeted_every - 1` of every `targeted_every` are targeted when it
    /// is more than 2).
    targeted_every: usize,
    /// The blob's first type id and string offset (a split blob's base).
    first_id: u32,
    str_base: u32,
    split: bool,
    c: bool,
}

impl Spec {
    fn push(&self, out: &mut Vec<Variant>, rng: &mut Rng, name: &str, src: &[u8]) {
        for k in 0..self.n {
            let blob = if k % self.targeted_every == 1 {
                mutate(src, rng)
            } else {
                mutate_targeted(src, rng, self.first_id, self.str_base)
            };
            out.push(Variant {
                what: format!("{name} #{k}"),
                blob,
                split: self.split,
                c: self.c,
            });
        }
    }
}

/// How much of our C output is kept: a struct of ~4 GiB is ~5 GiB of
/// padding lines (bpftool prints them too, for minutes); the prefix is
/// compared.
const CAP: usize = 64 << 20;

/// A writer that takes [`CAP`] bytes, then fails (which stops the dump).
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let room = CAP.saturating_sub(self.0.len());
        if room == 0 {
            return Err(std::io::Error::other("output cap reached"));
        }
        let n = room.min(b.len());
        self.0.extend_from_slice(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How one bpftool run ended.
enum Run {
    Ok(Vec<u8>),
    Failed,
    Crashed,
    Hung,
}

fn bpftool(file: &Path, base: Option<&Path>, fmt: &str) -> Run {
    match output_with_timeout(&mut bpftool_dump(file, base, fmt), Duration::from_secs(10)) {
        Ok(Some(o)) if o.status.success() => Run::Ok(o.stdout),
        Ok(Some(o)) if o.status.code().is_none() => Run::Crashed,
        Ok(Some(_)) => Run::Failed,
        Ok(None) => Run::Hung,
        Err(e) => panic!("cannot run bpftool: {e}"),
    }
}

/// Why two JSON documents differ (bpftool's read with U+FFFD for bytes
/// that are not UTF-8), or `None`.
fn json_difference(ours: &[u8], theirs: &[u8]) -> Option<String> {
    let a: serde_json::Value = match serde_json::from_slice(ours) {
        Ok(v) => v,
        Err(e) => return Some(format!("our JSON does not parse: {e}")),
    };
    let b: serde_json::Value = match serde_json::from_str(&String::from_utf8_lossy(theirs)) {
        Ok(v) => v,
        Err(_) => return None, // counted as bpftool's invalid JSON
    };
    if a == b {
        return None;
    }
    let (Some(ta), Some(tb)) = (a["types"].as_array(), b["types"].as_array()) else {
        return Some("no `types` array".into());
    };
    for (x, y) in ta.iter().zip(tb) {
        if x != y {
            return Some(format!("ours {x}\n bpftool {y}"));
        }
    }
    Some(format!("{} types, bpftool {}", ta.len(), tb.len()))
}

/// One variant's result: the tallies per format, the disagreements, whether
/// the kernel agreed (`None`: not asked), whether the strict parse refused it.
type Outcome = (Vec<(&'static str, Tally)>, Vec<String>, Option<bool>, bool);

/// The figures, per format.
#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    /// Variants compared in this format.
    runs: usize,
    /// bpftool exit 0.
    bpftool_ok: usize,
    /// ... and ours identical.
    identical: usize,
    /// bpftool refused (non-zero exit).
    bpftool_refused: usize,
    /// bpftool died of a signal.
    bpftool_crashed: usize,
    /// bpftool ran out of time (10 s: printing gigabytes of padding for a
    /// struct size made huge).
    bpftool_hung: usize,
    /// bpftool's JSON did not parse.
    bpftool_bad_json: usize,
    /// Where bpftool crashed or hung: ours printed (or refused) cleanly.
    ours_clean_where_bpftool_died: usize,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.runs += o.runs;
        self.bpftool_ok += o.bpftool_ok;
        self.identical += o.identical;
        self.bpftool_refused += o.bpftool_refused;
        self.bpftool_crashed += o.bpftool_crashed;
        self.bpftool_hung += o.bpftool_hung;
        self.bpftool_bad_json += o.bpftool_bad_json;
        self.ours_clean_where_bpftool_died += o.ours_clean_where_bpftool_died;
    }
}

/// Compares one variant in one format: the tally and the disagreement.
fn compare(
    v: &Variant,
    file: &Path,
    base: Option<(&Path, &Arc<Btf>)>,
    fmt: &str,
) -> (Tally, Option<String>) {
    let mut t = Tally {
        runs: 1,
        ..Tally::default()
    };
    let start = Instant::now();
    let ours = btf::read::parse_any_lenient(&v.blob, base.map(|b| b.1.clone()));
    let ours = ours.and_then(|l| {
        let btf = l.for_display();
        let mut o = Vec::new();
        match fmt {
            "raw" => {
                btf_dump::raw::dump(btf, &mut o).map_err(|e| btf::Error::new(e.to_string()))?
            }
            "json" => {
                btf_dump::json::dump(btf, &mut o).map_err(|e| btf::Error::new(e.to_string()))?
            }
            _ => {
                let mut w = Capped(Vec::new());
                let r = btf_dump::c::dump_with(btf, &mut w, &btf_dump::c::Options::default());
                o = w.0;
                // Past the cap the prefix is compared.
                if o.len() < CAP {
                    r?;
                }
            }
        }
        Ok(o)
    });
    let took = start.elapsed();
    if took > Duration::from_secs(10) {
        return (t, Some(format!("{}: {fmt}: ours took {took:?}", v.what)));
    }
    let diff = match bpftool(file, base.map(|b| b.0), fmt) {
        Run::Ok(theirs) => {
            t.bpftool_ok += 1;
            if fmt == "json"
                && serde_json::from_str::<serde_json::Value>(&String::from_utf8_lossy(&theirs))
                    .is_err()
            {
                t.bpftool_bad_json += 1;
            }
            match &ours {
                Err(e) => Some(format!("bpftool dumps, we refuse: {e}")),
                Ok(o) => {
                    let d = if fmt == "json" {
                        json_difference(o, &theirs)
                    } else if o.len() >= CAP {
                        first_difference(o, &theirs[..CAP.min(theirs.len())])
                    } else {
                        first_difference(o, &theirs)
                    };
                    if d.is_none() {
                        t.identical += 1;
                    }
                    d
                }
            }
        }
        Run::Failed => {
            t.bpftool_refused += 1;
            None
        }
        run @ (Run::Crashed | Run::Hung) => {
            if matches!(run, Run::Hung) {
                t.bpftool_hung += 1;
            } else {
                t.bpftool_crashed += 1;
            }
            // Ours ran to an end (output or a clean error) in bounded time.
            t.ours_clean_where_bpftool_died += 1;
            None
        }
    };
    (t, diff.map(|d| format!("{}: {fmt}: {d}", v.what)))
}

#[test]
fn broken_btf_dumps_as_bpftool_and_verifies_as_the_kernel() {
    if !oracle_program("bpftool") {
        return;
    }
    let Some(shared) = shared_dir() else { return };
    let Some(vm) = oracle_file(VMLINUX_61) else {
        return;
    };
    if !oracle(!modules_61().is_empty(), "the 6.1 modules") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("btfkit-dump-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let vmlinux_raw = btf_bytes(&vm);
    let base_file = dir.join("vmlinux.btf");
    std::fs::write(&base_file, &vmlinux_raw).expect("write base");
    let base = Arc::new(Btf::parse(&vmlinux_raw).expect("vmlinux parses"));
    let vars = variants(&shared, &vmlinux_raw, &base);
    let kernel = kernel_available();
    // BTFKIT_KEEP_VARIANTS=DIR writes every variant there (to look at one).
    if let Some(keep) = std::env::var_os("BTFKIT_KEEP_VARIANTS") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).expect("keep dir");
        for (i, v) in vars.iter().enumerate() {
            let name = format!("v{i}-{}.btf", v.what.replace([' ', '#'], ""));
            std::fs::write(keep.join(name), &v.blob).expect("write");
        }
        eprintln!("variants written to {}", keep.display());
        return;
    }

    let results: Vec<Outcome> = vars
        .par_iter()
        .enumerate()
        .map(|(i, v)| {
            let file = dir.join(format!("v{i}.btf"));
            std::fs::write(&file, &v.blob).expect("write variant");
            let b = v.split.then_some((base_file.as_path(), &base));
            let mut tallies = Vec::new();
            let mut bad = Vec::new();
            let formats: &[&'static str] = if v.c {
                &["raw", "json", "c"]
            } else {
                &["raw", "json"]
            };
            for fmt in formats {
                let (t, d) = compare(v, &file, b, fmt);
                tallies.push((*fmt, t));
                bad.extend(d);
            }
            let strict_refuses =
                btf::read::parse_any(&v.blob, v.split.then(|| base.clone())).is_err();
            let kernel_agrees =
                (kernel && !v.split).then(|| match kernel_disagreement(&v.what, &v.blob, false) {
                    None => true,
                    Some(d) => {
                        bad.push(d);
                        false
                    }
                });
            let _ = std::fs::remove_file(&file);
            (tallies, bad, kernel_agrees, strict_refuses)
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);

    let mut by_fmt: Vec<(&str, Tally)> = vec![
        ("raw", Tally::default()),
        ("json", Tally::default()),
        ("c", Tally::default()),
    ];
    let mut bad = Vec::new();
    let (mut kernel_n, mut kernel_same, mut strict_refused) = (0, 0, 0);
    for (tallies, b, k, s) in &results {
        for (fmt, t) in tallies {
            if let Some(e) = by_fmt.iter_mut().find(|e| e.0 == *fmt) {
                e.1.add(t);
            }
        }
        bad.extend(b.iter().cloned());
        if let Some(k) = k {
            kernel_n += 1;
            kernel_same += usize::from(*k);
        }
        strict_refused += usize::from(*s);
    }
    eprintln!(
        "{} variants ({} base, {} split); the strict parse refuses {strict_refused}",
        vars.len(),
        vars.iter().filter(|v| !v.split).count(),
        vars.iter().filter(|v| v.split).count()
    );
    for (fmt, t) in &by_fmt {
        eprintln!(
            "{fmt:>4}: {} compared, bpftool exit 0 on {} (ours identical on {}), refused {}, crashed {}, hung {}, invalid JSON {}; ours clean on all {} bpftool died on",
            t.runs, t.bpftool_ok, t.identical, t.bpftool_refused, t.bpftool_crashed, t.bpftool_hung, t.bpftool_bad_json, t.ours_clean_where_bpftool_died
        );
    }
    if kernel {
        eprintln!("kernel: {kernel_same}/{kernel_n} base variants with the same verdict, errno and message bytes");
    }
    assert!(vars.len() >= 300, "{} variants", vars.len());
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// A member offset past `i32::MAX` bits makes libbpf's padding arithmetic
/// wrap; bpftool still prints (a `char: -192;`), and so do we, byte for byte.
#[test]
fn wrapped_layout_prints_as_bpftool() {
    if !oracle_program("bpftool") {
        return;
    }
    let types = [
        1,
        0x0100_0000,
        4,
        0x0100_0020, // [1] int
        5,
        0x0400_0002,
        0x1000_0000, // [2] struct s, size 2^28
        7,
        1,
        0x8000_0000, // a at bit 2^31
        9,
        1,
        0x7fff_ffc0, // b at bit 2^31 - 64
    ];
    let blob = verify_common::blob(&types, b"\0int\0s\0a\0b\0");
    let f = std::env::temp_dir().join(format!("btfkit-wrap-{}.btf", std::process::id()));
    std::fs::write(&f, &blob).expect("write");
    let theirs = bpftool(&f, None, "c");
    let _ = std::fs::remove_file(&f);
    let Run::Ok(theirs) = theirs else {
        panic!("bpftool did not print the wrapped layout");
    };
    let btf = btf::read::parse_lenient(&blob, None).expect("lenient");
    let ours = btf_dump::c::dump_to_vec(btf.for_display(), &btf_dump::c::Options::default())
        .expect("ours prints");
    assert!(
        String::from_utf8_lossy(&ours).contains("\tlong: 0;\n\tchar: -192;\n\tint b;\n"),
        "{}",
        String::from_utf8_lossy(&ours)
    );
    assert_eq!(first_difference(&ours, &theirs), None);
}
