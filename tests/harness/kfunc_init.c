// SPDX-License-Identifier: GPL-2.0
/*
 * kfunc_init: /init of the qemu run of btfkit's kfunc tests
 * (tests/tests/match_kfunc_call.rs, BTFKIT_KFUNC_VM_KERNEL). Static; runs
 * /kfunc_loader once for each line of /plan ("OBJ PROG [TOBJ TPROG]") and
 * frames what it printed on the console:
 *
 *   BTFKIT-KFUNC-BEGIN <the plan line>
 *   <the loader's output: ACCEPTED, or REJECTED errno=N and the verifier log>
 *   BTFKIT-KFUNC-END <the loader's exit status>
 *
 * then prints BTFKIT-KFUNC-DONE and reboots: qemu (-no-reboot) exits (a
 * tinyconfig kernel has no ACPI power-off).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>

static void off(void)
{
	fflush(stdout);
	sync();
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

int main(void)
{
	char line[1024];
	FILE *plan;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	plan = fopen("/plan", "r");
	if (!plan) {
		printf("BTFKIT-KFUNC-FAIL no /plan\n");
		off();
	}
	printf("BTFKIT-KFUNC-START\n");
	while (fgets(line, sizeof(line), plan)) {
		char *argv[6], *save = NULL, *tok;
		int argc = 0, status = 0;
		pid_t pid;

		line[strcspn(line, "\n")] = 0;
		if (!line[0])
			continue;
		printf("BTFKIT-KFUNC-BEGIN %s\n", line);
		fflush(stdout);
		argv[argc++] = "/kfunc_loader";
		for (tok = strtok_r(line, " ", &save); tok && argc < 5; tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
		argv[argc] = NULL;
		pid = fork();
		if (pid == 0) {
			execv(argv[0], argv);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			status = 127 << 8;
		printf("\nBTFKIT-KFUNC-END %d\n",
		       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		fflush(stdout);
	}
	printf("BTFKIT-KFUNC-DONE\n");
	off();
	return 0;
}
