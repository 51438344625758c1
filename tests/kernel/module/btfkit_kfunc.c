// SPDX-License-Identifier: GPL-2.0
/*
 * btfkit's kernel end-to-end test module (tests/kernel): a kfunc set of its
 * own (acquire / release / plain), a destructor pair for a referenced kptr,
 * and counters the boot test reads from /sys/module/btfkit_kfunc/parameters/.
 *
 * Built against Linux 6.1 and 6.12. The differences it bridges:
 * - 6.12 wants the kfunc set marked as such (BTF_KFUNCS_START sets
 *   BTF_SET8_KFUNCS; register_btf_kfunc_id_set rejects a plain set8); 6.1 has
 *   only BTF_SET8_START.
 * - 6.12 spells kfuncs __bpf_kfunc (noinline, used); 6.1 has no such macro.
 * Both register the set with register_btf_kfunc_id_set() and the destructor
 * with register_btf_id_dtor_kfuncs(), whose ids come from a BTF_ID_LIST that
 * resolve_btfids (here btf-resolve) fills in at build time.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/bpf.h>

#ifndef __bpf_kfunc
#define __bpf_kfunc __used noinline
#endif
#ifndef BTF_KFUNCS_START
#define BTF_KFUNCS_START(name) BTF_SET8_START(name)
#define BTF_KFUNCS_END(name) BTF_SET8_END(name)
#endif

/* The object BPF programs acquire, pass back, and store as a referenced kptr. */
struct btfkit_obj {
	u64 value;
	u32 magic;
	u32 pad;
};

#define BTFKIT_MAGIC 0xb7fc17u

static int acquired;
static int released;
static int dtor_calls;
static int live;
module_param(acquired, int, 0444);
MODULE_PARM_DESC(acquired, "objects handed out by btfkit_obj_acquire");
module_param(released, int, 0444);
MODULE_PARM_DESC(released, "objects returned through btfkit_obj_release");
module_param(dtor_calls, int, 0444);
MODULE_PARM_DESC(dtor_calls, "objects freed by the kptr destructor (map freed)");
module_param(live, int, 0444);
MODULE_PARM_DESC(live, "objects allocated and not yet freed");

struct btfkit_obj *btfkit_obj_acquire(u64 value);
void btfkit_obj_release(struct btfkit_obj *obj);
u64 btfkit_obj_value(struct btfkit_obj *obj);
void btfkit_obj_dtor(struct btfkit_obj *obj);

static void btfkit_obj_free(struct btfkit_obj *obj)
{
	if (WARN_ON_ONCE(obj->magic != BTFKIT_MAGIC))
		return;
	obj->magic = 0;
	kfree(obj);
	WRITE_ONCE(live, READ_ONCE(live) - 1);
}

/* KF_ACQUIRE | KF_RET_NULL: NULL for value 0, so callers must check. */
__bpf_kfunc struct btfkit_obj *btfkit_obj_acquire(u64 value)
{
	struct btfkit_obj *obj;

	if (!value)
		return NULL;
	obj = kzalloc(sizeof(*obj), GFP_ATOMIC);
	if (!obj)
		return NULL;
	obj->value = value;
	obj->magic = BTFKIT_MAGIC;
	WRITE_ONCE(acquired, READ_ONCE(acquired) + 1);
	WRITE_ONCE(live, READ_ONCE(live) + 1);
	return obj;
}

/* KF_RELEASE */
__bpf_kfunc void btfkit_obj_release(struct btfkit_obj *obj)
{
	WRITE_ONCE(released, READ_ONCE(released) + 1);
	btfkit_obj_free(obj);
}

/* Plain kfunc on a referenced object. */
__bpf_kfunc u64 btfkit_obj_value(struct btfkit_obj *obj)
{
	return obj->value + 1000;
}

/* The destructor of a btfkit_obj kptr left in a map: void f(struct btfkit_obj *). */
__bpf_kfunc void btfkit_obj_dtor(struct btfkit_obj *obj)
{
	WRITE_ONCE(dtor_calls, READ_ONCE(dtor_calls) + 1);
	btfkit_obj_free(obj);
}

BTF_KFUNCS_START(btfkit_kfunc_ids)
BTF_ID_FLAGS(func, btfkit_obj_acquire, KF_ACQUIRE | KF_RET_NULL)
BTF_ID_FLAGS(func, btfkit_obj_release, KF_RELEASE)
BTF_ID_FLAGS(func, btfkit_obj_value)
BTF_KFUNCS_END(btfkit_kfunc_ids)

static const struct btf_kfunc_id_set btfkit_kfunc_set = {
	.owner = THIS_MODULE,
	.set = &btfkit_kfunc_ids,
};

BTF_ID_LIST(btfkit_dtor_ids)
BTF_ID(struct, btfkit_obj)
BTF_ID(func, btfkit_obj_dtor)

static int __init btfkit_kfunc_init(void)
{
	const struct btf_id_dtor_kfunc dtors[] = {
		{ .btf_id = btfkit_dtor_ids[0], .kfunc_btf_id = btfkit_dtor_ids[1] },
	};
	int ret;

	pr_info("btfkit_kfunc: set ids %u %u %u, dtor ids %u %u\n",
		btfkit_kfunc_ids.pairs[0].id, btfkit_kfunc_ids.pairs[1].id,
		btfkit_kfunc_ids.pairs[2].id, btfkit_dtor_ids[0], btfkit_dtor_ids[1]);
	ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_SYSCALL, &btfkit_kfunc_set);
	if (ret) {
		pr_err("btfkit_kfunc: register_btf_kfunc_id_set: %d\n", ret);
		return ret;
	}
	ret = register_btf_id_dtor_kfuncs(dtors, ARRAY_SIZE(dtors), THIS_MODULE);
	if (ret) {
		pr_err("btfkit_kfunc: register_btf_id_dtor_kfuncs: %d\n", ret);
		return ret;
	}
	pr_info("btfkit_kfunc: registered\n");
	return 0;
}

static void __exit btfkit_kfunc_exit(void)
{
}

module_init(btfkit_kfunc_init);
module_exit(btfkit_kfunc_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("btfkit kernel e2e test: kfuncs, kptr destructor");
