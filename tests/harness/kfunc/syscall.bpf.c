/* syscall (BPF_PROG_TYPE_SYSCALL) programs calling kfuncs. */
#include "common.h"

SEC("syscall")
int s_task_from_pid_release(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1);
	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("syscall")
int s_task_acquire_referenced(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1), *u;
	if (!t)
		return 0;
	u = bpf_task_acquire(t);
	if (u)
		bpf_task_release(u);
	bpf_task_release(t);
	return 0;
}

SEC("syscall")
int s_cgroup_from_id_acquire(void *ctx)
{
	struct cgroup *c = bpf_cgroup_from_id(1), *a;
	if (!c)
		return 0;
	a = bpf_cgroup_acquire(c);
	if (a)
		bpf_cgroup_release(a);
	bpf_cgroup_release(c);
	return 0;
}

SEC("syscall")
int s_cpumask_embedded(void *ctx)
{
	struct bpf_cpumask *m = bpf_cpumask_create();
	if (!m)
		return 0;
	bpf_cpumask_set_cpu(0, m);
	bpf_cpumask_test_cpu(0, (const struct cpumask *)m);
	bpf_cpumask_release(m);
	return 0;
}

SEC("syscall")
int s_kptr_xchg_cgroup(void *ctx)
{
	struct val *v = value0();
	struct cgroup *c, *old;
	if (!v)
		return 0;
	c = bpf_cgroup_from_id(1);
	if (!c)
		return 0;
	old = bpf_kptr_xchg(&v->cgrp, c);
	if (old)
		bpf_cgroup_release(old);
	return 0;
}

SEC("syscall")
int s_release_wrong_type(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1);
	if (t)
		bpf_cgroup_release((struct cgroup *)t);
	return 0;
}

SEC("syscall")
int s_cpumask_release_cgroup(void *ctx)
{
	struct cgroup *c = bpf_cgroup_from_id(1);
	if (c)
		bpf_cpumask_release((struct bpf_cpumask *)c);
	return 0;
}

SEC("syscall")
int s_acquire_null(void *ctx)
{
	struct task_struct *t = bpf_task_acquire((struct task_struct *)0);
	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("syscall")
int s_cpumask_release_null(void *ctx)
{
	bpf_cpumask_release((struct bpf_cpumask *)0);
	return 0;
}

SEC("syscall")
int s_not_allowed_xdp_rx_hash(void *ctx)
{
	u32 h = 0;
	enum xdp_rss_hash_type r = 0;
	return bpf_xdp_metadata_rx_hash((const struct xdp_md *)0, &h, &r);
}
