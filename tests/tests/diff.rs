//! `btf_dump::diff`: structural comparison of two BTFs, ids and order aside.
//! Big inputs: run with `cargo test --release -p btfkit-tests --test diff`.

use std::time::Instant;

use btf::{Btf, Builder, Kind, TypeId};
use btf_dump::diff::{diff, Diff, Options};
use btfkit_tests::{oracle_file, SYS_VMLINUX, VMLINUX_61};

fn counts(d: &Diff, a: &Btf, b: &Btf) -> (usize, usize, usize) {
    d.counts(a, b, &Options::default())
}

fn report(d: &Diff, a: &Btf, b: &Btf, opts: &Options) -> String {
    let mut v = Vec::new();
    d.print(a, b, opts, &mut v).unwrap();
    String::from_utf8(v).unwrap()
}

/// A copy of `btf` with its own types in another order (a deterministic
/// pseudo-random permutation), every reference renumbered.
fn reordered(btf: &Btf, seed: u64) -> Btf {
    let n = btf.own_type_count();
    let start = btf.start_id();
    // Fisher-Yates with a fixed LCG: new position of each old index.
    let mut order: Vec<usize> = (0..n).collect();
    let mut x = seed;
    for i in (1..n).rev() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (x >> 33) as usize % (i + 1);
        order.swap(i, j);
    }
    // order[new] = old; new_id[old] = new.
    let mut new_id = vec![0u32; n];
    for (new, &old) in order.iter().enumerate() {
        new_id[old] = start + new as u32;
    }
    let mut b = Builder::from_btf(btf);
    let old_types = b.types().to_vec();
    for (slot, &old) in b.types_mut().iter_mut().zip(&order) {
        let mut t = old_types[old].clone();
        t.for_each_type_id_mut(|id| {
            if id.0 >= start {
                id.0 = new_id[(id.0 - start) as usize];
            }
        });
        *slot = t;
    }
    b.finish().unwrap()
}

#[test]
fn self_diff_is_empty() {
    let Some(p) = oracle_file(VMLINUX_61) else {
        return;
    };
    let a = btf::load(&p).unwrap();
    let d = diff(&a, &a);
    assert_eq!(counts(&d, &a, &a), (0, 0, 0));
    assert_eq!(
        report(&d, &a, &a, &Options::default()),
        "only_a=0 only_b=0 differ=0\n"
    );
}

#[test]
fn reordered_vmlinux_is_the_same() {
    let Some(p) = oracle_file(VMLINUX_61) else {
        return;
    };
    let a = btf::load(&p).unwrap();
    let b = reordered(&a, 7);
    assert_ne!(a.own_type_slice(), b.own_type_slice(), "the order changed");
    let d = diff(&a, &b);
    assert_eq!(counts(&d, &a, &b), (0, 0, 0));
}

#[test]
fn vmlinux_61_vs_running_kernel() {
    let (Some(pa), Some(pb)) = (oracle_file(VMLINUX_61), oracle_file(SYS_VMLINUX)) else {
        return;
    };
    let a = btf::load(&pa).unwrap();
    let b = btf::load(&pb).unwrap();
    let t = Instant::now();
    let d = diff(&a, &b);
    let took = t.elapsed();
    let (na, nb, nd) = counts(&d, &a, &b);
    eprintln!("6.1 vs running: only_a={na} only_b={nb} differ={nd} in {took:?}");
    // Different kernels: many changes, but most of the types are common.
    assert!(na > 0 && nb > 0 && nd > 0);
    assert!(
        na < a.own_type_count() / 2,
        "only_a={na} of {}",
        a.own_type_count()
    );
    assert!(nd < a.own_type_count() / 10);
    // task_struct changed between 6.1 and any later kernel.
    let ts = d
        .differ
        .iter()
        .find(|x| a.name_of(x.a) == "task_struct" && a.is_kind(x.a, Kind::Struct))
        .expect("task_struct differs");
    assert!(
        ts.changes.iter().any(|c| c.starts_with("member ")),
        "{:?}",
        ts.changes
    );
    // The report ends with the counts, and filtering by kind filters them.
    let text = report(&d, &a, &b, &Options::default());
    assert!(text.ends_with(&format!("only_a={na} only_b={nb} differ={nd}\n")));
    let only = Options {
        kinds: Some(vec![Kind::Struct]),
    };
    let (sa, sb, sd) = d.counts(&a, &b, &only);
    assert!(sa < na && sb < nb && sd <= nd && sd > 0);
    let text = report(&d, &a, &b, &only);
    for line in text
        .lines()
        .filter(|l| l.starts_with("only_") && l.contains(": ["))
    {
        assert!(line.contains("] STRUCT '"), "{line}");
    }
    // Deterministic.
    assert_eq!(text, report(&diff(&a, &b), &a, &b, &only));
}

/// int, a struct `pair` with two members, a pointer to it, a typedef.
fn small(second_type_long: bool, extra: bool) -> Btf {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, btf::types::INT_SIGNED);
    let long = b.add_int("long", 8, btf::types::INT_SIGNED);
    let second = if second_type_long { long } else { int };
    let pair = b.add_struct("pair", 16, &[("a", int, 0), ("b", second, 64)]);
    let p = b.add_ptr(pair);
    b.add_typedef("pair_p", p);
    if extra {
        b.add_struct("extra", 4, &[("x", int, 0)]);
    }
    b.finish().unwrap()
}

#[test]
fn one_member_changed_is_one_differ() {
    let a = small(false, false);
    let b = small(true, false);
    let d = diff(&a, &b);
    assert_eq!(counts(&d, &a, &b), (0, 0, 1));
    let x = &d.differ[0];
    assert_eq!(a.name_of(x.a), "pair");
    assert_eq!(x.changes, vec!["member 'b' type INT 'int' -> INT 'long'"]);
    let text = report(&d, &a, &b, &Options::default());
    assert!(
        text.contains("differ: STRUCT 'pair' (a [3], b [3])\n\tmember 'b' type"),
        "{text}"
    );
    assert!(text.ends_with("only_a=0 only_b=0 differ=1\n"));
}

#[test]
fn one_added_struct_is_only_b() {
    let a = small(false, false);
    let b = small(false, true);
    let d = diff(&a, &b);
    assert_eq!(counts(&d, &a, &b), (0, 1, 0));
    assert_eq!(b.name_of(d.only_b[0]), "extra");
    // And the other way round.
    let d = diff(&b, &a);
    assert_eq!(counts(&d, &b, &a), (1, 0, 0));
}

#[test]
fn reordered_small_is_the_same() {
    let a = small(true, true);
    for seed in 0..20 {
        let b = reordered(&a, seed);
        assert_eq!(counts(&diff(&a, &b), &a, &b), (0, 0, 0), "seed {seed}");
    }
}

#[test]
fn anonymous_types_match_by_structure() {
    // The same anonymous struct reached through a typedef, in two id orders.
    let build = |flip: bool| {
        let mut b = Builder::new();
        let int = b.add_int("int", 4, btf::types::INT_SIGNED);
        if flip {
            b.add_ptr(int);
        }
        let anon = b.add_struct("", 8, &[("x", int, 0), ("y", int, 32)]);
        b.add_typedef("point", anon);
        if !flip {
            b.add_ptr(int);
        }
        b.finish().unwrap()
    };
    let (a, b) = (build(false), build(true));
    assert_eq!(counts(&diff(&a, &b), &a, &b), (0, 0, 0));
    // A different anonymous struct is only_a and only_b; the typedef's
    // target changed, so the typedef differs.
    let mut c = Builder::new();
    let int = c.add_int("int", 4, btf::types::INT_SIGNED);
    let anon = c.add_struct("", 8, &[("x", int, 0), ("z", int, 32)]);
    c.add_typedef("point", anon);
    c.add_ptr(int);
    let c = c.finish().unwrap();
    let d = diff(&a, &c);
    assert_eq!(counts(&d, &a, &c), (1, 1, 1));
    assert_eq!(d.differ[0].a, TypeId(3));
}

#[test]
fn self_referential_structs_terminate() {
    // struct node { struct node *next; } and a pointer loop through an
    // anonymous struct (hand-made: compilers do not produce it).
    let mut b = Builder::new();
    let int = b.add_int("int", 4, btf::types::INT_SIGNED);
    let node_ptr = b.add_ptr(TypeId(3));
    b.add_struct("node", 8, &[("next", node_ptr, 0)]);
    let anon_ptr = b.add_ptr(TypeId(5));
    b.add_struct("", 16, &[("self", anon_ptr, 0), ("v", int, 64)]);
    let a = b.finish().unwrap();
    let d = diff(&a, &a);
    assert_eq!(counts(&d, &a, &a), (0, 0, 0));
}
