//! `cargo bench -p btf`: parse, verify and write alone, on the running kernel's
//! BTF (falls back to the Debian 6.1 vmlinux `.BTF` when /sys has none).

use criterion::{criterion_group, criterion_main, Criterion};

fn input() -> Option<Vec<u8>> {
    for p in [
        "/sys/kernel/btf/vmlinux",
        "/usr/lib/debug/boot/vmlinux-6.1.0-50-cloud-amd64",
    ] {
        if let Ok(data) = btf::read::file::read_file(p.as_ref()) {
            if let Ok(raw) = btf::read::raw_btf_bytes(&data) {
                return Some(raw.into_owned());
            }
        }
    }
    None
}

fn bench(c: &mut Criterion) {
    let Some(raw) = input() else {
        eprintln!("no vmlinux BTF to benchmark");
        return;
    };
    let btf = btf::Btf::parse(&raw).expect("vmlinux BTF parses");
    let mut g = c.benchmark_group("vmlinux");
    g.sample_size(20);
    g.bench_function("parse", |b| {
        b.iter(|| btf::Btf::parse(&raw).map(|b| b.own_type_count()))
    });
    g.bench_function("verify", |b| {
        b.iter(|| btf::verify::verify_raw(&raw, None).is_ok())
    });
    g.bench_function("write", |b| b.iter(|| btf.to_bytes().len()));
    g.bench_function("name_index", |b| b.iter(|| btf::NameIndex::new(&btf).len()));
    let index = btf::NameIndex::new(&btf);
    g.bench_function("name_index_lookup_1000", |b| {
        let names: Vec<Vec<u8>> = btf
            .types()
            .step_by((btf.type_count() as usize / 1000).max(1))
            .filter_map(|(_, t)| btf.str_bytes(t.name_off).map(<[u8]>::to_vec))
            .collect();
        b.iter(|| {
            names
                .iter()
                .filter_map(|n| index.find_any(&btf, n.as_slice()))
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
