__attribute__((noinline)) static long dup(long x, long y) { return x * y + 7; }
long call_b(long v) { return dup(v, v + 1); }
