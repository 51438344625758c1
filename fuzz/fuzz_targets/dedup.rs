//! Fuzz target: parse + dedup of arbitrary bytes, as base BTF and as split
//! BTF on a small fixed base. Must never panic, hang or overflow the stack;
//! whatever it outputs must parse again, and two runs must agree. The same
//! input fed to the streaming dedup (`btf_dedup::Stream`, in two pieces
//! when a record boundary allows) must give the one-shot bytes.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;

fn base() -> &'static Arc<btf::Btf> {
    static B: OnceLock<Arc<btf::Btf>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = btf::Builder::new();
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        let p = b.add_ptr(int);
        b.add_struct("s", 16, &[("a", int, 0), ("p", p, 64)]);
        b.add_fwd("f", false);
        Arc::new(b.finish().expect("base builds"))
    })
}

fuzz_target!(|data: &[u8]| {
    let opts = btf_dedup::Options::default();
    if let Ok(out) = btf_dedup::dedup_raw(data, None, &opts) {
        btf::Btf::parse(&out).expect("output parses");
        // Deterministic: the same input gives the same bytes.
        let again = btf_dedup::dedup_raw(data, None, &opts).expect("second run");
        assert_eq!(again, out, "dedup is not deterministic");
    }
    if let Ok(out) = btf_dedup::dedup_raw(data, None, &opts) {
        if let Some(streamed) = streamed(data) {
            // The stream returns the model (`Btf`), which writes fields a
            // kind does not use (an ARRAY's size word) as 0.
            let model = btf::Btf::parse(&out).expect("output parses").to_bytes();
            assert_eq!(
                streamed, model,
                "the stream differs from the one-shot dedup"
            );
        }
    }
    if let Ok(out) = btf_dedup::dedup_raw(data, Some(base()), &opts) {
        btf::Btf::parse_split(&out, base().clone()).expect("split output parses");
    }
});

/// The stream's bytes for a raw blob (`None` where the stream refuses the
/// input: a piece may refer only to itself and earlier pieces).
fn streamed(data: &[u8]) -> Option<Vec<u8>> {
    use btf::format::Words;
    let h = btf::format::Header::parse(data).ok()?;
    let section = |start: u64, len: u32| {
        let start = usize::try_from(start).ok()?;
        data.get(start..start.checked_add(len as usize)?)
    };
    let types = btf::format::ByteWords::new(section(h.type_start(), h.type_len)?, h.endian);
    let strs = section(h.str_start(), h.str_len)?;
    let words: Vec<u32> = (0..types.len_words())
        .filter_map(|i| types.word(i))
        .collect();
    // Two pieces, split at the middle record and the middle of the strings;
    // one piece when the stream refuses the first (a reference past it, or
    // a string cut at the split).
    let mut offs = Vec::new();
    btf::format::walk_records(words.as_slice(), 0, 0, |o| {
        offs.push(o);
        Ok(())
    })
    .ok()?;
    let split = offs.get(offs.len() / 2).copied().unwrap_or(words.len());
    let half = strs.len() / 2;
    let mut st = btf_dedup::Stream::new();
    let (first, rest) = words.split_at(split.min(words.len()));
    let two = st.push(first, &strs[..half]).is_ok();
    let out = if two {
        st.finish(h.endian, rest, &strs[half..]).ok()?
    } else {
        let mut st = btf_dedup::Stream::new();
        st.push(&words, strs).ok()?;
        st.finish(h.endian, &[], &[]).ok()?
    };
    Some(out.to_bytes())
}
