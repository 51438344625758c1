//! Loads a BTF file (raw, ELF, zstd, sysfs), reports the parse time, and checks
//! that writing it back gives the bytes it was read from.
//!
//! `cargo run --release --example roundtrip -- FILE [BASE]`
use std::sync::Arc;

fn main() -> Result<(), btf::Error> {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: roundtrip FILE [BASE]");
        std::process::exit(2);
    };
    let base = match args.get(2) {
        Some(b) => Some(Arc::new(btf::load(b)?)),
        None => None,
    };
    let t = std::time::Instant::now();
    let btf = btf::load_with_base(path, base)?;
    println!("parsed {} types in {:?}", btf.type_count(), t.elapsed());
    let data = btf::read::file::read_file(path.as_ref())?;
    let raw = btf::read::raw_btf_bytes(&data)?;
    println!("roundtrip equal: {}", btf.to_bytes() == *raw);
    Ok(())
}
