/* EXT (freplace) programs: each replaces a global function with a ctx
 * argument of a target in target.bpf.c and takes the target's program type
 * (for its kfunc sets and its context type). */
#include "common.h"

__noinline int xdp_helper(struct xdp_md *ctx)
{
	return ctx->ingress_ifindex ? XDP_PASS : XDP_DROP;
}

__noinline int skb_helper(struct __sk_buff *skb)
{
	return skb->len ? 1 : 0;
}

SEC("freplace/xdp_glob")
int x_task_from_pid(struct xdp_md *ctx)
{
	struct task_struct *t = bpf_task_from_pid(1);
	if (t)
		bpf_task_release(t);
	return XDP_PASS;
}

SEC("freplace/xdp_glob")
int x_not_allowed_cpumask(struct xdp_md *ctx)
{
	struct bpf_cpumask *m = bpf_cpumask_create();
	if (m)
		bpf_cpumask_release(m);
	return XDP_PASS;
}

SEC("freplace/xdp_glob")
int x_global_ctx_ok(struct xdp_md *ctx)
{
	return xdp_helper(ctx);
}

SEC("freplace/xdp_glob")
int x_global_ctx_wrong(struct xdp_md *ctx)
{
	return skb_helper((struct __sk_buff *)ctx);
}

SEC("freplace/xdp_glob")
int x_rx_hash(struct xdp_md *ctx)
{
	u32 h = 0;
	enum xdp_rss_hash_type r = 0;
	bpf_xdp_metadata_rx_hash(ctx, &h, &r);
	return XDP_PASS;
}

SEC("freplace/tc_glob")
int c_global_ctx_ok(struct __sk_buff *skb)
{
	return skb_helper(skb);
}

SEC("freplace/tc_glob")
int c_global_ctx_wrong(struct __sk_buff *skb)
{
	return xdp_helper((struct xdp_md *)skb);
}

SEC("freplace/tc_glob")
int c_cgroup_from_id(struct __sk_buff *skb)
{
	struct cgroup *c = bpf_cgroup_from_id(1);
	if (c)
		bpf_cgroup_release(c);
	return 0;
}

SEC("freplace/tc_glob")
int c_not_allowed_cpumask(struct __sk_buff *skb)
{
	struct bpf_cpumask *m = bpf_cpumask_create();
	if (m)
		bpf_cpumask_release(m);
	return 0;
}

SEC("freplace/kp_glob")
int k_not_allowed_task(struct pt_regs *regs)
{
	struct task_struct *t = bpf_task_from_pid(1);
	if (t)
		bpf_task_release(t);
	/* A member read keeps struct pt_regs whole in the program's BTF:
	 * clang writes a FWD for a struct only pointed to, and the kernel
	 * refuses an EXT program whose context argument points to a FWD
	 * ("arg0 ... is not a pointer to context") before it looks at kfuncs.
	 */
	return regs->ip ? 0 : 1;
}
