//! The 6.1 kfunc rules on the Debian 6.1 vmlinux's BTF (no running 6.1
//! kernel to ask; the rules are 6.1's `btf_check_func_arg_match`): the
//! `KF_KPTR_GET` rule of `bpf_kfunc_call_test_kptr_get` (first argument a map
//! value pointer at the offset of a referenced kptr of the right type), 6.1's
//! `KF_TRUSTED_ARGS` (referenced pointers only) and its program types; and
//! the 6.1 kfunc table against the vmlinux's `.BTF_ids`.

use std::collections::BTreeSet;

use btf::{Builder, Kind, TypeId};
use btf_match::btf_ids::BtfIds;
use btf_match::kfunc::{check_call, Arg, MapKptr};
use btf_match::progs::{kfunc_sets, Prog, ProgType};
use btf_match::{check_map_value, Kernel, MapSpec, MapType, Version};

fn kernel() -> Option<Kernel> {
    let p = btfkit_tests::oracle_file(btfkit_tests::VMLINUX_61)?;
    let k = Kernel::from_path(p.to_str()?, None).expect("6.1 vmlinux");
    assert_eq!(k.version, Version::V6_1);
    Some(k)
}

fn id(k: &Kernel, name: &str) -> TypeId {
    k.find(name, Kind::Struct)
        .unwrap_or_else(|| panic!("no struct {name}"))
}

/// `struct v { long a; struct prog_test_ref_kfunc <tag> *p; struct
/// prog_test_member <tag> *t; }` (both with 6.1 destructors) through the 6.1 map-value check: the field table
/// a loader hands to the kfunc check.
fn map_value(k: &Kernel, tag: &str) -> btf_match::Record {
    let mut b = Builder::new();
    let int = b.add_int("int", 4, 1);
    let long = b.add_int("long", 8, 1);
    let r = b.add_struct("prog_test_ref_kfunc", 0, &[]);
    let rt = b.add_type_tag(tag, r);
    let rp = b.add_ptr(rt);
    let t = b.add_struct("prog_test_member", 0, &[]);
    let tt = b.add_type_tag(tag, t);
    let tp = b.add_ptr(tt);
    let v = b.add_struct("v", 24, &[("a", long, 0), ("p", rp, 64), ("t", tp, 128)]);
    let raw = b.finish().expect("value").to_bytes();
    let spec = MapSpec::usual(MapType::Array, int, v, 24, 0);
    let v = check_map_value(&raw, k, &spec).expect("a 6.1 map value");
    assert_eq!(v.plain_data, None);
    assert_eq!(v.record.fields.len(), 2);
    v.record
}

#[test]
fn kptr_get_takes_a_referenced_kptr_of_its_type() {
    let Some(k) = kernel() else { return };
    let tc = Prog::new(ProgType::SchedCls);
    let get = "bpf_kfunc_call_test_kptr_get";
    let rec = map_value(&k, "kptr_ref");
    // At the referenced prog_test_ref_kfunc kptr: accepted (flags from the 6.1 table).
    let flags = check_call(
        &k,
        &tc,
        get,
        &[Arg::map_value(&rec, 8), Arg::Scalar, Arg::Scalar],
    )
    .expect("kptr_get at the kptr");
    assert_eq!(flags, 0xd, "KF_ACQUIRE|KF_RET_NULL|KF_KPTR_GET");
    // At a plain long: no referenced kptr there.
    let e = check_call(
        &k,
        &tc,
        get,
        &[Arg::map_value(&rec, 0), Arg::Scalar, Arg::Scalar],
    )
    .unwrap_err();
    assert_eq!(e.message, "arg#0 no referenced kptr at map value offset=0");
    // At the prog_test_member kptr: the wrong type (strict match against the double pointer's struct).
    let e = check_call(
        &k,
        &tc,
        get,
        &[Arg::map_value(&rec, 16), Arg::Scalar, Arg::Scalar],
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "kernel function bpf_kfunc_call_test_kptr_get args#0 expected pointer to STRUCT prog_test_ref_kfunc"
    );
    // An unreferenced kptr (6.1's `kptr` tag) at the same offset.
    let unref = map_value(&k, "kptr");
    let e = check_call(
        &k,
        &tc,
        get,
        &[Arg::map_value(&unref, 8), Arg::Scalar, Arg::Scalar],
    )
    .unwrap_err();
    assert_eq!(e.message, "arg#0 no referenced kptr at map value offset=8");
    // Not a map value at all.
    let r = id(&k, "prog_test_ref_kfunc");
    let e = check_call(
        &k,
        &tc,
        get,
        &[Arg::referenced(r), Arg::Scalar, Arg::Scalar],
    )
    .unwrap_err();
    assert_eq!(e.message, "arg#0 expected pointer to map value");
    // A hand-made field description gives the same answers.
    let mv = |referenced, pointee| Arg::MapValue {
        off: 8,
        kptr: Some(MapKptr {
            referenced,
            pointee,
        }),
        any_kptr: true,
    };
    assert!(check_call(&k, &tc, get, &[mv(true, r), Arg::Scalar, Arg::Scalar]).is_ok());
    assert!(check_call(&k, &tc, get, &[mv(false, r), Arg::Scalar, Arg::Scalar]).is_err());
}

#[test]
fn trusted_args_and_program_types_6_1() {
    let Some(k) = kernel() else { return };
    let r = id(&k, "prog_test_ref_kfunc");
    let tc = Prog::new(ProgType::SchedCls);
    // KF_TRUSTED_ARGS in 6.1: referenced pointers only.
    assert!(check_call(&k, &tc, "bpf_kfunc_call_test_ref", &[Arg::referenced(r)]).is_ok());
    let e = check_call(&k, &tc, "bpf_kfunc_call_test_ref", &[Arg::trusted(r)]).unwrap_err();
    assert_eq!(e.message, "R1 must be referenced");
    // Release: offset 0 (6.1's words), one referenced argument.
    let e = check_call(
        &k,
        &tc,
        "bpf_kfunc_call_test_release",
        &[Arg::referenced(r).at(4)],
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "R1 must have zero offset when passed to release func"
    );
    let e = check_call(&k, &tc, "bpf_kfunc_call_test_release", &[Arg::trusted(r)]).unwrap_err();
    assert_eq!(
        e.message,
        "release kernel function bpf_kfunc_call_test_release expects refcounted PTR_TO_BTF_ID"
    );
    // 6.1's NULL to a release argument is a scalar for a struct pointer.
    let e = check_call(&k, &tc, "bpf_kfunc_call_test_release", &[Arg::Null]).unwrap_err();
    assert!(
        e.message
            .starts_with("arg#0 pointer type STRUCT prog_test_ref_kfunc must point to scalar"),
        "{}",
        e.message
    );
    // test_sk_check_kfunc_ids: SCHED_CLS, TRACING, SYSCALL; not XDP in 6.1.
    let xdp = Prog::new(ProgType::Xdp);
    let e = check_call(
        &k,
        &xdp,
        "bpf_kfunc_call_test1",
        &[Arg::Null, Arg::Scalar, Arg::Scalar, Arg::Scalar],
    );
    assert_eq!(
        e.unwrap_err().message,
        "calling kernel function bpf_kfunc_call_test1 is not allowed"
    );
    // An EXT program takes its target's type.
    let ext_xdp = Prog::ext(ProgType::Xdp);
    assert!(check_call(&k, &ext_xdp, "bpf_kfunc_call_test3", &[Arg::Null]).is_err());
    // crash_kexec: TRACING (and LSM, the same hook in 6.1) only.
    let lsm = Prog::new(ProgType::Lsm);
    let regs = Arg::trusted(id(&k, "pt_regs"));
    assert_eq!(
        check_call(&k, &lsm, "crash_kexec", &[regs]).map_err(|e| e.message),
        Ok(0x40)
    );
    let sys = Prog::new(ProgType::Syscall);
    assert_eq!(
        check_call(&k, &sys, "crash_kexec", &[regs]).map_err(|e| e.message),
        Err("calling kernel function crash_kexec is not allowed".to_string())
    );
}

/// The 6.1 table (from 6.1's sources) against the vmlinux's `.BTF_ids`:
/// every set8 there is in the table with the same entries and flags; a table
/// entry missing from the section is a kfunc this build configured out (not
/// in its BTF).
#[test]
fn table_6_1_is_the_vmlinux_btf_ids() {
    let Some(k) = kernel() else { return };
    let data = std::fs::read(btfkit_tests::VMLINUX_61).expect("vmlinux");
    let ids = BtfIds::read(&data).expect(".BTF_ids");
    assert!(!ids.sets.is_empty());
    for set in &ids.sets {
        let t = kfunc_sets(Version::V6_1)
            .iter()
            .find(|s| s.name == set.name)
            .unwrap_or_else(|| panic!("set8 {} not in the 6.1 table", set.name));
        // resolve_btfids sorts a set8's {id, flags} pairs by id: the name is
        // the id's, not the symbol's at the slot.
        let have: BTreeSet<(String, u32)> = set
            .entries
            .iter()
            .map(|e| (k.btf.name_of(TypeId(e.id)).to_string(), e.flags))
            .collect();
        let table: BTreeSet<(String, u32)> =
            t.entries.iter().map(|(n, f)| (n.to_string(), *f)).collect();
        assert!(
            have.is_subset(&table),
            "set8 {}: {have:?} vs {table:?}",
            set.name
        );
        for (n, _) in table.difference(&have) {
            assert!(
                k.find(n, Kind::Func).is_none(),
                "set8 {}: {n} in the table and the BTF but not in .BTF_ids",
                set.name
            );
        }
    }
}

/// `btf-match kfuncs` prints the table of a version, and the program types
/// beside each set8 of a vmlinux.
#[test]
fn kfuncs_prints_the_program_types() {
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_btf-match"))
            .args(args)
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let t = run(&["kfuncs", "--kernel", "6.18"]);
    assert!(
        t.contains("set8 generic_btf_ids (")
            && t.contains("TRACING, SCHED_CLS, XDP, STRUCT_OPS, SYSCALL, CGROUP_SKB"),
        "{t}"
    );
    assert!(
        t.contains("  bpf_task_acquire flags 0x85 KF_ACQUIRE|KF_RET_NULL|KF_RCU"),
        "{t}"
    );
    let t = run(&["kfuncs", "--kernel", "6.1"]);
    assert!(t.contains("set8 test_sk_check_kfunc_ids (24 entries, net/bpf/test_run.c): SCHED_CLS, TRACING, SYSCALL"), "{t}");
    let Some(v) = btfkit_tests::oracle_file(btfkit_tests::VMLINUX_61) else {
        return;
    };
    let t = run(&["kfuncs", v.to_str().expect("path")]);
    assert!(
        t.contains("set8 tracing_btf_ids (1 entries, flags 0x0; program types (6.1): TRACING)"),
        "{t}"
    );
    assert!(
        t.contains("] cgroup_rstat_flush flags 0x20 KF_SLEEPABLE"),
        "{t}"
    );
}
