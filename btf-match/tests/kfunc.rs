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

/// The embedded-first-member rule for release arguments: no release kfunc of
/// the running kernel takes a type that is the first member of another
/// referenced type, so the strict match is shown with `bpf_cpumask_first`
/// (`const struct cpumask *`) and a referenced `bpf_cpumask`, whose first
/// member is a `struct cpumask`: as a plain argument it passes, as the
/// argument of a (hypothetical) release kfunc it does not.
#[test]
fn release_arguments_do_not_walk_into_the_first_member() {
    let Some(k) = kernel() else { return };
    let bm = id(&k, "bpf_cpumask");
    let args = [Arg::referenced(bm)];
    assert_eq!(check_kfunc_call(&k, "bpf_cpumask_first", 0, &args), Ok(()));
    let e = check_kfunc_call(&k, "bpf_cpumask_first", KF_RELEASE, &args).unwrap_err();
    assert_eq!(
        e.message,
        "kernel function bpf_cpumask_first args#0 expected pointer to STRUCT cpumask but R1 has a pointer to STRUCT bpf_cpumask"
    );
    assert_eq!(e.arg, Some(0));
}

#[test]
fn ext_programs_take_their_targets_type() {
    use btf_match::progs::{kfunc_flags_for, Prog, ProgType};
    let Some(k) = kernel() else { return };
    let ext = Prog::ext(ProgType::Xdp);
    assert_eq!(ext.resolved(), ProgType::Xdp);
    let (view, _) = ctx_types_for(&k, &ext).expect("xdp ctx");
    assert_eq!(k.btf.name_of(view), "xdp_md");
    assert!(check_global_ctx_arg(&k, &ext, "f", 0, "xdp_md", &Arg::Ctx).is_ok());
    let e = check_global_ctx_arg(&k, &ext, "f", 0, "__sk_buff", &Arg::Ctx).unwrap_err();
    assert!(
        e.message.starts_with("R1 type=ctx expected=fp"),
        "{}",
        e.message
    );
    // Kfunc sets: an EXT program on XDP may call the generic set, not cpumask's.
    let v = k.version;
    assert!(kfunc_flags_for(v, &ext, "bpf_task_from_pid").is_ok());
    assert!(kfunc_flags_for(v, &ext, "bpf_cpumask_create").is_err());
    // LSM programs share the tracing hook; kprobes have their own (6.18).
    assert!(kfunc_flags_for(v, &Prog::new(ProgType::Lsm), "bpf_cpumask_create").is_ok());
    assert!(kfunc_flags_for(v, &Prog::new(ProgType::Kprobe), "bpf_task_acquire").is_err());
    // bpf_task_acquire: KF_ACQUIRE | KF_RCU | KF_RET_NULL in 6.18.
    assert_eq!(
        kfunc_flags_for(v, &Prog::new(ProgType::Tracing), "bpf_task_acquire"),
        Ok(KF_ACQUIRE | KF_RCU | KF_RET_NULL)
    );
}
