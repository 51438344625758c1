/* Shared declarations of btfkit's kfunc-call test programs (tests/tests/match_kfunc_call.rs).
 * vmlinux.h is generated at test time from /sys/kernel/btf/vmlinux (bpftool btf dump ... format c). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* The 6.3+ tag names: "kptr" is a referenced kptr, "kptr_untrusted" an unreferenced one. */
#define KPTR_REF __attribute__((btf_type_tag("kptr")))
#define KPTR_UNTRUSTED __attribute__((btf_type_tag("kptr_untrusted")))

extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern struct cgroup *bpf_cgroup_acquire(struct cgroup *cgrp) __ksym;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;
extern struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym;
extern struct cgroup *bpf_cgroup_ancestor(struct cgroup *cgrp, int level) __ksym;
extern struct bpf_cpumask *bpf_cpumask_create(void) __ksym;
extern struct bpf_cpumask *bpf_cpumask_acquire(struct bpf_cpumask *cpumask) __ksym;
extern void bpf_cpumask_release(struct bpf_cpumask *cpumask) __ksym;
extern void bpf_cpumask_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;
extern bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) __ksym;
extern bool bpf_cpumask_and(struct bpf_cpumask *dst, const struct cpumask *src1,
			    const struct cpumask *src2) __ksym;
extern u32 bpf_cpumask_first(const struct cpumask *cpumask) __ksym;
extern int bpf_sock_destroy(struct sock_common *sock) __ksym;
extern int bpf_xdp_metadata_rx_hash(const struct xdp_md *ctx, u32 *hash,
				    enum xdp_rss_hash_type *rss_type) __ksym;

/* clang 14 drops a btf_type_tag on a pointer straight to a struct; through
 * a typedef (which the kernel skips after the tag) it keeps it. */
typedef struct bpf_cpumask bpf_cpumask_t;
typedef struct task_struct task_struct_t;
typedef struct cgroup cgroup_t;

struct val {
	bpf_cpumask_t KPTR_REF *mask;
	task_struct_t KPTR_REF *task;
	cgroup_t KPTR_REF *cgrp;
	long plain;
	task_struct_t KPTR_UNTRUSTED *utask;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct val);
} vmap SEC(".maps");

static __always_inline struct val *value0(void)
{
	int k = 0;
	return bpf_map_lookup_elem(&vmap, &k);
}

char _license[] SEC("license") = "GPL";
