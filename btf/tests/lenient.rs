//! The lenient read (`btf::read::parse_lenient`) beside the strict parse: what
//! it accepts that `Btf::parse` refuses, the first problem it names, what it
//! still refuses (as libbpf 1.1 does), the one split-BTF hint and the
//! messages' spelling.

use btf::read::{parse_any_lenient, parse_lenient};
use btf::{Btf, TypeId};

fn info(kind: u32, vlen: u32, kflag: bool) -> u32 {
    (u32::from(kflag) << 31) | (kind << 24) | vlen
}

fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
    btf::write::blob_from_words(btf::Endian::Little, types, strings)
}

const STRS: &[u8] = b"\0int\0p\0";

/// An INT, then a PTR to it.
fn good() -> Vec<u32> {
    vec![
        1,
        info(1, 0, false),
        4,
        0x0100_0020,
        5,
        info(2, 0, false),
        1,
    ]
}

#[test]
fn good_blob_is_the_strict_parse() {
    let b = blob(&good(), STRS);
    let l = parse_lenient(&b, None).unwrap();
    assert!(l.problem().is_none());
    let strict = Btf::parse(&b).unwrap();
    assert_eq!(l.for_display().to_bytes(), strict.to_bytes());
    assert_eq!(l.into_checked().unwrap().to_bytes(), b);
}

#[test]
fn out_of_range_references_are_shown_with_one_problem() {
    let mut t = good();
    t[6] = 99; // PTR -> type 99
    t[4] = 1000; // PTR's name past the strings
    let b = blob(&t, STRS);
    let strict = Btf::parse(&b).unwrap_err();
    let l = parse_lenient(&b, None).unwrap();
    let p = l.problem().expect("a problem").clone();
    assert_eq!(p.type_id(), Some(2));
    assert_eq!(p.to_string(), strict.to_string());
    let btf = l.for_display();
    assert_eq!(btf.type_count(), 3);
    assert_eq!(btf.get(TypeId(2)).unwrap().ref_type(), Some(TypeId(99)));
    assert!(btf
        .str_bytes(btf.get(TypeId(2)).unwrap().name_off)
        .is_none());
    assert!(l.into_checked().is_err());
}

#[test]
fn record_rules_are_problems_not_errors() {
    // A vlen on a PTR, reserved info bits, reserved INT bits, a FWD with a size.
    let cases: [(usize, u32, &str); 4] = [
        (5, info(2, 3, false), "PTR type #2 has vlen 3"),
        (5, info(2, 0, false) | 0x0010_0000, "reserved info bits"),
        (3, 0x1100_0020, "reserved encoding bits"),
        (6, 7, "non-zero size/type word"),
    ];
    for (i, (word, v, msg)) in cases.into_iter().enumerate() {
        let mut t = good();
        if i == 3 {
            t[5] = info(7, 0, false);
            t[6] = 0;
        }
        t[word] = v;
        let b = blob(&t, STRS);
        assert!(Btf::parse(&b).is_err());
        let l = parse_lenient(&b, None).unwrap();
        let p = l.problem().expect("a problem");
        assert!(p.to_string().contains(msg), "{p}");
        assert_eq!(l.for_display().own_type_count(), 2);
    }
}

#[test]
fn the_first_problem_is_the_lowest_id() {
    let mut t = good();
    t[2] = 4;
    t.extend([0, info(2, 0, false), 77]); // [3] PTR -> 77
    t[5] = info(2, 1, false); // [2] PTR with a vlen
    let b = blob(&t, STRS);
    let p = parse_lenient(&b, None).unwrap().problem().cloned().unwrap();
    assert_eq!(p.type_id(), Some(2), "{p}");
    let mut t = good();
    t.extend([0, info(2, 0, false), 77]); // [3] PTR -> 77
    t.extend([0, info(2, 1, false), 1]); // [4] PTR with a vlen
    let p = parse_lenient(&blob(&t, STRS), None)
        .unwrap()
        .problem()
        .cloned()
        .unwrap();
    assert_eq!(p.type_id(), Some(3), "{p}");
}

#[test]
fn header_rules_libbpf_ignores_are_problems() {
    // Version 2, flags 1, a 32-byte header with a non-zero extension.
    let mut b = blob(&good(), STRS);
    b[2] = 2;
    let l = parse_lenient(&b, None).unwrap();
    assert!(l.problem().unwrap().to_string().contains("version 2"));
    let mut b = blob(&good(), STRS);
    b[3] = 1;
    assert!(parse_lenient(&b, None).unwrap().problem().is_some());
    let mut b = blob(&good(), STRS);
    b[4] = 32;
    b.splice(24..24, [1u8, 0, 0, 0, 0, 0, 0, 0]);
    let l = parse_lenient(&b, None).unwrap();
    assert!(l.problem().unwrap().to_string().contains("non-zero fields"));
    assert_eq!(l.for_display().own_type_count(), 2);
}

#[test]
fn what_libbpf_cannot_walk_is_refused() {
    let t = good();
    // Unknown kind, a record cut short, a string section without its NULs,
    // bad magic, strings past the end.
    let mut u = t.clone();
    u[5] = info(25, 0, false);
    assert!(parse_lenient(&blob(&u, STRS), None).is_err());
    let mut u = t.clone();
    u[1] = info(4, 5, false);
    assert!(parse_lenient(&blob(&u, STRS), None).is_err());
    assert!(parse_lenient(&blob(&t, b"\0int\0p"), None).is_err());
    let mut b = blob(&t, STRS);
    b[0] = 0;
    let e = parse_lenient(&b, None).unwrap_err().to_string();
    assert!(e.contains("invalid BTF magic: eb00"), "{e}");
    assert!(!e.contains("split"), "no split hint on a bad magic: {e}");
    assert!(!e.contains("eB9F"), "{e}");
    let mut b = blob(&t, STRS);
    b[20] = 200;
    assert!(parse_lenient(&b, None).is_err());
    assert!(parse_any_lenient(b"\x7fELF", None).is_err());
}

#[test]
fn one_split_hint_only_where_it_helps() {
    // Strings that do not start with NUL, and a reference past the own types.
    let b = blob(&good(), b"x\0int\0p\0");
    let e = Btf::parse(&b).unwrap_err().to_string();
    assert_eq!(e.matches("split BTF").count(), 1, "{e}");
    let mut t = good();
    t[6] = 50;
    let e = Btf::parse(&blob(&t, STRS)).unwrap_err().to_string();
    assert_eq!(e.matches("split BTF").count(), 1, "{e}");
    assert!(e.contains("btf-dump -B"), "{e}");
    // A record rule broken: not a split-BTF symptom, no hint.
    let mut t = good();
    t[5] = info(2, 2, false);
    let e = Btf::parse(&blob(&t, STRS)).unwrap_err().to_string();
    assert!(!e.contains("split"), "{e}");
    // With a base given, no hint.
    let base = std::sync::Arc::new(Btf::parse(&blob(&good(), STRS)).unwrap());
    let split = blob(&[0, info(2, 0, false), 40], b"");
    let e = Btf::parse_split(&split, base).unwrap_err().to_string();
    assert!(!e.contains("split BTF"), "{e}");
}
