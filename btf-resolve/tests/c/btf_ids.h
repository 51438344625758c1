/* btf-resolve tests: the .BTF_ids layout of the kernel's include/linux/btf_ids.h
 * (6.1-6.12), written for these tests: slot symbols __BTF_ID__<kind>__<name>__<n>
 * of 4 zero bytes (set8 entries followed by a flags word), list labels, set
 * symbols whose size, given by the _END macro, covers the count word(s) and
 * the entries. */
#ifndef BTFKIT_TEST_BTF_IDS_H
#define BTFKIT_TEST_BTF_IDS_H

#define T_PASTE2(a, b) a##b
#define T_PASTE(a, b) T_PASTE2(a, b)
#define T_STR2(x) #x
#define T_STR(x) T_STR2(x)
/* A unique suffix, as the kernel's (counter then line). */
#define T_UNIQUE(prefix) T_PASTE(T_PASTE(prefix, __COUNTER__), __LINE__)

#define T_SLOT2(sym, extra)                                             \
	asm(".pushsection .BTF_ids,\"a\"\n"                             \
	    ".local " #sym "\n"                                         \
	    ".type " #sym ", STT_OBJECT\n"                              \
	    ".size " #sym ", 4\n"                                       \
	    #sym ":\n"                                                  \
	    ".zero 4\n" extra                                           \
	    ".popsection\n");
#define T_SLOT(sym, extra) T_SLOT2(sym, extra)

#define BTF_ID(kind, name) T_SLOT(T_UNIQUE(__BTF_ID__##kind##__##name##__), "")
#define BTF_ID_FLAGS(kind, name, flags) \
	T_SLOT(T_UNIQUE(__BTF_ID__##kind##__##name##__), ".long " #flags "\n")

#define T_LABEL(name, scope)                                            \
	asm(".pushsection .BTF_ids,\"a\"\n"                             \
	    "." #scope " " #name "\n"                                   \
	    #name ":\n"                                                 \
	    ".popsection\n");

#define BTF_ID_LIST(name) T_LABEL(name, local) extern unsigned int name[];
#define BTF_ID_LIST_GLOBAL(name, n) T_LABEL(name, globl)
#define BTF_ID_LIST_SINGLE(name, kind, type) BTF_ID_LIST(name) BTF_ID(kind, type)
#define BTF_ID_LIST_GLOBAL_SINGLE(name, kind, type) BTF_ID_LIST_GLOBAL(name, 1) BTF_ID(kind, type)

#define BTF_ID_UNUSED \
	asm(".pushsection .BTF_ids,\"a\"\n.zero 4\n.popsection\n");

#define T_SET_START(name, scope)                                        \
	asm(".pushsection .BTF_ids,\"a\"\n"                             \
	    "." #scope " __BTF_ID__set__" #name "\n"                    \
	    "__BTF_ID__set__" #name ":\n"                               \
	    ".zero 4\n"                                                 \
	    ".popsection\n");
#define BTF_SET_START(name) T_LABEL(name, local) T_SET_START(name, local)
#define BTF_SET_START_GLOBAL(name) T_LABEL(name, globl) T_SET_START(name, globl)
#define BTF_SET_END(name)                                               \
	asm(".pushsection .BTF_ids,\"a\"\n"                             \
	    ".size __BTF_ID__set__" #name ", .-" #name "\n"             \
	    ".popsection\n");

#define T_SET8_START(name, scope, flags)                                \
	T_LABEL(name, local)                                            \
	asm(".pushsection .BTF_ids,\"a\"\n"                             \
	    "." #scope " __BTF_ID__set8__" #name "\n"                   \
	    "__BTF_ID__set8__" #name ":\n"                              \
	    ".zero 4\n"                                                 \
	    ".long " T_STR(flags) "\n"                                  \
	    ".popsection\n");
#define BTF_SET8_START(name) T_SET8_START(name, local, 0)
#define BTF_KFUNCS_START(name) T_SET8_START(name, local, 1)
#define BTF_SET8_END(name)                                              \
	asm(".pushsection .BTF_ids,\"a\"\n"                             \
	    ".size __BTF_ID__set8__" #name ", .-" #name "\n"            \
	    ".popsection\n");
#define BTF_KFUNCS_END(name) BTF_SET8_END(name)

#endif
