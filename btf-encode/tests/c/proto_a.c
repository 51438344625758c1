__attribute__((noinline)) static int dup(int x) { return x * 3; }
int call_a(int v) { return dup(v) + 1; }
