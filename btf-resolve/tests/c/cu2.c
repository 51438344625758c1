/* btf-resolve tests, unit 2: names defined differently than in unit 1, so
 * the BTF holds several types of one name. */
#include "btf_ids.h"

struct file { int a; int b; };
struct task_struct { char comm[16]; };
typedef long pid_t;
union thread_union { int x; };

__attribute__((noinline)) int use2(struct file *f, struct task_struct *t, pid_t p, union thread_union *u)
{ return f->a + t->comm[0] + p + u->x; }

BTF_ID_LIST(list2)
BTF_ID(struct, file)
BTF_ID(typedef, pid_t)
BTF_ID(func, use2)
BTF_ID(struct, missing_struct)
