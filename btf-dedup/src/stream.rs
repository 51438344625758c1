//! Dedup of non-split BTF fed unit by unit, while the input is still being
//! produced ([`Stream`]); see docs/ARCHITECTURE.md, "Streaming", for why
//! each pass run here on a prefix decides as libbpf does on the whole.

use btf::{Btf, Endian, Error, Result};

use crate::engine::Dedup;
use crate::flat::Table;

const UNSET: u32 = u32::MAX;
const EMPTY: u32 = u32::MAX;

/// The string pass, one prefix at a time: libbpf's first-use order.
///
/// An encoder that interns each string once, as its types first use it
/// (btf-encode does), hands over a section the pass leaves as it is. While
/// that holds (`ident`), the pass only checks it: a string met again starts
/// where an earlier one did (a bit per byte), a new one starts where the
/// last new one ended and is not equal to any earlier (the hash set), and
/// nothing is copied or rewritten. The first reference that breaks it
/// turns the checked prefix into the mapped state and the pass goes on
/// mapping, so the result is the same either way.
struct Strings {
    /// The input's string section so far.
    input: Vec<u8>,
    /// New offset of each input offset already met (`UNSET` otherwise);
    /// empty while `ident`.
    fin: Vec<u32>,
    /// The new section: each distinct string once, in first-use order; while
    /// `ident`, `input[..ident_end]` instead.
    out: Vec<u8>,
    /// Open-addressing set of the strings of the new section (their offsets).
    slots: Vec<u32>,
    len: usize,
    /// Every reference so far maps to itself. Then the input is empty or
    /// starts with "" ([`Stream::push`] leaves the mode otherwise).
    ident: bool,
    /// While `ident`: the end of the strings met so far, and a bit per input
    /// byte set where one of them starts.
    ident_end: usize,
    starts: Vec<u64>,
}

/// The string at `off` of `b` and whether its NUL is in `b` (else the
/// string runs to the end).
fn string_at(b: &[u8], off: u32) -> (&[u8], bool) {
    let rest = b.get(off as usize..).unwrap_or(&[]);
    match rest.iter().position(|&c| c == 0) {
        Some(n) => (rest.get(..n).unwrap_or(&[]), true),
        None => (rest, false),
    }
}

fn str_at(b: &[u8], off: u32) -> &[u8] {
    string_at(b, off).0
}

/// The string at `off` of the input so far, or an error if its terminating
/// NUL has not come yet (a piece may only use whole strings: the rest of
/// the string could still change what it is).
fn input_str(b: &[u8], off: u32) -> Result<&[u8]> {
    match string_at(b, off) {
        (s, true) => Ok(s),
        (_, false) => Err(Error::new(format!(
            "string at offset {off} is not terminated within the strings given so far"
        ))),
    }
}

fn str_hash(s: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    btf::hash::FastBuild::default().hash_one(s)
}

impl Strings {
    fn new() -> Strings {
        let mut s = Strings {
            input: Vec::new(),
            fin: Vec::new(),
            out: Vec::new(),
            slots: vec![EMPTY; 1024],
            len: 0,
            ident: true,
            ident_end: 1,
            starts: Vec::new(),
        };
        // Base BTF: "" at offset 0.
        s.out.push(0);
        s.insert(0);
        s
    }

    /// The new section's bytes so far.
    fn section(&self) -> &[u8] {
        if self.ident {
            &self.input
        } else {
            &self.out
        }
    }

    /// While `ident`: whether input offset `off` maps to itself, taking in a
    /// new string that starts at the end of those met. Leaves `ident` mode
    /// (see [`Strings::leave_ident`]) and returns `false` otherwise.
    fn same(&mut self, off: u32) -> Result<bool> {
        let o = off as usize;
        if off == 0 {
            return Ok(true);
        }
        if self
            .starts
            .get(o / 64)
            .is_some_and(|w| w >> (o % 64) & 1 != 0)
        {
            return Ok(true);
        }
        if o == self.ident_end {
            let s = input_str(&self.input, off)?;
            if self.find(s).is_none() {
                let end = o + s.len() + 1;
                if self.starts.len() < end.div_ceil(64) {
                    self.starts.resize(end.div_ceil(64), 0);
                }
                if let Some(w) = self.starts.get_mut(o / 64) {
                    *w |= 1 << (o % 64);
                }
                self.ident_end = end;
                self.insert(off);
                return Ok(true);
            }
        }
        self.leave_ident();
        Ok(false)
    }

    /// Turns the checked prefix into the mapping state: the new section is
    /// the strings met so far, each mapped to itself.
    fn leave_ident(&mut self) {
        if !self.ident {
            return;
        }
        // The strings taken in, after the "" the input starts with; just
        // "" (the initial section) when there are none.
        self.out = match self.input.get(..self.ident_end) {
            Some(met) if self.ident_end > 1 => met.to_vec(),
            _ => vec![0],
        };
        self.fin = vec![UNSET; self.input.len()];
        for (i, &w) in self.starts.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                let o = i * 64 + w.trailing_zeros() as usize;
                if let Some(f) = self.fin.get_mut(o) {
                    *f = o as u32;
                }
                w &= w - 1;
            }
        }
        self.starts = Vec::new();
        self.ident = false;
    }

    /// The new section, once every piece is in.
    fn into_section(mut self) -> Vec<u8> {
        if self.ident {
            if self.input.is_empty() {
                return vec![0];
            }
            self.input.truncate(self.ident_end);
            self.input
        } else {
            self.out
        }
    }

    fn insert(&mut self, off: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            let cap = self.slots.len() * 2;
            let old = std::mem::replace(&mut self.slots, vec![EMPTY; cap]);
            self.len = 0;
            for o in old.into_iter().filter(|&o| o != EMPTY) {
                self.place(o);
            }
        }
        self.place(off);
    }

    fn place(&mut self, off: u32) {
        let mask = self.slots.len() - 1;
        let mut i = str_hash(str_at(self.section(), off)) as usize & mask;
        while let Some(slot) = self.slots.get_mut(i) {
            if *slot == EMPTY {
                *slot = off;
                self.len += 1;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn find(&self, s: &[u8]) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut i = str_hash(s) as usize & mask;
        loop {
            let o = *self.slots.get(i)?;
            if o == EMPTY {
                return None;
            }
            if str_at(self.section(), o) == s {
                return Some(o);
            }
            i = (i + 1) & mask;
        }
    }

    /// The new offset of input offset `off` (in range: checked before).
    fn map(&mut self, off: u32) -> Result<u32> {
        if off == 0 {
            return Ok(0);
        }
        if let Some(&v) = self.fin.get(off as usize) {
            if v != UNSET {
                return Ok(v);
            }
        }
        let s = input_str(&self.input, off)?;
        let v = match self.find(s) {
            Some(v) => v,
            None => {
                let v = self.out.len() as u32;
                self.out.extend_from_slice(s);
                self.out.push(0);
                self.insert(v);
                v
            }
        };
        if let Some(f) = self.fin.get_mut(off as usize) {
            *f = v;
        }
        Ok(v)
    }
}

/// Deduplication of non-split BTF whose types arrive in pieces, in id
/// order, each referring only to itself and earlier types (an encoder's
/// units: btf-encode feeds it batch by batch while it encodes the next).
/// The strings, prim and struct passes run on each piece as it comes;
/// the rest at [`Stream::finish`]. The result is [`crate::dedup`]'s on the
/// whole input, byte for byte: where a per-piece decision could differ
/// (two equivalent struct candidates, whose order is not known yet), the
/// stream gives up and the passes run on the whole input at the end.
pub struct Stream {
    d: Dedup,
    strs: Strings,
    /// Whether the prim and struct passes still run per piece.
    live: bool,
    /// The first id not yet through the prim and struct passes.
    done: u32,
}

impl Default for Stream {
    fn default() -> Self {
        Stream::new()
    }
}

impl Stream {
    /// An empty stream (no base).
    pub fn new() -> Stream {
        Stream {
            d: Dedup::new(Table::new(), 1),
            strs: Strings::new(),
            live: true,
            done: 1,
        }
    }

    /// Adds the next type records (native words, whole records, ids going
    /// on from the last piece's) and the bytes the string section grew by
    /// (the section so far is the concatenation of all pieces' `strings`).
    /// Every type id a record holds must be below the end of this piece,
    /// every string it names must lie whole, NUL included, in the strings
    /// so far: an error otherwise (and the stream is not to be used again).
    pub fn push(&mut self, words: &[u32], strings: &[u8]) -> Result<()> {
        self.strs.input.extend_from_slice(strings);
        if self.strs.ident && self.strs.input.first().is_some_and(|&c| c != 0) {
            self.strs.leave_ident();
        }
        if !self.strs.ident {
            self.strs.fin.resize(self.strs.input.len(), UNSET);
        }
        let first_id = self.d.t.count();
        let first = self.d.t.words.len();
        self.d.t.words.extend_from_slice(words);
        self.d.t.index_from(first, 0)?;
        let str_len = u32::try_from(self.strs.input.len())
            .map_err(|_| Error::new("string section too large"))?;
        self.d.t.check_refs(first_id, str_len)?;
        // Strings of the new types, in id order: libbpf's first-use order.
        let end = self.d.t.count();
        let mut slots = Vec::new();
        for id in first_id..end {
            slots.clear();
            self.d
                .t
                .for_each_str_off(id, |at, off| slots.push((at, off)));
            for &(at, off) in &slots {
                let named = |e: Error| e.with_type(id);
                if self.strs.ident && self.strs.same(off).map_err(named)? {
                    continue;
                }
                let v = self.strs.map(off).map_err(named)?;
                self.d.t.set_w(at, v);
            }
        }
        self.d.grow();
        if self.live {
            self.advance()?;
        }
        Ok(())
    }

    /// The prim and struct passes over the types not through them yet.
    fn advance(&mut self) -> Result<()> {
        let end = self.d.t.count();
        if !self.d.shapes_grow() {
            self.live = false;
            return Ok(());
        }
        self.d.prim_range(self.done, end);
        if !self.d.struct_range_stream(self.done, end)? {
            self.live = false;
            return Ok(());
        }
        self.done = end;
        Ok(())
    }

    /// Whether the per-piece passes gave up (the whole input is then
    /// deduplicated at [`Stream::finish`]); for tests and timing.
    pub fn gave_up(&self) -> bool {
        !self.live
    }

    /// The last piece ([`Stream::push`]'s rules), then the remaining passes;
    /// the result in byte order `endian`.
    pub fn finish(mut self, endian: Endian, words: &[u32], strings: &[u8]) -> Result<Btf> {
        self.push(words, strings)?;
        btf::format::check_str_section(&self.strs.input, false, 0)?;
        let timing = std::env::var_os("BTF_DEDUP_TIMING").is_some_and(|v| v == "1");
        let clock = std::time::Instant::now();
        let Stream { d, strs, live, .. } = self;
        let out = strs.into_section();
        let (words, out) = if live {
            let mut d = d;
            d.resolve_fwds()?;
            d.ref_types()?;
            let (w, _) = d.compact_remap()?;
            (w, out)
        } else {
            // The strings were rewritten to `out` (first-use order, each
            // once): the string pass on them is the identity, so the
            // one-shot passes on them give the result on the input.
            let table = d.t;
            let header = btf::format::Header::canonical(
                endian,
                4 * (table.words.len() as u32 - 3),
                out.len() as u32,
            );
            let input = crate::Input {
                table,
                start_id: 1,
                base: None,
                own_strs: out,
                header,
            };
            let (_, w, s) = crate::run(input, &crate::Options::default())?;
            (w, s)
        };
        if timing {
            eprintln!(
                "btf-dedup: stream finish ({}): {:.1} ms",
                if live {
                    "streamed"
                } else {
                    "gave up, one-shot"
                },
                clock.elapsed().as_secs_f64() * 1e3
            );
        }
        btf::read::raw::from_words(endian, None, &words, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `info` of a record of `kind` with `vlen` entries.
    fn k(kind: u32, vlen: u32) -> u32 {
        kind << 24 | vlen
    }

    /// A unit with an INT, a struct `foo` of two members, a pointer and an
    /// enum fwd, its names (int, foo, a, next, e) at the given offsets.
    fn unit1([int, foo, a, next, e]: [u32; 5]) -> Vec<u32> {
        [
            vec![int, k(1, 0), 4, 1 << 24 | 32],
            vec![foo, k(4, 2), 16, a, 1, 0, next, 3, 64],
            vec![0, k(2, 0), 2],
            vec![e, k(6, 0), 4],
        ]
        .concat()
    }

    /// The same struct again (its pointer member through a FWD), and the
    /// enum in full.
    fn unit2([int, foo, a, next, e]: [u32; 5]) -> Vec<u32> {
        [
            vec![int, k(1, 0), 4, 1 << 24 | 32],
            vec![foo, k(4, 2), 16, a, 5, 0, next, 9, 64],
            vec![0, k(2, 0), 8],
            vec![foo, k(7, 0), 0],
            vec![0, k(2, 0), 8],
            vec![e, k(6, 1), 4, a, 0],
            vec![0, k(2, 0), 10],
        ]
        .concat()
    }

    /// The one-shot dedup of the two units and `strs` as one blob.
    fn one_shot(u1: &[u32], u2: &[u32], strs: &[u8]) -> Vec<u8> {
        let mut blob = Vec::new();
        let all = [u1, u2].concat();
        btf::format::Header::canonical(Endian::Little, 4 * all.len() as u32, strs.len() as u32)
            .write(&mut blob);
        blob.extend(all.iter().flat_map(|w| w.to_le_bytes()));
        blob.extend_from_slice(strs);
        crate::dedup_raw(&blob, None, &crate::Options::default()).unwrap()
    }

    /// Two units with the same struct (one through a FWD), an enum fwd and
    /// its full enum, fed unit by unit: the one-shot dedup's bytes.
    #[test]
    fn units_streamed_equal_one_shot() {
        let strs = b"\0int\0foo\0a\0next\0e\0".to_vec();
        let names = [1, 5, 9, 11, 16];
        let (u1, u2) = (unit1(names), unit2(names));
        let expect = one_shot(&u1, &u2, &strs);
        let mut st = Stream::new();
        // The second piece brings no new strings.
        st.push(&u1, &strs).unwrap();
        st.push(&u2, &[]).unwrap();
        assert!(!st.gave_up());
        let got = st.finish(Endian::Little, &[], &[]).unwrap();
        assert_eq!(got.to_bytes(), expect);
        // A string offset past the strings given so far is an error, and so
        // is one whose NUL has not come yet ("fo" of "foo").
        assert!(Stream::new().push(&u1, &strs[..3]).is_err());
        let int_foo = [5, k(1, 0), 4, 1 << 24 | 32];
        let e = Stream::new().push(&int_foo, &strs[..7]).unwrap_err();
        assert!(e.to_string().contains("not terminated"), "{e}");
        assert!(Stream::new().push(&int_foo, &strs[..9]).is_ok());
    }

    /// The two units with the names at the given offsets of `strs`, the
    /// strings split over the two pieces at `split`: the stream's bytes are
    /// the one-shot dedup's.
    fn streamed_equals_one_shot(strs: &[u8], names: [[u32; 5]; 2], split: usize) {
        let (u1, u2) = (unit1(names[0]), unit2(names[1]));
        let expect = one_shot(&u1, &u2, strs);
        let mut st = Stream::new();
        st.push(&u1, &strs[..split]).unwrap();
        st.push(&u2, &strs[split..]).unwrap();
        let got = st.finish(Endian::Little, &[], &[]).unwrap();
        assert_eq!(
            got.to_bytes(),
            expect,
            "{:?}",
            String::from_utf8_lossy(strs)
        );
    }

    /// Strings in first-use order pass unchanged; out of order, repeated,
    /// referred to in the middle, or never referred to, they are mapped (from
    /// the first reference that is not its own image on), as one-shot.
    #[test]
    fn string_sections_of_every_order() {
        let first_use = b"\0int\0foo\0a\0next\0e\0";
        let n = [1, 5, 9, 11, 16];
        streamed_equals_one_shot(first_use, [n, n], first_use.len());
        streamed_equals_one_shot(first_use, [[1, 5, 1, 5, 1], n], 9);
        // Reversed.
        let rev = b"\0e\0next\0a\0foo\0int\0";
        let r = [14, 10, 8, 3, 1];
        streamed_equals_one_shot(rev, [r, r], rev.len());
        // "int" twice; the second unit's names after its own copy.
        let dup = b"\0int\0foo\0a\0next\0e\0int\0foo\0";
        streamed_equals_one_shot(dup, [n, [18, 22, 9, 11, 16]], 18);
        // A name in the middle of another ("nt" of "int"), and an unused one.
        let mid = b"\0int\0foo\0a\0next\0e\0unused\0";
        streamed_equals_one_shot(mid, [n, [1, 5, 2, 11, 16]], mid.len());
        // Where the break comes in the first piece.
        streamed_equals_one_shot(rev, [n.map(|_| 1), r], 6);
    }
}
