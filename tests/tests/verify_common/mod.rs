//! Shared by the verifier tests: the suite's blobs, deterministic mutations,
//! and the real kernel's `bpf(BPF_BTF_LOAD)`.

#![allow(dead_code)]

use btf::verify::{verify_raw_with, Rules};
use btfkit_tests::shared_dir;
use serde_json::Value;

/// Decodes lowercase hex.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// Reads a JSON file of `../shared/suites`.
pub fn suite_json(name: &str) -> Option<Value> {
    let dir = shared_dir()?;
    let text = std::fs::read_to_string(dir.join("suites").join(name)).expect("read suite");
    Some(serde_json::from_str(&text).expect("json"))
}

/// The 167 blobs of `raw_cases.json`, with their index and name.
pub fn suite_blobs() -> Option<Vec<(u64, String, Vec<u8>)>> {
    let suite = suite_json("raw_cases.json")?;
    Some(
        suite["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .map(|c| {
                (
                    c["index"].as_u64().expect("index"),
                    c["name"].as_str().unwrap_or("").to_string(),
                    hex(c["raw_btf_hex"].as_str().expect("hex")),
                )
            })
            .collect(),
    )
}

pub use btfkit_tests::Rng;

fn put(b: &mut [u8], off: usize, v: u32) {
    if off + 4 <= b.len() {
        b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
}

fn get(b: &[u8], off: usize) -> u32 {
    if off + 4 <= b.len() {
        u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
    } else {
        0
    }
}

/// One deterministic mutation of a blob: mostly in the type section (words
/// set to interesting values, kind/vlen/kflag changes, bit flips), sometimes
/// in the header or strings, sometimes truncating or extending.
pub fn mutate(src: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = src.to_vec();
    let n_ops = 1 + rng.below(2);
    for _ in 0..n_ops {
        let hdr_len = 24usize.min(b.len());
        let type_len = get(&b, 12) as usize;
        let tstart = hdr_len;
        let tend = (tstart + type_len).min(b.len());
        let words = (tend.saturating_sub(tstart)) / 4;
        match rng.below(24) {
            0..=11 if words > 0 => {
                // An interesting value into a type-section word.
                let w = tstart + 4 * rng.below(words);
                let vals = [
                    0u32,
                    1,
                    2,
                    3,
                    4,
                    5,
                    7,
                    8,
                    16,
                    32,
                    64,
                    0xffff_ffff,
                    0x8000_0000,
                    get(&b, w).wrapping_add(1),
                    get(&b, w).wrapping_sub(1),
                    (rng.below(20) as u32) << 24,
                    ((rng.below(20) as u32) << 24) | rng.below(4) as u32,
                    0x8000_0000 | ((rng.below(20) as u32) << 24),
                    rng.below(64) as u32,
                    0x0100_0020,
                    0x1000_0000,
                ];
                let v = vals[rng.below(vals.len())];
                put(&mut b, w, v);
            }
            12..=15 if words > 0 => {
                // A bit flip in the type section.
                let w = tstart + 4 * rng.below(words);
                let v = get(&b, w) ^ (1u32 << rng.below(32));
                put(&mut b, w, v);
            }
            16..=17 if words > 0 => {
                // Change a kind (the info word of some record start).
                let w = tstart + 4 * rng.below(words);
                let v = get(&b, w);
                let kind = rng.below(21) as u32;
                put(&mut b, w, (v & !0x1f00_0000) | (kind << 24));
            }
            21 => {
                // A header word.
                let w = 4 * (1 + rng.below(5));
                let v = get(&b, w);
                let d = [0u32, 1, 4, 0xffff_fffc, 24, 8];
                put(&mut b, w, v.wrapping_add(d[rng.below(d.len())]));
            }
            22 if !b.is_empty() => {
                // A byte anywhere.
                let i = rng.below(b.len());
                b[i] = [0u8, 0xff, b'!', b'a', 0x80, 0xe9, b' '][rng.below(7)];
            }
            23 if !b.is_empty() && rng.below(2) == 0 => {
                let cut = rng.below(b.len());
                b.truncate(cut);
            }
            23 => {
                let extra = 1 + rng.below(8);
                b.extend(std::iter::repeat_n(0u8, extra));
            }
            _ if words > 0 => {
                // A small id into a type-section word (references).
                let w = tstart + 4 * rng.below(words);
                put(&mut b, w, rng.below(12) as u32);
            }
            _ => {}
        }
    }
    b
}

/// What the real kernel said about a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelVerdict {
    /// Loaded (an fd came back).
    pub loaded: bool,
    /// errno when it did not.
    pub errno: i32,
    /// The log (level 1), when asked for.
    pub log: String,
    /// The log's bytes as the kernel wrote them (names need not be UTF-8).
    pub log_bytes: Vec<u8>,
}

#[repr(C)]
#[derive(Default)]
struct BtfLoadAttr {
    btf: u64,
    btf_log_buf: u64,
    btf_size: u32,
    btf_log_size: u32,
    btf_log_level: u32,
    btf_log_true_size: u32,
    btf_flags: u32,
    btf_token_fd: i32,
    pad: [u64; 8],
}

/// `bpf(BPF_BTF_LOAD)` with a log of `log_size` bytes at level 1 (no log when 0).
pub fn kernel_load(blob: &[u8], log_size: usize) -> KernelVerdict {
    let mut log = vec![0u8; log_size];
    let attr = BtfLoadAttr {
        btf: blob.as_ptr() as u64,
        btf_log_buf: if log_size > 0 {
            log.as_mut_ptr() as u64
        } else {
            0
        },
        btf_size: blob.len() as u32,
        btf_log_size: log_size as u32,
        btf_log_level: u32::from(log_size > 0),
        ..Default::default()
    };
    // SAFETY: `attr` is a properly initialised, live `union bpf_attr` prefix
    // for BPF_BTF_LOAD (unused fields zero); the kernel reads `blob` (valid for
    // `btf_size` bytes) and writes at most `btf_log_size` bytes into `log`,
    // both alive for the call. The size passed is the struct's size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            18 as libc::c_long,
            &attr as *const BtfLoadAttr,
            std::mem::size_of::<BtfLoadAttr>(),
        )
    };
    let errno = if fd < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        // SAFETY: `fd` is a file descriptor the kernel just gave us and nothing
        // else owns.
        unsafe { libc::close(fd as libc::c_int) };
        0
    };
    let end = log.iter().position(|&c| c == 0).unwrap_or(log.len());
    KernelVerdict {
        loaded: fd >= 0,
        errno,
        log: String::from_utf8_lossy(&log[..end]).into_owned(),
        log_bytes: log[..end].to_vec(),
    }
}

/// Whether `bpf(BPF_BTF_LOAD)` works here (root, bpf() allowed), under the
/// oracle rule: a skip locally, a failure in CI.
pub fn kernel_available() -> bool {
    // The smallest valid BTF: one INT.
    let mut b = Vec::new();
    for w in [0x0001_eb9fu32, 24, 0, 16, 16, 5] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b[0] = 0x9f;
    b[1] = 0xeb;
    b[2] = 1;
    b[3] = 0;
    for w in [1u32, 0x0100_0000, 4, 32] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b.extend_from_slice(b"\0int\0");
    let v = kernel_load(&b, 0);
    btfkit_tests::oracle(
        v.loaded,
        "bpf(BPF_BTF_LOAD) (needs root and the bpf syscall)",
    )
}

/// Builds a raw little-endian blob from type words and a string section.
pub fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
    btf::write::blob_from_words(btf::Endian::Little, types, strings)
}

/// `info` word: kind, vlen, kind_flag.
pub fn info(kind: u32, vlen: u32, kflag: bool) -> u32 {
    (u32::from(kflag) << 31) | (kind << 24) | vlen
}

/// Hand-made blobs probing rules that differ between kernels or are easy to
/// get wrong: tag kind_flags, Latin-1 names, name lengths, linkage, deep
/// chains, special struct fields.
pub fn targeted_blobs() -> Vec<(&'static str, Vec<u8>)> {
    let int = [1u32, info(1, 0, false), 4, 0x0100_0020]; // [1] int (name "int" at 1)
    let mut out = Vec::new();
    // strings: \0int\0s\0a\0tag\0tt\0
    let s1 = b"\0int\0s\0a\0tag\0tt\0kptr\0".to_vec();
    let st = [5u32, info(4, 1, false), 4, 7, 1, 0]; // [2] struct s { int a; }
    for (name, kflag, comp) in [
        ("decl_tag kflag comp=0", true, 0u32),
        ("decl_tag kflag comp=-1", true, u32::MAX),
        ("decl_tag comp=1", false, 1),
    ] {
        let mut t = int.to_vec();
        t.extend(st);
        t.extend([9u32, info(17, 0, kflag), 2, comp]);
        out.push((name, blob(&t, &s1)));
    }
    for kflag in [false, true] {
        let mut t = int.to_vec();
        t.extend([13u32, info(18, 0, kflag), 1]); // [2] type_tag "tt" -> int
        t.extend([0u32, info(2, 0, false), 2]); // [3] ptr -> [2]
        out.push((
            if kflag { "type_tag kflag" } else { "type_tag" },
            blob(&t, &s1),
        ));
    }
    // Latin-1 and odd names on a typedef.
    for (label, nm) in [
        ("typedef latin1 name", &b"\xe9t\xe9"[..]),
        ("typedef 0xd7 name", &b"a\xd7"[..]),
        ("typedef 0x80 name", &b"a\x80"[..]),
        ("typedef dollar name", &b"a$b"[..]),
        ("typedef dot name", &b".a.b"[..]),
        ("typedef digit first", &b"1a"[..]),
    ] {
        let mut s = b"\0int\0".to_vec();
        let off = s.len() as u32;
        s.extend_from_slice(nm);
        s.push(0);
        let mut t = int.to_vec();
        t.extend([off, info(8, 0, false), 1]);
        out.push((label, blob(&t, &s)));
    }
    for len in [511usize, 512, 513, 1100, 2000] {
        let mut s = b"\0int\0".to_vec();
        s.extend(std::iter::repeat_n(b'a', len));
        s.push(0);
        let mut t = int.to_vec();
        t.extend([5u32, info(8, 0, false), 1]);
        out.push((
            match len {
                511 => "typedef name 511",
                512 => "typedef name 512",
                513 => "typedef name 513",
                1100 => "typedef name 1100",
                _ => "typedef name 2000",
            },
            blob(&t, &s),
        ));
    }
    // DATASEC names.
    for (label, nm) in [
        ("datasec name nbsp", &b".data\xa0x"[..]),
        ("datasec name space", &b".da ta"[..]),
        ("datasec name 0x7f", &b".da\x7f"[..]),
        ("datasec name 0x85", &b".da\x85"[..]),
    ] {
        let mut s = b"\0int\0v\0".to_vec();
        let off = s.len() as u32;
        s.extend_from_slice(nm);
        s.push(0);
        let mut t = int.to_vec();
        t.extend([5u32, info(14, 0, false), 1, 1]); // [2] var v
        t.extend([off, info(15, 1, false), 4, 2, 0, 4]); // [3] datasec
        out.push((label, blob(&t, &s)));
    }
    // FUNC linkages 0..3.
    for l in 0..3u32 {
        let mut t = int.to_vec();
        t.extend([0u32, info(13, 0, false), 1]); // [2] proto int(void)
        t.extend([5u32, info(12, l, false), 2]); // [3] func s
        out.push((
            ["func static", "func global", "func extern"][l as usize],
            blob(&t, &s1),
        ));
    }
    // Chains of 31..34 CONSTs over int.
    for n in [31u32, 32, 33, 34] {
        let mut t = int.to_vec();
        // [2] -> [3] -> ... -> [n+1] -> int: resolving [2] stacks them all.
        for i in 0..n {
            let next = if i + 1 == n { 1 } else { i + 3 };
            t.extend([0u32, info(10, 0, false), next]);
        }
        out.push((
            match n {
                31 => "31 consts",
                32 => "32 consts",
                33 => "33 consts",
                _ => "34 consts",
            },
            blob(&t, &s1),
        ));
    }
    // const -> func, typedef -> func_proto, ptr -> decl_tag.
    {
        let mut t = int.to_vec();
        t.extend([0u32, info(13, 0, false), 1]); // [2] proto
        t.extend([5u32, info(12, 0, false), 2]); // [3] func s
        t.extend([0u32, info(10, 0, false), 3]); // [4] const -> func
        out.push(("const func", blob(&t, &s1)));
        let mut t = int.to_vec();
        t.extend([0u32, info(13, 0, false), 1]);
        t.extend([5u32, info(8, 0, false), 2]); // typedef s -> proto
        out.push(("typedef proto", blob(&t, &s1)));
        let mut t = int.to_vec();
        t.extend(st);
        t.extend([9u32, info(17, 0, false), 2, u32::MAX]); // [3] decl_tag
        t.extend([0u32, info(2, 0, false), 3]); // [4] ptr -> decl_tag
        out.push(("ptr decl_tag", blob(&t, &s1)));
    }
    // Special fields: two bpf_spin_lock members; a kptr.
    {
        let s = b"\0int\0bpf_spin_lock\0val\0foo\0a\0b\0kptr\0p\0".to_vec();
        let lock = [5u32, info(4, 1, false), 4, 19, 1, 0]; // [2] struct bpf_spin_lock { int val; }
        let mut t = int.to_vec();
        t.extend(lock);
        t.extend([23u32, info(4, 2, false), 8, 27, 2, 0, 29, 2, 32]); // [3] foo {lock a; lock b;}
        out.push(("two spin locks", blob(&t, &s)));
        let mut t = int.to_vec();
        t.extend(lock);
        t.extend([23u32, info(4, 2, false), 8, 27, 2, 0, 29, 1, 32]); // [3] foo {lock a; int b;}
        out.push(("one spin lock", blob(&t, &s)));
        let mut t = int.to_vec();
        t.extend(lock);
        t.extend([23u32, info(4, 2, false), 8, 27, 2, 8, 29, 1, 0]); // [3] foo {int b; lock a at 1}
        out.push(("misaligned spin lock", blob(&t, &s)));
        let mut t = int.to_vec();
        t.extend([23u32, info(4, 1, false), 4, 19, 1, 0]); // [2] struct foo { int val; }
        t.extend([31u32, info(18, 0, false), 2]); // [3] type_tag kptr -> foo
        t.extend([0u32, info(2, 0, false), 3]); // [4] ptr -> [3]
        t.extend([29u32, info(4, 1, false), 8, 36, 4, 0]); // [5] struct b { ptr p }
        out.push(("kptr member", blob(&t, &s)));
    }
    out.extend(special_field_blobs());
    out
}

/// A string table under construction.
pub struct Strs(pub Vec<u8>);

impl Strs {
    pub fn new() -> Strs {
        Strs(vec![0])
    }
    /// Adds a string, returns its offset.
    pub fn add(&mut self, s: &str) -> u32 {
        let off = self.0.len() as u32;
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        off
    }
}

/// Blobs exercising `btf_parse_struct_metas` (special fields).
pub fn special_field_blobs() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    // Common prefix: [1] int, [2] bpf_spin_lock {u32}, [3] bpf_list_head (16),
    // [4] bpf_list_node (24), [5] bpf_refcount (4), [6] bpf_rb_node (32),
    // [7] u64.
    let prefix = |s: &mut Strs| -> Vec<u32> {
        let int = s.add("int");
        let lock = s.add("bpf_spin_lock");
        let head = s.add("bpf_list_head");
        let node = s.add("bpf_list_node");
        let rc = s.add("bpf_refcount");
        let rbn = s.add("bpf_rb_node");
        let v = s.add("v");
        let u64n = s.add("u64");
        let mut t = vec![int, info(1, 0, false), 4, 0x0100_0020];
        t.extend([lock, info(4, 1, false), 4, v, 1, 0]);
        t.extend([head, info(4, 2, false), 16, v, 7, 0, v, 7, 64]);
        t.extend([node, info(4, 3, false), 24, v, 7, 0, v, 7, 64, v, 7, 128]);
        t.extend([rc, info(4, 1, false), 4, v, 1, 0]);
        t.extend([
            rbn,
            info(4, 4, false),
            32,
            v,
            7,
            0,
            v,
            7,
            64,
            v,
            7,
            128,
            v,
            7,
            192,
        ]);
        t.extend([u64n, info(1, 0, false), 8, 64]);
        t
    };
    // A list of `struct item { bpf_list_node n; }` guarded by a lock:
    // [8] item, [9] root { lock l; head h; } and a decl tag on root.h.
    for (label, with_lock, tag) in [
        ("list head ok", true, Some("contains:item:n")),
        ("list head no lock", false, Some("contains:item:n")),
        ("list head no tag", true, None),
        ("list head bad struct", true, Some("contains:nope:n")),
        ("list head bad node", true, Some("contains:item:x")),
        ("list head no node name", true, Some("contains:item:")),
        ("list head no colon", true, Some("contains:item")),
    ] {
        let mut s = Strs::new();
        let mut t = prefix(&mut s);
        let (item, n, root, l, h) = (
            s.add("item"),
            s.add("n"),
            s.add("root"),
            s.add("l"),
            s.add("h"),
        );
        t.extend([item, info(4, 1, false), 24, n, 4, 0]); // [8]
        if with_lock {
            t.extend([root, info(4, 2, false), 24, l, 2, 0, h, 3, 64]); // [9]
        } else {
            t.extend([root, info(4, 1, false), 16, h, 3, 0]); // [9]
        }
        if let Some(tag) = tag {
            let tg = s.add(tag);
            t.extend([tg, info(17, 0, false), 9, u32::from(with_lock)]); // [10]
        }
        out.push((label, blob(&t, &s.0)));
    }
    // Two refcounts; an array of locks; lock and refcount overlapping (union).
    {
        let mut s = Strs::new();
        let mut t = prefix(&mut s);
        let (f, a, b) = (s.add("f"), s.add("a"), s.add("b"));
        t.extend([f, info(4, 2, false), 8, a, 5, 0, b, 5, 32]);
        out.push(("two refcounts", blob(&t, &s.0)));
        let mut s = Strs::new();
        let mut t = prefix(&mut s);
        let (f, a) = (s.add("f"), s.add("a"));
        t.extend([0, info(3, 0, false), 0, 2, 1, 2]); // [8] lock[2]
        t.extend([f, info(4, 1, false), 8, a, 8, 0]); // [9] f { lock a[2]; }
        t.extend([f, info(4, 1, false), 4, a, 2, 0]); // [10] f { lock a; } (aof user)
        out.push(("array of locks", blob(&t, &s.0)));
        let mut s = Strs::new();
        let mut t = prefix(&mut s);
        let (f, a, b) = (s.add("f"), s.add("a"), s.add("b"));
        t.extend([f, info(5, 2, false), 4, a, 2, 0, b, 5, 0]); // union f { lock a; refcount b; }
        out.push(("lock refcount overlap", blob(&t, &s.0)));
        // A list node and an rb node without a refcount.
        let mut s = Strs::new();
        let mut t = prefix(&mut s);
        let (f, a, b) = (s.add("f"), s.add("a"), s.add("b"));
        t.extend([f, info(4, 2, false), 56, a, 4, 0, b, 6, 192]);
        out.push(("list and rb node", blob(&t, &s.0)));
        // The same with a refcount.
        let mut s = Strs::new();
        let mut t = prefix(&mut s);
        let (f, a, b, c) = (s.add("f"), s.add("a"), s.add("b"), s.add("c"));
        t.extend([f, info(4, 3, false), 64, a, 4, 0, b, 6, 192, c, 5, 448]);
        out.push(("list and rb node refcount", blob(&t, &s.0)));
    }
    // kptrs: a bad tag beside a lock; a self-owning kptr (ownership loop);
    // a kptr with two tags.
    for (label, tag, self_ref, two_tags) in [
        ("kptr bad tag", "kptrx", false, false),
        ("kptr self cycle", "kptr", true, false),
        ("kptr untrusted self", "kptr_untrusted", true, false),
        ("kptr two tags", "kptr", false, true),
        ("percpu kptr", "percpu_kptr", false, false),
    ] {
        let mut s = Strs::new();
        let mut t = prefix(&mut s);
        let (obj, p, l, tg) = (s.add("myobj"), s.add("p"), s.add("l"), s.add(tag));
        // [8] type_tag -> [9] or [11]; [9] ptr? no: [8] tag, [9] ptr -> [8], [10] myobj
        let target = if self_ref { 10 } else { 11 };
        if two_tags {
            t.extend([tg, info(18, 0, false), 12]); // [8] tag -> [12] tag
        } else {
            t.extend([tg, info(18, 0, false), target]); // [8]
        }
        t.extend([0, info(2, 0, false), 8]); // [9] ptr -> [8]
        t.extend([obj, info(4, 2, false), 16, p, 9, 0, l, 2, 64]); // [10] myobj { ptr p; lock l; }
        t.extend([p, info(4, 1, false), 4, l, 1, 0]); // [11] struct p { int l; }
        if two_tags {
            t.extend([tg, info(18, 0, false), 11]); // [12] tag -> [11]
        }
        out.push((label, blob(&t, &s.0)));
    }
    // 6.15+ resilient spin lock: two of them.
    {
        let mut s = Strs::new();
        let mut t = prefix(&mut s);
        let (r, f, a, b, v) = (
            s.add("bpf_res_spin_lock"),
            s.add("f"),
            s.add("a"),
            s.add("b"),
            s.add("w"),
        );
        t.extend([r, info(4, 2, false), 8, v, 1, 0, v, 1, 32]); // [8]
        t.extend([f, info(4, 2, false), 16, a, 8, 0, b, 8, 64]); // [9]
        out.push(("two res spin locks", blob(&t, &s.0)));
        let mut s = Strs::new();
        let mut t = prefix(&mut s);
        let (r, f, a, b, v) = (
            s.add("bpf_res_spin_lock"),
            s.add("f"),
            s.add("a"),
            s.add("b"),
            s.add("w"),
        );
        t.extend([r, info(4, 2, false), 8, v, 1, 0, v, 1, 32]); // [8]
        t.extend([f, info(4, 2, false), 16, a, 8, 0, b, 2, 64]); // [9] res lock + lock
        out.push(("res lock and lock", blob(&t, &s.0)));
    }
    out
}

/// Our verifier against the kernel's `bpf(BPF_BTF_LOAD)` on one blob: the
/// verdict, the errno and the message (the log's last line, byte for byte:
/// names that are not UTF-8 included), or for failures the kernel does not
/// log the whole log; with `whole_log` the whole log always. Returns the
/// disagreement, if any.
pub fn kernel_disagreement(what: &str, blob: &[u8], whole_log: bool) -> Option<String> {
    let ours = verify_raw_with(blob, None, Rules::default());
    let k = kernel_load(blob, 0);
    if k.loaded != ours.is_ok() {
        let kl = kernel_load(blob, 1 << 20);
        return Some(format!(
            "{what}: kernel loaded={} errno={} last={:?}; ours={:?}",
            k.loaded,
            k.errno,
            kl.log.lines().last(),
            ours.as_ref().err().map(|f| &f.rejection.message)
        ));
    }
    let Err(f) = ours else { return None };
    if f.errno != k.errno {
        return Some(format!("{what}: errno kernel {} ours {}", k.errno, f.errno));
    }
    let kl = kernel_load(blob, 1 << 22);
    let end = kl
        .log_bytes
        .iter()
        .rposition(|&b| b != b'\n')
        .map_or(0, |p| p + 1);
    let klast = match kl.log_bytes[..end].iter().rposition(|&b| b == b'\n') {
        Some(p) => &kl.log_bytes[p + 1..end],
        None => &kl.log_bytes[..end],
    };
    let silent = !f
        .rejection
        .log
        .trim_end_matches('\n')
        .ends_with(&f.rejection.message);
    if silent {
        // The kernel logs no error line: our message is our own explanation,
        // and the log must be the kernel's as it stood when it gave up.
        if kl.log != f.rejection.log {
            return Some(format!(
                "{what}: silent failure, logs differ\n--- kernel\n{}\n--- ours\n{}",
                kl.log, f.rejection.log
            ));
        }
        return None;
    }
    if klast != f.rejection.message_bytes.as_slice() {
        return Some(format!(
            "{what}: last line kernel {:?} ours {:?}",
            String::from_utf8_lossy(klast),
            f.rejection.message
        ));
    }
    if whole_log && kl.log != f.rejection.log {
        return Some(format!(
            "{what}: logs differ\n--- kernel\n{}\n--- ours\n{}",
            kl.log, f.rejection.log
        ));
    }
    None
}
