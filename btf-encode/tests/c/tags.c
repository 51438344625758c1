/* btf_type_tag / btf_decl_tag on every kind of target, per-CPU variables,
 * local types, inlined functions: btf-encode vs pahole -J. */
#define __tag1 __attribute__((btf_type_tag("tag1")))
#define __tag2 __attribute__((btf_type_tag("tag2")))
#define __user __attribute__((btf_type_tag("user")))
#define __decl(x) __attribute__((btf_decl_tag(x)))
#define __percpu_sec __attribute__((section(".data..percpu")))

struct tagged {
	int __tag1 *p1;
	int __tag1 __tag2 *p2;
	const char __user *up;
	int __tag2 * __tag1 *pp;
	int plain __decl("member_tag");
	long other __decl("m1") __decl("m2");
} __decl("struct_tag");

union tagged_u {
	int a __decl("ua");
	void __user *vp;
} __decl("union_tag");

typedef int tagged_int __decl("typedef_tag");

struct pcpu { int a; long b; };
__percpu_sec int pcpu_int = 1;
__percpu_sec struct pcpu pcpu_struct;
__percpu_sec static long pcpu_static __decl("var_tag") = 3;
__percpu_sec char pcpu_zero[0];
int not_percpu = 5;

int __decl("func_tag") tagged_fn(int a __decl("param_tag"), struct tagged *t __decl("p2tag"), union tagged_u *u, tagged_int ti)
{
	struct local { int x; } l = { a };
	return l.x + *t->p1 + u->a + ti + pcpu_int + (int)pcpu_static + (int)pcpu_struct.b;
}

static inline __attribute__((always_inline)) int inl(int q) { return q + 1; }
static __attribute__((noinline)) int not_inl(int r, int s) { return inl(r) * s; }
int call_them(int v) { return not_inl(v, 2) + inl(v); }
extern int ext_decl(int);
int uses_ext(void) { return ext_decl(3); }
