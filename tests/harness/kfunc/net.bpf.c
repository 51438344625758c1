/* xdp, tc and kprobe programs: the program types whose kfunc sets and
 * context types an EXT program attached to them takes (ext.bpf.c), checked
 * here on the programs themselves (the same verifier paths: kfunc set of the
 * resolved program type, a global function's ctx argument). */
#include "common.h"

__noinline int xdp_helper(struct xdp_md *ctx)
{
	return ctx->ingress_ifindex ? XDP_PASS : XDP_DROP;
}

__noinline int skb_helper(struct __sk_buff *skb)
{
	return skb->len ? 1 : 0;
}

__noinline int regs_helper(struct pt_regs *regs)
{
	return regs->ip ? 1 : 0;
}

SEC("xdp")
int n_xdp_task_from_pid(struct xdp_md *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1);
	if (t)
		bpf_task_release(t);
	return XDP_PASS;
}

SEC("xdp")
int n_xdp_not_allowed_cpumask(struct xdp_md *ctx)
{
	struct bpf_cpumask *m = bpf_cpumask_create();
	if (m)
		bpf_cpumask_release(m);
	return XDP_PASS;
}

SEC("xdp")
int n_xdp_global_ctx_ok(struct xdp_md *ctx)
{
	return xdp_helper(ctx);
}

SEC("xdp")
int n_xdp_global_ctx_wrong(struct xdp_md *ctx)
{
	return skb_helper((struct __sk_buff *)ctx);
}

SEC("tc")
int n_tc_cgroup_from_id(struct __sk_buff *skb)
{
	struct cgroup *c = bpf_cgroup_from_id(1);
	if (c)
		bpf_cgroup_release(c);
	return 0;
}

SEC("tc")
int n_tc_not_allowed_cpumask(struct __sk_buff *skb)
{
	struct bpf_cpumask *m = bpf_cpumask_create();
	if (m)
		bpf_cpumask_release(m);
	return 0;
}

SEC("tc")
int n_tc_global_ctx_ok(struct __sk_buff *skb)
{
	return skb_helper(skb);
}

SEC("tc")
int n_tc_global_ctx_wrong(struct __sk_buff *skb)
{
	return xdp_helper((struct xdp_md *)skb);
}

SEC("kprobe/do_nanosleep")
int n_kprobe_not_allowed_task(struct pt_regs *regs)
{
	struct task_struct *t = bpf_task_from_pid(1);
	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("kprobe/do_nanosleep")
int n_kprobe_global_ctx_ok(struct pt_regs *regs)
{
	return regs_helper(regs);
}
