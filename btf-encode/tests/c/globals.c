int g_data = 1;
int g_bss;
static int s_data = 2;
const int g_ro = 3;
long g_arr[4] = {1};
int __UNIQUE_ID_skipme = 5;
__attribute__((section(".data..percpu"))) int pcpu_var = 6;
__attribute__((section(".mysec"))) int in_mysec = 7;
extern int ext_decl;
int counter(void) { static int calls; return ++calls + s_data + g_ro + ext_decl; }
