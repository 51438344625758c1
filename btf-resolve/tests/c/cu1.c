/* btf-resolve tests, unit 1: every btf_ids.h macro, found and missing names. */
#include "btf_ids.h"

struct kobj { int refs; };
struct task_struct { int pid; struct kobj *k; };
struct file { long pos; };
union thread_union { long a; char b[16]; };
typedef int pid_t;
typedef struct file file_t;

__attribute__((noinline)) int bpf_f1(int x) { return x + 1; }
__attribute__((noinline)) long bpf_f2(long x, struct task_struct *t) { return x + t->pid; }
__attribute__((noinline)) void kobj_release(struct kobj *p) { p->refs--; }
__attribute__((noinline)) struct kobj *kobj_acquire(struct task_struct *t) { return t->k; }
__attribute__((noinline)) int kobj_bad_dtor(struct kobj *p, int x) { return p->refs + x; }
__attribute__((noinline)) int bpf_f3(union thread_union *u, pid_t p, file_t *f) { return u->b[0] + p + f->pos; }

BTF_ID_LIST(list1)
BTF_ID(struct, task_struct)
BTF_ID_UNUSED
BTF_ID(struct, file)
BTF_ID(union, thread_union)
BTF_ID(typedef, pid_t)
BTF_ID(func, bpf_f1)
BTF_ID(struct, missing_struct)
BTF_ID(func, missing_func)
BTF_ID(typedef, file_t)
BTF_ID(union, missing_union)

BTF_ID_LIST_SINGLE(single1, struct, file)
BTF_ID_LIST_GLOBAL(glist, 3)
BTF_ID(struct, task_struct)
BTF_ID(func, bpf_f2)
BTF_ID(func, bpf_f3)
BTF_ID_LIST_GLOBAL_SINGLE(gsingle, func, kobj_acquire)

BTF_SET_START(set1)
BTF_ID(func, bpf_f3)
BTF_ID(func, bpf_f1)
BTF_ID(func, missing_func)
BTF_ID(func, bpf_f2)
BTF_SET_END(set1)

BTF_SET_START_GLOBAL(gset)
BTF_ID(struct, task_struct)
BTF_ID(struct, kobj)
BTF_SET_END(gset)

BTF_SET8_START(kfuncs)
BTF_ID_FLAGS(func, bpf_f3, 0x11)
BTF_ID_FLAGS(func, kobj_release, 0x4)
BTF_ID_FLAGS(func, kobj_acquire, 0x5)
BTF_ID_FLAGS(func, bpf_f1, 0x2)
BTF_ID_FLAGS(func, bpf_f2, 0x8)
BTF_SET8_END(kfuncs)

BTF_KFUNCS_START(kfuncs2)
BTF_ID_FLAGS(func, bpf_f2, 0x20)
BTF_ID_FLAGS(func, bpf_f1, 0x40)
BTF_ID_FLAGS(func, bpf_f1, 0x80)
BTF_ID_FLAGS(func, missing_func, 0x100)
BTF_KFUNCS_END(kfuncs2)

BTF_ID_LIST(kobj_dtor_ids)
BTF_ID(struct, kobj)
BTF_ID(func, kobj_release)

BTF_ID_LIST(kobj_bad_dtor_ids)
BTF_ID(struct, kobj)
BTF_ID(func, kobj_bad_dtor)
