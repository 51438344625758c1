/* fentry programs (BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY). The machine's
 * kernel refuses trampoline-based programs (fentry, EXT) with EPERM before
 * verifying them: the test verifies these in a kernel booted under qemu.
 * The same program type as tp_btf for kfunc sets, but an fentry program's
 * arguments are not trusted (only raw tracepoints' and iterators' are). */
#include "common.h"

SEC("fentry/wake_up_process")
int BPF_PROG(f_task_acquire_release, struct task_struct *p)
{
	struct task_struct *t = bpf_task_acquire(bpf_get_current_task_btf());
	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("fentry/wake_up_process")
int BPF_PROG(f_release_unreferenced, struct task_struct *p)
{
	bpf_task_release(bpf_get_current_task_btf());
	return 0;
}

/* The traced function's argument is a plain PTR_TO_BTF_ID: not trusted. */
SEC("fentry/wake_up_process")
int BPF_PROG(f_acquire_arg, struct task_struct *p)
{
	struct task_struct *t = bpf_task_acquire(p);
	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("fentry/wake_up_process")
int BPF_PROG(f_cgroup_from_id_release, struct task_struct *p)
{
	struct cgroup *c = bpf_cgroup_from_id(1);
	if (c)
		bpf_cgroup_release(c);
	return 0;
}

SEC("fentry/wake_up_process")
int BPF_PROG(f_cpumask_create_set_release, struct task_struct *p)
{
	struct bpf_cpumask *m = bpf_cpumask_create();
	if (!m)
		return 0;
	bpf_cpumask_set_cpu(0, m);
	bpf_cpumask_release(m);
	return 0;
}

SEC("fentry/wake_up_process")
int BPF_PROG(f_task_from_pid_release, struct task_struct *p)
{
	struct task_struct *t = bpf_task_from_pid(1);
	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("fentry/wake_up_process")
int BPF_PROG(f_cpumask_first_arg_member, struct task_struct *p)
{
	bpf_cpumask_first(&p->cpus_mask);
	return 0;
}

SEC("fentry/wake_up_process")
int BPF_PROG(f_cgroup_release_task, struct task_struct *p)
{
	struct task_struct *t = bpf_task_acquire(bpf_get_current_task_btf());
	if (t)
		bpf_cgroup_release((struct cgroup *)t);
	return 0;
}
