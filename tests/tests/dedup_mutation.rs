//! Robustness: deterministic mutations of valid inputs (flipped bytes, words
//! replaced by edge values, bad string offsets, type ids pointing back at
//! themselves or past the end, truncation) never make the dedup panic or
//! hang: each input is either deduplicated or rejected with an error.
//! (libbpf 1.1.2 itself crashes inside `btf__dedup` on some of them.)

mod dedup_support;

use btfkit_tests::shared_dir;
use dedup_support::*;

use btfkit_tests::Rng;

fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    let hdr = 6usize; // header words
    let nmut = 1 + rng.below(4);
    for _ in 0..nmut {
        let words = d.len() / 4;
        if d.is_empty() {
            break;
        }
        match rng.below(8) {
            0 => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            1..=3 => {
                // A word of the type section (or header) gets an edge value.
                if words <= hdr {
                    continue;
                }
                let w = if rng.below(8) == 0 {
                    rng.below(hdr)
                } else {
                    hdr + rng.below(words - hdr)
                };
                let cur = u32::from_le_bytes(d[4 * w..4 * w + 4].try_into().unwrap());
                let v = match rng.below(9) {
                    0 => 0,
                    1 => 1,
                    2 => cur.wrapping_add(1),
                    3 => cur.wrapping_sub(1),
                    4 => u32::MAX,
                    5 => (w as u32).wrapping_sub(hdr as u32) / 3, // roughly its own id: loops
                    6 => cur ^ 0x8000_0000,                       // kind_flag
                    7 => (cur & 0x00ff_ffff) | ((rng.below(20) as u32) << 24), // kind
                    _ => rng.next() as u32,
                };
                d[4 * w..4 * w + 4].copy_from_slice(&v.to_le_bytes());
            }
            4 => {
                let n = rng.below(d.len());
                d.truncate(n);
            }
            5 => {
                // Point a type reference at a random nearby id.
                if words <= hdr + 3 {
                    continue;
                }
                let w = hdr + 2 + 3 * rng.below((words - hdr - 2) / 3);
                if 4 * w + 4 <= d.len() {
                    let v = rng.below(64) as u32;
                    d[4 * w..4 * w + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
            6 => {
                // Overwrite a string byte (drops NULs, breaks offsets).
                let i = d.len().saturating_sub(1 + rng.below(64));
                if i < d.len() {
                    d[i] = b'a' + rng.below(26) as u8;
                }
            }
            _ => {
                // Duplicate a chunk of the type section (more types, odd links).
                if words > hdr + 8 {
                    let a = 4 * (hdr + rng.below(words - hdr - 4));
                    let len = 4 * (1 + rng.below(8));
                    let chunk: Vec<u8> = d[a..(a + len).min(d.len())].to_vec();
                    d.splice(a..a, chunk);
                }
            }
        }
    }
    d
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn mutated_inputs_never_panic() {
    let Some(shared) = shared_dir() else { return };
    let text = std::fs::read_to_string(shared.join("suites/dedup_cases.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut seeds = Vec::new();
    for c in doc["cases"].as_array().unwrap() {
        if !c["input"]["base"].is_null() {
            continue;
        }
        let words: Vec<u32> = c["input"]["raw_words"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap() as u32)
            .collect();
        seeds.push(blob(
            &words,
            &hex(c["input"]["str_sec_hex"].as_str().unwrap()),
        ));
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut rejected) = (0, 0);
    for round in 0..60_000 {
        let seed = &seeds[round % seeds.len()];
        let m = mutate(&mut rng, seed);
        let r = std::panic::catch_unwind(|| btf_dedup::dedup_raw(&m, None, &Default::default()));
        match r {
            Ok(Ok(out)) => {
                // What we write must parse.
                btf::Btf::parse(&out)
                    .unwrap_or_else(|e| panic!("round {round}: output does not parse: {e}"));
                ok += 1;
            }
            Ok(Err(e)) => {
                assert!(!e.to_string().is_empty());
                rejected += 1;
            }
            Err(_) => panic!("round {round}: dedup panicked on {m:02x?}"),
        }
    }
    eprintln!("{ok} deduplicated, {rejected} rejected");
    assert!(
        ok > 100 && rejected > 100,
        "mutations too tame or too wild: {ok} ok, {rejected} rejected"
    );
}

#[test]
fn mutated_vmlinux_never_panics() {
    let Some(v) = btfkit_tests::oracle_file(btfkit_tests::VMLINUX_61) else {
        return;
    };
    let data = std::fs::read(&v).unwrap();
    let raw = btf::read::raw_btf_bytes(&data).unwrap().into_owned();
    drop(data);
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let rounds = if cfg!(debug_assertions) { 4 } else { 40 };
    for round in 0..rounds {
        let mut m = raw.clone();
        // Several word-level mutations spread over the whole type section.
        for _ in 0..1 + rng.below(16) {
            m = mutate(&mut rng, &m);
        }
        let r = std::panic::catch_unwind(|| btf_dedup::dedup_raw(&m, None, &Default::default()));
        assert!(r.is_ok(), "round {round}: dedup panicked");
    }
}

/// Found by the fuzz target: with a type section not right after the header
/// (type_off != 0), the output must still be valid BTF (libbpf 1.1.2 keeps
/// the old type_off and writes an invalid blob).
#[test]
fn type_section_after_padding_gives_valid_output() {
    // [1] INT 'int', [2] PTR -> [1], [3] PTR -> [1] (a duplicate).
    let words: [u32; 10] = [1, 1 << 24, 4, 32, 0, 2 << 24, 1, 0, 2 << 24, 1];
    let strs = b"\0int\0";
    let tl = (words.len() * 4) as u32;
    let mut v = vec![0x9f, 0xeb, 1, 0];
    for x in [24u32, 8, tl, 8 + tl, strs.len() as u32] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(&[0; 8]);
    for w in words {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v.extend_from_slice(strs);
    let out = btf_dedup::dedup_raw(&v, None, &Default::default()).expect("dedups");
    let b = btf::Btf::parse(&out).expect("output parses");
    assert_eq!(b.type_count(), 3, "the duplicate PTR is merged");
}
