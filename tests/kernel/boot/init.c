// SPDX-License-Identifier: GPL-2.0
/*
 * The boot test's /init (static, libbpf): every check prints a BTFKIT line on
 * the serial console; the last line is "BTFKIT: PASS" or "BTFKIT: FAIL ...".
 * Then it reboots, and qemu (-no-reboot) exits.
 *   1. /sys/kernel/btf/vmlinux has the size of vmlinux's .BTF
 *      (BTFKIT_BTF_SIZE, from the kernel command line)
 *   2. finit_module(btfkit_kfunc.ko); /sys/kernel/btf/btfkit_kfunc has the size
 *      of the module's .BTF (BTFKIT_MOD_BTF_SIZE)
 *   3. the skeleton's program loads (kfunc calls into the module, a kptr map)
 *      and runs (BPF_PROG_TEST_RUN): return value 42, counters as expected
 *   4. closing map and program frees the map; its kptr's destructor runs:
 *      /sys/module/btfkit_kfunc/parameters/dtor_calls becomes 1
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "btfkit_prog.skel.h"

static void finish(int ok, const char *fmt, ...)
{
	va_list ap;

	printf(ok ? "BTFKIT: PASS " : "BTFKIT: FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	sync();
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long)st.st_size;
}

static long read_param(const char *name)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/module/btfkit_kfunc/parameters/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	printf("libbpf: ");
	return vprintf(fmt, ap);
}

int main(void)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	struct btfkit_prog *skel;
	long want, got;
	int fd, err, i;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setrlimit(RLIMIT_MEMLOCK, &unlimited);
	printf("BTFKIT: init running\n");

	want = getenv("BTFKIT_BTF_SIZE") ? atol(getenv("BTFKIT_BTF_SIZE")) : -2;
	got = file_size("/sys/kernel/btf/vmlinux");
	printf("BTFKIT: /sys/kernel/btf/vmlinux size %ld, .BTF section %ld\n", got, want);
	if (got != want)
		finish(0, "vmlinux BTF size %ld != %ld", got, want);

	fd = open("/btfkit_kfunc.ko", O_RDONLY);
	if (fd < 0 || syscall(SYS_finit_module, fd, "", 0))
		finish(0, "finit_module btfkit_kfunc.ko: %s", strerror(errno));
	close(fd);
	want = getenv("BTFKIT_MOD_BTF_SIZE") ? atol(getenv("BTFKIT_MOD_BTF_SIZE")) : -2;
	got = file_size("/sys/kernel/btf/btfkit_kfunc");
	printf("BTFKIT: module loaded; /sys/kernel/btf/btfkit_kfunc size %ld, .BTF section %ld\n", got, want);
	if (got != want)
		finish(0, "module BTF size %ld != %ld", got, want);

	libbpf_set_print(print_libbpf);
	skel = btfkit_prog__open_and_load();
	if (!skel)
		finish(0, "BPF program did not load: %s", strerror(errno));
	printf("BTFKIT: kfunc program loaded\n");
	{
		LIBBPF_OPTS(bpf_test_run_opts, opts);

		err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.run), &opts);
		if (err)
			finish(0, "BPF_PROG_TEST_RUN: %s", strerror(-err));
		printf("BTFKIT: kfunc program ran: retval %u\n", opts.retval);
		if (opts.retval != 42)
			finish(0, "program returned %u, want 42", opts.retval);
	}
	printf("BTFKIT: counters acquired %ld released %ld live %ld dtor_calls %ld\n",
	       read_param("acquired"), read_param("released"), read_param("live"),
	       read_param("dtor_calls"));
	if (read_param("acquired") != 2 || read_param("released") != 1 ||
	    read_param("live") != 1 || read_param("dtor_calls") != 0)
		finish(0, "counters after the run");

	btfkit_prog__destroy(skel);
	for (i = 0; i < 200 && read_param("dtor_calls") != 1; i++)
		usleep(50000);
	printf("BTFKIT: map freed: dtor_calls %ld live %ld after %d ms\n",
	       read_param("dtor_calls"), read_param("live"), i * 50);
	if (read_param("dtor_calls") != 1 || read_param("live") != 0)
		finish(0, "kptr destructor not called when the map was freed");
	finish(1, "vmlinux BTF, module BTF, kfuncs, kptr destructor");
	return 0;
}
