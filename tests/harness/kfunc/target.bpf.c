/* EXT targets: programs whose global function with a ctx argument the EXT
 * programs of ext.bpf.c replace (xdp, tc, kprobe). */
#include "common.h"

__noinline int xdp_glob(struct xdp_md *ctx)
{
	return ctx->ingress_ifindex ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int xdp_target(struct xdp_md *ctx)
{
	return xdp_glob(ctx);
}

__noinline int tc_glob(struct __sk_buff *skb)
{
	return skb->len ? 0 : 1;
}

SEC("tc")
int tc_target(struct __sk_buff *skb)
{
	return tc_glob(skb);
}

__noinline int kp_glob(struct pt_regs *regs)
{
	return regs->ip ? 0 : 1;
}

SEC("kprobe/do_nanosleep")
int kp_target(struct pt_regs *regs)
{
	return kp_glob(regs);
}
