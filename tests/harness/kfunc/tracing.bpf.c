/* tp_btf (BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP) programs calling kfuncs; one case per
 * program, each loaded alone. The facts each states are in match_kfunc_call.rs. */
#include "common.h"

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_task_acquire_release, struct task_struct *p)
{
	struct task_struct *t = bpf_task_acquire(p);
	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_task_acquire_current, struct task_struct *p)
{
	struct task_struct *t = bpf_task_acquire(bpf_get_current_task_btf());
	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_task_acquire_rcu_field, struct task_struct *p)
{
	struct task_struct *t = bpf_task_acquire(p->real_parent);
	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_cgroup_from_id_release, struct task_struct *p)
{
	struct cgroup *c = bpf_cgroup_from_id(1);
	if (c)
		bpf_cgroup_release(c);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_cgroup_acquire_ancestor, struct task_struct *p)
{
	struct cgroup *c = bpf_cgroup_from_id(1), *a, *b;
	if (!c)
		return 0;
	a = bpf_cgroup_acquire(c);
	b = bpf_cgroup_ancestor(c, 0);
	if (a)
		bpf_cgroup_release(a);
	if (b)
		bpf_cgroup_release(b);
	bpf_cgroup_release(c);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_cpumask_create_set_release, struct task_struct *p)
{
	struct bpf_cpumask *m = bpf_cpumask_create();
	if (!m)
		return 0;
	bpf_cpumask_set_cpu(0, m);
	bpf_cpumask_release(m);
	return 0;
}

/* struct bpf_cpumask's first member is a struct cpumask: a non-release
 * argument takes it (the non-strict walk). */
SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_cpumask_embedded_nonrelease, struct task_struct *p)
{
	struct bpf_cpumask *m = bpf_cpumask_create();
	if (!m)
		return 0;
	bpf_cpumask_test_cpu(0, (const struct cpumask *)m);
	bpf_cpumask_release(m);
	return 0;
}

/* task->cpus_mask is a struct cpumask inside task_struct at a nonzero offset. */
SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_cpumask_member_offset, struct task_struct *p)
{
	bpf_cpumask_first(&p->cpus_mask);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_cpumask_loaded_ptr, struct task_struct *p)
{
	bpf_cpumask_first(p->cpus_ptr);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_kptr_xchg_cpumask, struct task_struct *p)
{
	struct val *v = value0();
	struct bpf_cpumask *m, *old;
	if (!v)
		return 0;
	m = bpf_cpumask_create();
	if (!m)
		return 0;
	old = bpf_kptr_xchg(&v->mask, m);
	if (old)
		bpf_cpumask_release(old);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_kptr_xchg_task, struct task_struct *p)
{
	struct val *v = value0();
	struct task_struct *t, *old;
	if (!v)
		return 0;
	t = bpf_task_acquire(p);
	if (!t)
		return 0;
	old = bpf_kptr_xchg(&v->task, t);
	if (old)
		bpf_task_release(old);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_kptr_xchg_wrong_type, struct task_struct *p)
{
	struct val *v = value0();
	struct task_struct *t, *old;
	if (!v)
		return 0;
	t = bpf_task_acquire(p);
	if (!t)
		return 0;
	old = bpf_kptr_xchg(&v->mask, t);
	if (old)
		bpf_task_release(old);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_kptr_xchg_not_kptr, struct task_struct *p)
{
	struct val *v = value0();
	struct task_struct *t, *old;
	if (!v)
		return 0;
	t = bpf_task_acquire(p);
	if (!t)
		return 0;
	old = bpf_kptr_xchg(&v->plain, t);
	if (old)
		bpf_task_release(old);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_kptr_xchg_untrusted_field, struct task_struct *p)
{
	struct val *v = value0();
	struct task_struct *t, *old;
	if (!v)
		return 0;
	t = bpf_task_acquire(p);
	if (!t)
		return 0;
	old = bpf_kptr_xchg(&v->utask, t);
	if (old)
		bpf_task_release(old);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_release_wrong_type, struct task_struct *p)
{
	struct cgroup *c = bpf_cgroup_from_id(1);
	if (c)
		bpf_task_release((struct task_struct *)c);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_cgroup_release_task, struct task_struct *p)
{
	struct task_struct *t = bpf_task_acquire(p);
	if (t)
		bpf_cgroup_release((struct cgroup *)t);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_cpumask_release_task, struct task_struct *p)
{
	struct task_struct *t = bpf_task_acquire(p);
	if (t)
		bpf_cpumask_release((struct bpf_cpumask *)t);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_set_cpu_wrong_type, struct task_struct *p)
{
	bpf_cpumask_set_cpu(0, (struct bpf_cpumask *)p);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_test_cpu_wrong_type, struct task_struct *p)
{
	struct cgroup *c = bpf_cgroup_from_id(1);
	if (!c)
		return 0;
	bpf_cpumask_test_cpu(0, (const struct cpumask *)c);
	bpf_cgroup_release(c);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_acquire_wrong_type, struct task_struct *p)
{
	struct cgroup *c = bpf_cgroup_from_id(1), *t;
	if (!c)
		return 0;
	t = (struct cgroup *)bpf_task_acquire((struct task_struct *)c);
	if (t)
		bpf_task_release((struct task_struct *)t);
	bpf_cgroup_release(c);
	return 0;
}

/* The first member of a referenced bpf_cpumask passed by its address plus
 * the offset of its second member: release arguments need offset 0. */
SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_release_nonzero_offset, struct task_struct *p)
{
	struct bpf_cpumask *m = bpf_cpumask_create();
	if (!m)
		return 0;
	bpf_cpumask_release((struct bpf_cpumask *)&m->usage);
	return 0;
}

/* A release argument does not walk into the first member: a referenced
 * bpf_cpumask where the release kfunc wants the same object is fine, but
 * the embedded cpumask of a task is not a bpf_cpumask. */
SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_release_embedded_member, struct task_struct *p)
{
	bpf_cpumask_release((struct bpf_cpumask *)&p->cpus_mask);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_release_null, struct task_struct *p)
{
	bpf_task_release((struct task_struct *)0);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_cgroup_release_null, struct task_struct *p)
{
	bpf_cgroup_release((struct cgroup *)0);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_release_unreferenced, struct task_struct *p)
{
	bpf_task_release(p);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_release_unreferenced_current, struct task_struct *p)
{
	bpf_task_release(bpf_get_current_task_btf());
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_acquire_null, struct task_struct *p)
{
	struct task_struct *t = bpf_task_acquire((struct task_struct *)0);
	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_acquire_untrusted, struct task_struct *p)
{
	struct val *v = value0();
	struct task_struct *u, *t;
	if (!v)
		return 0;
	u = v->utask;
	if (!u)
		return 0;
	t = bpf_task_acquire(u);
	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_not_allowed_sock_destroy, struct task_struct *p)
{
	return bpf_sock_destroy((struct sock_common *)0);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_release_untrusted, struct task_struct *p)
{
	struct val *v = value0();
	struct task_struct *u;
	if (!v)
		return 0;
	u = v->utask;
	if (u)
		bpf_task_release(u);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_test_cpu_untrusted, struct task_struct *p)
{
	struct val *v = value0();
	struct task_struct *u;
	if (!v)
		return 0;
	u = v->utask;
	if (u)
		bpf_cpumask_test_cpu(0, u->cpus_ptr);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_not_allowed_xdp_rx_hash, struct task_struct *p)
{
	u32 h = 0;
	enum xdp_rss_hash_type r = 0;
	return bpf_xdp_metadata_rx_hash((const struct xdp_md *)0, &h, &r);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_scalar_gets_pointer, struct task_struct *p)
{
	struct cgroup *c = bpf_cgroup_from_id((u64)p);
	if (c)
		bpf_cgroup_release(c);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_cpumask_and_mixed, struct task_struct *p)
{
	struct bpf_cpumask *m = bpf_cpumask_create();
	if (!m)
		return 0;
	bpf_cpumask_and(m, p->cpus_ptr, (const struct cpumask *)m);
	bpf_cpumask_release(m);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_cpumask_and_dst_not_bpf_cpumask, struct task_struct *p)
{
	struct bpf_cpumask *m = bpf_cpumask_create();
	if (!m)
		return 0;
	bpf_cpumask_and((struct bpf_cpumask *)p->cpus_ptr, p->cpus_ptr, (const struct cpumask *)m);
	bpf_cpumask_release(m);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(t_ancestor_null, struct task_struct *p)
{
	struct cgroup *c = bpf_cgroup_ancestor((struct cgroup *)0, 1);
	if (c)
		bpf_cgroup_release(c);
	return 0;
}
