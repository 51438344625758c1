/* Constructs the kernel's C uses, for btf-encode vs pahole -J. */
typedef unsigned long size_t;
typedef _Bool bool;
struct list_head { struct list_head *next, *prev; };
struct opaque;
union uopaque;
struct bits {
	unsigned int a:3;
	unsigned int b:5;
	int c:7;
	unsigned long long d:40;
	char e;
	unsigned short f:9;
	bool g:1;
	enum { BX, BY } h:2;
};
enum color { RED, GREEN = 5, BLUE = -2 };
enum big { BIG_A = 1ULL << 40, BIG_B };
enum sbig { SB_A = -(1LL << 40), SB_B = 1 };
enum u8e { U8A = 1 } __attribute__((packed));
enum neg32 { N32 = -1 };
struct arrays {
	int one[4];
	char two[3][5];
	long three[2][3][4];
	int flex[];
};
union u { int i; float f; double d; long double ld; char c[8]; };
struct cv {
	const int ci;
	volatile long vl;
	const volatile char *cvp;
	int *restrict rp;
	void *vp;
	const void *cvoid;
	struct opaque *op;
	union uopaque *uop;
	void (*fn)(int, ...);
	int (*fn2)(void);
	struct list_head lh;
	struct { int x, y; } anon;
	union { int q; long r; };
	unsigned char uc; signed char sc; short s; unsigned long long ull; __int128 i128; unsigned __int128 u128;
	_Bool b; float fl; double db;
};
typedef struct cv cv_t;
typedef int (*handler_t)(struct cv *, cv_t *, size_t);
static int helper(int x) { return x * 2; }
int global_fn(struct cv *p, cv_t *q, size_t n, struct bits *b, struct arrays *a, union u *uu, enum color c, enum big bg, enum sbig sb, enum u8e e8, enum neg32 n32)
{
	return helper(p->ci) + q->ci + (int)n + b->a + a->one[0] + uu->i + c + (int)bg + (int)sb + e8 + n32;
}
int var_fn(int a, ...) { return a; }
handler_t handlers[3];
struct list_head global_list;
static int unused_static(void) { return 0; }
int (*keep)(void) = unused_static;
