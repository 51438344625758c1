/*
 * dedup_oracle: the libbpf side of btfkit's dedup tests and benchmarks.
 *
 * Built at test time against the system libbpf (Debian's libbpf-dev 1.1.2):
 *   cc -O2 -o dedup_oracle dedup_oracle.c -lbpf
 *
 * Usage:
 *   dedup_oracle dedup [-f] IN OUT            btf__parse(IN), btf__dedup, write raw BTF
 *   dedup_oracle dedup-split [-f] BASE IN OUT btf__parse_split(IN, BASE), dedup, write split part
 *   dedup_oracle concat N IN OUT              N copies of IN appended with btf__add_btf
 *   dedup_oracle concat-dedup N IN OUT        the same, then btf__dedup (no file round trip)
 *   dedup_oracle append DST SRC... OUT        btf__parse(DST) ("-": btf__new_empty), then
 *                                             btf__add_btf of each SRC in order
 *   dedup_oracle append-split BASE SRC... OUT the same on btf__new_empty_split(BASE)
 * -f sets force_collisions. Exit status: 0 done, 1 usage or I/O, 2 parse failed,
 * 3 dedup failed (the libbpf error is printed on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static int write_raw(const struct btf *btf, const char *path)
{
	__u32 size = 0;
	const void *data = btf__raw_data(btf, &size);
	FILE *f;

	if (!data) {
		fprintf(stderr, "btf__raw_data failed\n");
		return 1;
	}
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		return 1;
	}
	if (size && fwrite(data, 1, size, f) != size) {
		perror(path);
		fclose(f);
		return 1;
	}
	if (fclose(f)) {
		perror(path);
		return 1;
	}
	return 0;
}

static int do_dedup(struct btf *btf, int force)
{
	LIBBPF_OPTS(btf_dedup_opts, opts, .force_collisions = force);
	int err = btf__dedup(btf, &opts);

	if (err) {
		fprintf(stderr, "btf__dedup failed: %d (%s)\n", err, strerror(-err));
		return 3;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int force = 0, ret;
	struct btf *btf, *base = NULL;

	libbpf_set_print(quiet_print);
	if (argc < 2)
		goto usage;
	if (argc > 2 && strcmp(argv[2], "-f") == 0) {
		force = 1;
		memmove(&argv[2], &argv[3], sizeof(char *) * (argc - 2));
		argc--;
	}
	if (strcmp(argv[1], "dedup") == 0 && argc == 4) {
		btf = btf__parse(argv[2], NULL);
		if (!btf) {
			fprintf(stderr, "btf__parse(%s) failed: %d\n", argv[2], -errno);
			return 2;
		}
		ret = do_dedup(btf, force);
		if (!ret)
			ret = write_raw(btf, argv[3]);
		btf__free(btf);
		return ret;
	}
	if (strcmp(argv[1], "dedup-split") == 0 && argc == 5) {
		base = btf__parse(argv[2], NULL);
		if (!base) {
			fprintf(stderr, "btf__parse(%s) failed: %d\n", argv[2], -errno);
			return 2;
		}
		btf = btf__parse_split(argv[3], base);
		if (!btf) {
			fprintf(stderr, "btf__parse_split(%s) failed: %d\n", argv[3], -errno);
			return 2;
		}
		ret = do_dedup(btf, force);
		if (!ret)
			ret = write_raw(btf, argv[4]);
		btf__free(btf);
		btf__free(base);
		return ret;
	}
	if ((strcmp(argv[1], "concat") == 0 || strcmp(argv[1], "concat-dedup") == 0) && argc == 5) {
		long n = strtol(argv[2], NULL, 10);
		struct btf *src = btf__parse(argv[3], NULL);
		long i;

		if (!src) {
			fprintf(stderr, "btf__parse(%s) failed: %d\n", argv[3], -errno);
			return 2;
		}
		btf = btf__new_empty();
		if (!btf)
			return 1;
		for (i = 0; i < n; i++) {
			int err = btf__add_btf(btf, src);

			if (err < 0) {
				fprintf(stderr, "btf__add_btf failed: %d\n", err);
				return 1;
			}
		}
		ret = 0;
		if (strcmp(argv[1], "concat-dedup") == 0)
			ret = do_dedup(btf, force);
		if (!ret)
			ret = write_raw(btf, argv[4]);
		btf__free(btf);
		btf__free(src);
		return ret;
	}
	if ((strcmp(argv[1], "append") == 0 || strcmp(argv[1], "append-split") == 0) && argc >= 5) {
		int split = strcmp(argv[1], "append-split") == 0;
		int i;

		if (split) {
			base = btf__parse(argv[2], NULL);
			if (!base) {
				fprintf(stderr, "btf__parse(%s) failed: %d\n", argv[2], -errno);
				return 2;
			}
			btf = btf__new_empty_split(base);
		} else if (strcmp(argv[2], "-") == 0) {
			btf = btf__new_empty();
		} else {
			btf = btf__parse(argv[2], NULL);
		}
		if (!btf) {
			fprintf(stderr, "destination %s failed: %d\n", argv[2], -errno);
			return 2;
		}
		for (i = 3; i < argc - 1; i++) {
			struct btf *src = btf__parse(argv[i], NULL);
			int err;

			if (!src) {
				fprintf(stderr, "btf__parse(%s) failed: %d\n", argv[i], -errno);
				return 2;
			}
			err = btf__add_btf(btf, src);
			if (err < 0) {
				fprintf(stderr, "btf__add_btf(%s) failed: %d\n", argv[i], err);
				return 3;
			}
			btf__free(src);
		}
		ret = write_raw(btf, argv[argc - 1]);
		btf__free(btf);
		btf__free(base);
		return ret;
	}
usage:
	fprintf(stderr, "usage: dedup_oracle dedup [-f] IN OUT | dedup-split [-f] BASE IN OUT | "
			"concat[-dedup] N IN OUT | append[-split] DST|BASE SRC... OUT\n");
	return 1;
}
