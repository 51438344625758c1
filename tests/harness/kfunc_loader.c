/*
 * kfunc_loader: the libbpf side of btfkit's kfunc-call tests
 * (tests/tests/match_kfunc_call.rs). Built at test time against the system
 * libbpf (Debian's libbpf-dev 1.1.2): cc -O2 -o kfunc_loader kfunc_loader.c -lbpf
 *
 * Usage:
 *   kfunc_loader OBJ PROG                         load program PROG of OBJ alone
 *   kfunc_loader OBJ PROG TOBJ TPROG              PROG is an EXT (freplace) program:
 *                                                 load TPROG of TOBJ first, attach to it
 * Prints "ACCEPTED" or "REJECTED errno=N", then the verifier log (level 1 on
 * rejection). Exit status: 0 accepted, 1 rejected, 2 usage or open failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static char log_buf[1 << 22];

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

/* Opens OBJ with only PROG to be loaded; returns the program or NULL. */
static struct bpf_object *open_one(const char *path, const char *name, struct bpf_program **out)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *p;

	if (!obj) {
		fprintf(stderr, "%s: open failed: %s\n", path, strerror(errno));
		return NULL;
	}
	*out = NULL;
	bpf_object__for_each_program(p, obj) {
		if (strcmp(bpf_program__name(p), name) == 0)
			*out = p;
		else
			bpf_program__set_autoload(p, false);
	}
	if (!*out) {
		fprintf(stderr, "%s: no program %s\n", path, name);
		bpf_object__close(obj);
		return NULL;
	}
	return obj;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj, *tobj = NULL;
	struct bpf_program *prog, *tprog;
	int err;

	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: kfunc_loader OBJ PROG [TOBJ TPROG]\n");
		return 2;
	}
	libbpf_set_print(quiet);
	if (argc == 5) {
		tobj = open_one(argv[3], argv[4], &tprog);
		if (!tobj)
			return 2;
		err = bpf_object__load(tobj);
		if (err) {
			fprintf(stderr, "target %s: load failed: %d\n", argv[4], err);
			return 2;
		}
	}
	obj = open_one(argv[1], argv[2], &prog);
	if (!obj)
		return 2;
	if (tobj) {
		/* The EXT program replaces the global function its SEC names. */
		const char *sec = bpf_program__section_name(prog);
		const char *fn = strchr(sec, '/');

		if (!fn) {
			fprintf(stderr, "%s: section %s names no function\n", argv[2], sec);
			return 2;
		}
		err = bpf_program__set_attach_target(prog, bpf_program__fd(tprog), fn + 1);
		if (err) {
			fprintf(stderr, "set_attach_target: %d\n", err);
			return 2;
		}
	}
	bpf_program__set_log_buf(prog, log_buf, sizeof(log_buf));
	bpf_program__set_log_level(prog, 1);
	err = bpf_object__load(obj);
	if (err) {
		printf("REJECTED errno=%d\n%s", -err, log_buf);
		return 1;
	}
	printf("ACCEPTED\n");
	return 0;
}
