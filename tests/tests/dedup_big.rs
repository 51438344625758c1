//! The large input: 20 copies of the Debian 6.1 vmlinux BTF appended into one
//! blob with libbpf's `btf__add_btf` (about 1.9 million types). Our output is
//! byte-identical to libbpf's, and the same at 1 and 2 threads.
//! Slow in a debug build: run with `cargo test --release`.

mod dedup_support;

use btfkit_tests::{oracle_file, VMLINUX_61};
use dedup_support::*;

#[test]
fn twenty_copies_match_libbpf_at_1_and_2_threads() {
    let Some(v) = oracle_file(VMLINUX_61) else {
        return;
    };
    if harness().is_none() {
        return;
    }
    let blob = tempdir().join(format!("vmlinux-x20-{}.btf", unique()));
    let h = harness().unwrap();
    let st = std::process::Command::new(&h)
        .args(["concat", "20"])
        .arg(&v)
        .arg(&blob)
        .status()
        .expect("run harness");
    assert!(st.success(), "harness concat failed");
    let libbpf = run_harness(&[blob.as_path()], "dedup", false).expect("libbpf dedup");
    let nr = btf::Btf::parse(&libbpf)
        .expect("libbpf output parses")
        .type_count()
        - 1;
    assert_eq!(nr, 101_832, "libbpf's type count");
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let ours = pool
            .install(|| btf_dedup::dedup_file(&blob, None, &Default::default()))
            .expect("we dedup the 20 copies");
        assert!(
            ours == libbpf,
            "{threads} threads: output differs from libbpf"
        );
    }
    let _ = std::fs::remove_file(&blob);
}
