//! Parses a BTF file and checks that writing it back gives the same bytes.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(2)
        .map(|b| std::sync::Arc::new(btf::load(b).unwrap()));
    let t = std::time::Instant::now();
    let data = std::fs::read(&args[1]).unwrap();
    let btf = btf::parse_any(&data, base).unwrap();
    println!("parsed {} types in {:?}", btf.type_count(), t.elapsed());
    let out = btf.to_bytes();
    let raw = if data.starts_with(b"\x7fELF") {
        btf::read::elf::section_data(&data, ".BTF")
            .unwrap()
            .unwrap()
            .into_owned()
    } else {
        data
    };
    println!("roundtrip equal: {}", out == raw);
}
