// SPDX-License-Identifier: GPL-2.0
/*
 * The boot test's BPF program: calls the kfuncs of btfkit_kfunc.ko and leaves
 * a referenced kptr in a map with bpf_kptr_xchg, for the module's destructor
 * to free when the map goes. vmlinux.h is bpftool's C dump of the kernel's
 * own BTF (the one btf-encode made); the module's type is declared here.
 * KPTR_TAG: "kptr_ref" on 6.1, "kptr" on 6.12 (a referenced kptr).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct btfkit_obj {
	u64 value;
	u32 magic;
	u32 pad;
};

extern struct btfkit_obj *btfkit_obj_acquire(u64 value) __ksym;
extern void btfkit_obj_release(struct btfkit_obj *obj) __ksym;
extern u64 btfkit_obj_value(struct btfkit_obj *obj) __ksym;

/*
 * clang 14 drops a btf_type_tag on a pointer straight to a struct, but keeps
 * it through a typedef (PTR -> TYPE_TAG -> TYPEDEF -> STRUCT); the verifier
 * skips the typedef and finds struct btfkit_obj in the module's BTF.
 */
typedef struct btfkit_obj btfkit_obj_t;

struct map_value {
	btfkit_obj_t __attribute__((btf_type_tag(KPTR_TAG))) *obj;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct map_value);
} kptr_map SEC(".maps");

SEC("syscall")
int run(void *ctx)
{
	struct btfkit_obj *obj, *old;
	struct map_value *v;
	int zero = 0;
	u64 got;

	/* KF_RET_NULL: NULL for 0, checked. */
	obj = btfkit_obj_acquire(0);
	if (obj) {
		btfkit_obj_release(obj);
		return 1;
	}
	/* acquire, use, release */
	obj = btfkit_obj_acquire(7);
	if (!obj)
		return 2;
	got = btfkit_obj_value(obj);
	btfkit_obj_release(obj);
	if (got != 1007)
		return 3;
	/* acquire and move the reference into the map */
	obj = btfkit_obj_acquire(42);
	if (!obj)
		return 4;
	v = bpf_map_lookup_elem(&kptr_map, &zero);
	if (!v) {
		btfkit_obj_release(obj);
		return 5;
	}
	old = bpf_kptr_xchg(&v->obj, obj);
	if (old) {
		btfkit_obj_release(old);
		return 6;
	}
	return 42;
}

char LICENSE[] SEC("license") = "GPL";
