/* fentry programs (BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY). The running
 * test kernel refuses trampoline-based programs (fentry, EXT) with EPERM
 * before verifying them; the tp_btf programs of tracing.bpf.c are the same
 * program type for kfunc sets and argument trust. */
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
