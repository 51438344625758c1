//! Struct id matching and kfunc argument rules on the running kernel's BTF
//! (`bpf_task_release(struct task_struct *)`, embedded first members).

use btf::{Kind, TypeId};
use btf_match::kfunc::*;
use btf_match::Kernel;

fn kernel() -> Option<Kernel> {
    let p = btfkit_tests::oracle_file(btfkit_tests::SYS_VMLINUX)?;
    Some(Kernel::from_path(p.to_str()?, None).expect("kernel BTF"))
}

fn id(k: &Kernel, name: &str) -> TypeId {
    k.find(name, Kind::Struct)
        .unwrap_or_else(|| panic!("no struct {name}"))
}

#[test]
fn struct_ids_match_strict_and_not() {
    let Some(k) = kernel() else { return };
    let b = &k.btf;
    // struct bpf_cpumask { cpumask_t cpumask; refcount_t usage; }: cpumask at 0.
    let bm = id(&k, "bpf_cpumask");
    let cm = id(&k, "cpumask");
    assert!(struct_ids_match(b, bm, 0, bm, true));
    assert!(
        struct_ids_match(b, bm, 0, cm, false),
        "first member at offset 0"
    );
    assert!(
        !struct_ids_match(b, bm, 0, cm, true),
        "strict does not walk"
    );
    // struct sock's first member is struct sock_common.
    let sock = id(&k, "sock");
    let sc = id(&k, "sock_common");
    assert!(struct_ids_match(b, sock, 0, sc, false));
    assert!(!struct_ids_match(b, sc, 0, sock, false), "no walking up");
    assert!(!struct_ids_match(b, sock, 8, sc, false), "not at offset 8");
    let task = id(&k, "task_struct");
    assert!(!struct_ids_match(b, task, 0, sc, false));
}

#[test]
fn kfunc_argument_rules() {
    let Some(k) = kernel() else { return };
    let task = id(&k, "task_struct");
    let cg = id(&k, "cgroup");
    let r = |ty, off, referenced| {
        if referenced {
            Arg::referenced(ty).at(off)
        } else {
            Arg::trusted(ty).at(off)
        }
    };
    // bpf_task_release(struct task_struct *): release, strict.
    assert_eq!(
        check_kfunc_call(&k, "bpf_task_release", KF_RELEASE, &[r(task, 0, true)]),
        Ok(())
    );
    let e = check_kfunc_call(&k, "bpf_task_release", KF_RELEASE, &[r(cg, 0, true)]).unwrap_err();
    assert_eq!(e.arg, Some(0));
    assert!(
        e.message.contains(
            "expected pointer to STRUCT task_struct but R1 has a pointer to STRUCT cgroup"
        ),
        "{}",
        e.message
    );
    let e = check_kfunc_call(&k, "bpf_task_release", KF_RELEASE, &[r(task, 0, false)]).unwrap_err();
    assert!(e.message.contains("expects refcounted"), "{}", e.message);
    let e = check_kfunc_call(&k, "bpf_task_release", KF_RELEASE, &[r(task, 8, true)]).unwrap_err();
    assert!(e.message.contains("zero offset"), "{}", e.message);
    // bpf_cpumask_release(struct bpf_cpumask *) with an embedded cpumask: strict rejects.
    let bm = id(&k, "bpf_cpumask");
    assert!(check_kfunc_call(&k, "bpf_cpumask_release", KF_RELEASE, &[r(bm, 0, true)]).is_ok());
    // bpf_cpumask_test_cpu(u32, const struct cpumask *): non-strict, a bpf_cpumask passes.
    assert!(check_kfunc_call(
        &k,
        "bpf_cpumask_test_cpu",
        0,
        &[Arg::Scalar, r(bm, 0, false)]
    )
    .is_ok());
    let e = check_kfunc_call(
        &k,
        "bpf_cpumask_test_cpu",
        0,
        &[r(bm, 0, false), r(bm, 0, false)],
    )
    .unwrap_err();
    assert!(e.message.contains("R1 is not a scalar"), "{}", e.message);
    assert!(check_kfunc_call(&k, "no_such_kfunc", 0, &[]).is_err());
    assert!(check_kfunc_call(&k, "bpf_task_release", KF_RELEASE, &[]).is_err());
}

#[test]
fn context_types() {
    let Some(k) = kernel() else { return };
    let (prog, kern) = ctx_types(&k, "xdp").expect("xdp");
    assert_eq!(k.btf.name_of(prog), "xdp_md");
    assert_eq!(k.btf.name_of(kern), "xdp_buff");
    let (prog, _) = ctx_types(&k, "BPF_PROG_TYPE_SCHED_CLS").expect("tc");
    assert_eq!(k.btf.name_of(prog), "__sk_buff");
    assert!(ctx_types(&k, "nope").is_none());
}
