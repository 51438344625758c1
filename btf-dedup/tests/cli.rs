//! The `btf-dedup` command: exit 0 and the output on success; exit 2 and a
//! message on bad input, with the output file left untouched.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_btf-dedup")
}

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dedup-cli");
    std::fs::create_dir_all(&d).unwrap();
    d.join(format!("{}-{name}", std::process::id()))
}

/// `int`, and a struct `s { int a; }` twice.
fn sample() -> Vec<u8> {
    let words: [u32; 18] = [
        1,
        1 << 24,
        4,
        32, // [1] INT 'int'
        5,
        (4 << 24) | 1,
        4,
        7,
        1,
        0, // [2] STRUCT 's' { a: int }
        5,
        (4 << 24) | 1,
        4,
        7,
        1,
        0, // [3] duplicate of [2]
        0,
        0,
    ];
    let words = &words[..16];
    let strs = b"\0int\0s\0a\0";
    let tl = (words.len() * 4) as u32;
    let mut v = vec![0x9f, 0xeb, 1, 0];
    for x in [24u32, 0, tl, tl, strs.len() as u32] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    for w in words {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v.extend_from_slice(strs);
    v
}

#[test]
fn dedups_a_file() {
    let (i, o) = (scratch("in.btf"), scratch("out.btf"));
    std::fs::write(&i, sample()).unwrap();
    let st = Command::new(bin())
        .arg(&i)
        .arg("-o")
        .arg(&o)
        .status()
        .unwrap();
    assert!(st.success());
    let out = btf::load(&o).unwrap();
    assert_eq!(out.type_count(), 3, "the duplicate struct is merged");
    for j in ["1", "2"] {
        let o2 = scratch(&format!("out-j{j}.btf"));
        let st = Command::new(bin())
            .args(["-j", j])
            .arg(&i)
            .arg("-o")
            .arg(&o2)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(std::fs::read(&o2).unwrap(), std::fs::read(&o).unwrap());
    }
}

#[test]
fn bad_input_exits_2_and_keeps_output() {
    let good = sample();
    let o = scratch("kept.btf");
    std::fs::write(&o, b"previous").unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("truncated", good[..good.len() - 9].to_vec()),
        ("bad magic", {
            let mut d = good.clone();
            d[0] = 0;
            d
        }),
        ("bad type id", {
            let mut d = good.clone();
            d[24 + 4 * 8..24 + 4 * 9].copy_from_slice(&99u32.to_le_bytes());
            d
        }),
        ("bad string offset", {
            let mut d = good.clone();
            d[24..28].copy_from_slice(&1000u32.to_le_bytes());
            d
        }),
        ("unknown kind", {
            let mut d = good.clone();
            d[24 + 4..24 + 8].copy_from_slice(&(25u32 << 24).to_le_bytes());
            d
        }),
    ];
    for (what, data) in cases {
        let i = scratch("bad.btf");
        std::fs::write(&i, &data).unwrap();
        let out = Command::new(bin())
            .arg(&i)
            .arg("-o")
            .arg(&o)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{what}");
        let msg = String::from_utf8_lossy(&out.stderr);
        assert!(msg.starts_with("btf-dedup: "), "{what}: {msg}");
        assert!(!msg.contains("panicked"), "{what}: {msg}");
        assert_eq!(
            std::fs::read(&o).unwrap(),
            b"previous",
            "{what}: output touched"
        );
    }
    let out = Command::new(bin())
        .arg("/nonexistent/x")
        .arg("-o")
        .arg(&o)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(bin()).arg("-o").arg(&o).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "usage error");
}
