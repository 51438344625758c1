/* kfunc sets as the kernel's btf_ids.h lays them out (before resolve_btfids). */
#define SET8_START(name, flags) asm(".pushsection .BTF_ids,\"a\"\n.local __BTF_ID__set8__" #name "\n__BTF_ID__set8__" #name ":\n.zero 4\n.long " #flags "\n.popsection\n");
#define ID_FLAGS(name, n, flags) asm(".pushsection .BTF_ids,\"a\"\n.local __BTF_ID__func__" #name "__" #n "\n.type __BTF_ID__func__" #name "__" #n ", STT_OBJECT\n.size __BTF_ID__func__" #name "__" #n ", 4\n__BTF_ID__func__" #name "__" #n ":\n.zero 4\n.long " #flags "\n.popsection\n");
#define SET8_END(name) asm(".pushsection .BTF_ids,\"a\"\n.size __BTF_ID__set8__" #name ", .-__BTF_ID__set8__" #name "\n.popsection\n");

struct task { int pid; };
__attribute__((noinline)) int kf_acquire(struct task *t) { return t->pid; }
__attribute__((noinline)) int kf_fast(struct task *t, int x) { return t->pid + x; }
__attribute__((noinline)) int not_kfunc(struct task *t) { return t->pid * 2; }
__attribute__((noinline)) int plain(int a) { return a + 1; }

SET8_START(my_kfuncs, 1)
ID_FLAGS(kf_acquire, 1, 1)
ID_FLAGS(kf_fast, 2, 4096)
SET8_END(my_kfuncs)
SET8_START(not_kfuncs, 0)
ID_FLAGS(not_kfunc, 3, 0)
SET8_END(not_kfuncs)

int use(struct task *t) { return kf_acquire(t) + kf_fast(t, 1) + not_kfunc(t) + plain(2); }
