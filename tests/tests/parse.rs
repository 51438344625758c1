//! Parser, writer and builder behaviour on small built inputs: round trips,
//! split BTF, byte orders, and clear errors (never a panic) on bad input.

use std::sync::Arc;

use btf::{Btf, Builder, Endian, Kind, NameIndex, TypeId};

fn sample() -> Btf {
    btfkit_tests::every_kind()
}

#[test]
fn every_kind_roundtrips() {
    let btf = sample();
    let bytes = btf.to_bytes();
    let back = Btf::parse(&bytes).unwrap();
    assert_eq!(back.own_type_slice(), btf.own_type_slice());
    assert_eq!(back.to_bytes(), bytes);
    let kinds: Vec<Kind> = back.types().map(|(_, t)| t.kind()).collect();
    for k in 1..=Kind::MAX {
        assert!(
            kinds.contains(&Kind::from_u8(k).unwrap()),
            "kind {k} missing"
        );
    }
}

#[test]
fn big_endian_roundtrips() {
    let mut btf = sample();
    btf.set_endian(Endian::Big);
    let bytes = btf.to_bytes();
    assert_eq!(&bytes[..2], &[0xeb, 0x9f]);
    let back = Btf::parse(&bytes).unwrap();
    assert_eq!(back.endian(), Endian::Big);
    assert_eq!(back.to_bytes(), bytes);
}

#[test]
fn split_ids_and_strings_continue_from_base() {
    let base = Arc::new(sample());
    let mut b = Builder::new_split(base.clone());
    let int = NameIndex::new(&base).find(&base, "int", Kind::Int).unwrap();
    // A string the base has is not added again.
    assert_eq!(b.add_str("int"), base.get(int).unwrap().name_off);
    let p = b.add_ptr(int);
    assert_eq!(p.0, base.type_count());
    let s = b.add_struct("only_in_split", 8, &[("p", p, 0)]);
    let split = b.finish().unwrap();
    let bytes = split.to_bytes();
    let back = Btf::parse_split(&bytes, base.clone()).unwrap();
    assert_eq!(back.name_of(s), "only_in_split");
    assert_eq!(back.name_of(int), "int");
    assert_eq!(back.to_bytes(), bytes);
    // Without its base, split BTF is refused with a hint.
    let err = Btf::parse(&bytes).unwrap_err().to_string();
    assert!(err.contains("base"), "{err}");
}

#[test]
fn sizes_and_alignment() {
    let btf = sample();
    let idx = NameIndex::new(&btf);
    let s = idx.find(&btf, "s", Kind::Struct).unwrap();
    assert_eq!(btf.resolve_size(s, 8).unwrap(), 32);
    assert_eq!(btf.align_of(s, 8).unwrap(), 8);
    let td = idx.find(&btf, "td", Kind::Typedef).unwrap();
    assert_eq!(btf.skip_mods(td, true), s);
    assert!(btf.resolve_size(TypeId::VOID, 8).is_err());
}

#[test]
fn truncations_and_corruptions_error_cleanly() {
    let bytes = sample().to_bytes();
    // The header's section sizes cover the whole blob: every strict prefix
    // is rejected, with a message and the byte offset it concerns.
    for len in 0..bytes.len() {
        match Btf::parse(&bytes[..len]) {
            Ok(_) => panic!("a blob truncated to {len} of {} bytes parses", bytes.len()),
            Err(e) => {
                assert!(!e.message().is_empty(), "empty message at length {len}");
                assert!(e.offset().is_some(), "no offset at length {len}: {e}");
            }
        }
    }
    assert!(Btf::parse(&bytes).is_ok());
    // Deterministic byte flips: every outcome is Ok or an Err with a message,
    // and some are rejected.
    let (mut rejected, mut accepted) = (0, 0);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut m = bytes.clone();
        let pos = (state as usize) % m.len();
        m[pos] ^= (state >> 32) as u8 | 1;
        match Btf::parse(&m) {
            Ok(btf) => {
                accepted += 1;
                // Whatever parses also writes and resolves without panicking.
                let _ = btf.to_bytes();
                for (id, _) in btf.types() {
                    let _ = btf.resolve_size(id, 8);
                    let _ = btf.align_of(id, 8);
                }
            }
            Err(e) => {
                rejected += 1;
                assert!(!e.message().is_empty(), "an error without a message");
            }
        }
    }
    assert!(
        rejected > 1000 && accepted > 1000,
        "{rejected} flips rejected, {accepted} accepted"
    );
}

#[test]
fn errors_name_offsets() {
    let mut bytes = sample().to_bytes();
    bytes[0] = 0;
    let e = Btf::parse(&bytes).unwrap_err();
    assert_eq!(e.offset(), Some(0));
    assert!(e.to_string().contains("magic"));
    let bytes = sample().to_bytes();
    let e = Btf::parse(&bytes[..30]).unwrap_err();
    assert!(e.to_string().contains("past the end"), "{e}");
}

#[test]
fn newer_header_is_a_clear_error() {
    let bytes = sample().to_bytes();
    // A 32-byte header with a non-zero field past the known 24 bytes.
    let mut m = bytes[..24].to_vec();
    m[4] = 32;
    m.extend_from_slice(&[0, 0, 0, 0, 8, 0, 0, 0]);
    m.extend_from_slice(&bytes[24..]);
    let e = Btf::parse(&m).unwrap_err().to_string();
    assert!(e.contains("newer BTF format"), "{e}");
}

/// The parser is never stricter than the kernel: whatever the verifier
/// accepts, the parser reads (and writes back unchanged).
#[test]
fn parser_reads_whatever_the_verifier_accepts() {
    let bytes = sample().to_bytes();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut accepted = 0;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut m = bytes.clone();
        let pos = (state as usize) % m.len();
        m[pos] ^= 1 << ((state >> 40) % 8);
        if btf::verify::verify_raw(&m, None).is_ok() {
            accepted += 1;
            let btf =
                Btf::parse(&m).unwrap_or_else(|e| panic!("verifier accepts, parser refuses: {e}"));
            assert_eq!(btf.to_bytes(), m);
        }
    }
    assert!(accepted > 100, "only {accepted} mutations accepted");
}
