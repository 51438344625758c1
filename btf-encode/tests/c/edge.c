/* Less common constructs: _Atomic, VLAs, zero-length and flexible arrays,
 * packed and aligned structs, deep anonymous nesting, function pointers
 * returning function pointers, local statics, bool bitfields, wide enums. */
#include <stdarg.h>
struct packed { char c; int i; long l; } __attribute__((packed));
struct aligned { char c; int i __attribute__((aligned(16))); };
struct zero { int n; char z[0]; };
struct deep { union { struct { int a:4, b:4; }; struct { union { long x; char y[8]; }; }; }; int tail; };
typedef void (*(*fpfp)(int))(long);
_Atomic int atomic_counter;
enum wide { W_NEG = -5000000000LL, W_POS = 5000000000LL };
enum uwide { UW = 0xffffffffffffffffULL };
struct bf64 { unsigned long long a:33, b:31; _Bool c:1; enum wide w:40; };
int vla_user(int n, struct packed *p, struct aligned *a, struct zero *z, struct deep *d, fpfp f, struct bf64 *b, enum uwide u)
{
	int arr[n];
	static int local_static;
	for (int i = 0; i < n; i++) arr[i] = i + local_static++;
	return arr[n - 1] + p->i + a->i + z->n + d->a + (f ? 1 : 0) + (int)b->a + (int)u + atomic_counter;
}
int vsum(int n, ...) { va_list ap; va_start(ap, n); int s = 0; for (int i = 0; i < n; i++) s += va_arg(ap, int); va_end(ap); return s; }
double fmix(float a, double b, long double c) { return a + b + (double)c; }
