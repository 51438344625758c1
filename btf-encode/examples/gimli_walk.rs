//! The floor of any DWARF-to-BTF encoder: a bare gimli walk over every DIE
//! of a file, reading every attribute value, on the same threads btf-encode
//! uses (units spread over rayon's pool), with the same input mapping and section loading
//! (`btf_encode::elf::read`: relocations and decompression included).
//! `bench/encode.sh` times it beside btf-encode and pahole.
//!
//!     cargo run --release -p btf-encode --example gimli_walk -- FILE [-jN]

use rayon::prelude::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: gimli_walk FILE [-jN]");
        std::process::exit(2);
    };
    let jobs = args
        .next()
        .and_then(|a| a.strip_prefix("-j").map(|n| n.parse().unwrap_or(0)))
        .unwrap_or(1);
    // Mapped, as btf-encode maps its input (reading the whole file would
    // put the file's size into the floor's time and memory).
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    // SAFETY: a read-only mapping of a file this process does not write; a
    // concurrent truncation could fault, the risk every mmap reader takes.
    let data = unsafe { memmap2::Mmap::map(&file) }.unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    let info = btf_encode::elf::read(&data).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    let endian = match info.endian {
        btf::Endian::Little => gimli::RunTimeEndian::Little,
        btf::Endian::Big => gimli::RunTimeEndian::Big,
    };
    let load = |id: gimli::SectionId| -> Result<gimli::EndianSlice<'_, gimli::RunTimeEndian>, gimli::Error> {
        Ok(gimli::EndianSlice::new(info.section(id.name()).unwrap_or(&[]), endian))
    };
    let dwarf = gimli::Dwarf::load(load).expect("DWARF");
    let mut headers = Vec::new();
    let mut units = dwarf.units();
    while let Ok(Some(h)) = units.next() {
        headers.push(h);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .expect("threads");
    let (dies, attrs) = pool.install(|| {
        headers
            .par_iter()
            .map(|h| {
                let Ok(unit) = dwarf.unit(*h) else {
                    return (0u64, 0u64);
                };
                let (mut dies, mut attrs) = (0u64, 0u64);
                let mut cursor = unit.entries();
                while let Ok(Some((_, e))) = cursor.next_dfs() {
                    dies += 1;
                    let mut it = e.attrs();
                    while let Ok(Some(a)) = it.next() {
                        attrs += 1;
                        std::hint::black_box(a.value());
                    }
                }
                (dies, attrs)
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    println!("{} units, {dies} DIEs, {attrs} attributes", headers.len());
}
