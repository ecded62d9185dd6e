/*
 * gosym-check: test helper for tests/e2e/gosym*.sh. Each subcommand prints what the
 * e2e script compares against an oracle (go tool addr2line, the program's own
 * runtime.CallersFrames output, the live process's memory).
 *
 *   pcs BINARY N SEED         every function entry, then N random PCs inside functions
 *   addr2line BINARY          PCs on stdin → "function\nfile:line" like go tool addr2line
 *                             (physical function's raw name, innermost file:line)
 *   samefuncs A B             A and B have the same functions at the same addresses
 *   frames BINARY PID FILE    FILE from leaker's "frames" command: every stack expanded
 *                             by gosym_stack must equal the CallersFrames lines after it
 *   globals BINARY PID RATE DISABLED
 *                             read every global in the live process and check it
 *   bothmethods BINARY        symtab and code decoding agree on every global
 *   retag IN OUT VERSION      copy IN to OUT with the version in its build info replaced
 *                             by VERSION of the same length (a "newer release" of a real
 *                             program: the runtime never reads its build info)
 *   rename IN OUT NAME NEW    copy IN to OUT with function NAME in the pclntab's name
 *                             table renamed NEW (same length): gosym no longer finds it,
 *                             the runtime never looks a function up by name
 * Exit 0 when the check holds, 1 with "mismatch: …" lines when not, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gosym/gosym.h"

static struct gosym *open_or_die(const char *path)
{
	char err[512] = "";
	struct gosym_opts o = {.errbuf = err, .errbuf_len = sizeof(err)};
	struct gosym *g = gosym_open(path, &o);

	if (!g) {
		fprintf(stderr, "gosym-check: %s\n", err);
		exit(1);
	}
	return g;
}

/* xorshift64*: reproducible PCs for a given seed. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/*
 * The i-th function, unless it is a marker the linker made (Go 1.24+'s go:textfipsstart
 * and go:textfipsend): no source, never in a stack, and debug/gosym decodes their
 * pc-line table differently from the runtime (it stops at a zero value delta after
 * the first pair, the runtime only once past the entry PC), so addr2line is no oracle.
 */
static int code_func_at(const struct gosym *g, uint32_t i, uint64_t *entry, uint64_t *end)
{
	const char *name = NULL;

	if (gosym_func_at(g, i, entry, end, &name))
		return -1;
	return name && !strncmp(name, "go:", 3) ? -1 : 0;
}

static int cmd_pcs(const char *path, long n, uint64_t seed)
{
	struct gosym *g = open_or_die(path);
	uint32_t nfunc = gosym_info(g)->nfunc;
	uint64_t entry, end;

	for (uint32_t i = 0; i < nfunc; i++)
		if (!code_func_at(g, i, &entry, NULL))
			printf("0x%" PRIx64 "\n", entry);
	seed = seed ? seed : 1;
	for (long k = 0; k < n;) {
		uint32_t i = (uint32_t)(rnd(&seed) % nfunc);
		if (code_func_at(g, i, &entry, &end) || end <= entry)
			continue;
		printf("0x%" PRIx64 "\n", entry + rnd(&seed) % (end - entry));
		k++;
	}
	gosym_close(g);
	return 0;
}

static int cmd_addr2line(const char *path)
{
	struct gosym *g = open_or_die(path);
	char line[128];

	while (fgets(line, sizeof(line), stdin)) {
		struct gosym_frame fr[64];
		uint64_t pc = strtoull(line, NULL, 16);
		int n = gosym_lookup(g, pc, 0, fr, 64);
		if (n <= 0 || fr[0].kind != GOSYM_FRAME_GO)
			printf("?\n:-1\n");
		else if (!fr[0].line && !strcmp(fr[0].file, "?"))
			/* No line (padding after a function's last instruction): the runtime
			 * says "?:0", addr2line ":-1"; print the latter to compare. */
			printf("%s\n:-1\n", fr[0].func_name);
		else
			printf("%s\n%s:%d\n", fr[0].func_name, fr[0].file, fr[0].line);
	}
	gosym_close(g);
	return 0;
}

/* The pclntab bytes of a binary: section contents by vaddr through its own mapping. */
static int cmd_samefuncs(const char *a, const char *b)
{
	struct gosym *ga = open_or_die(a), *gb = open_or_die(b);
	const struct gosym_info *ia = gosym_info(ga), *ib = gosym_info(gb);
	int bad = 0;

	if (ia->nfunc != ib->nfunc || ia->text_start != ib->text_start ||
	    ia->text_end != ib->text_end) {
		printf("mismatch: nfunc %u/%u text 0x%" PRIx64 "-0x%" PRIx64 " / 0x%" PRIx64
		       "-0x%" PRIx64 "\n",
		       ia->nfunc, ib->nfunc, ia->text_start, ia->text_end, ib->text_start,
		       ib->text_end);
		return 1;
	}
	for (uint32_t i = 0; i < ia->nfunc && bad < 5; i++) {
		uint64_t ea, eb, za, zb;
		const char *na, *nb;
		gosym_func_at(ga, i, &ea, &za, &na);
		gosym_func_at(gb, i, &eb, &zb, &nb);
		if (ea != eb || za != zb || strcmp(na, nb)) {
			printf("mismatch: function %u: %s@0x%" PRIx64 " vs %s@0x%" PRIx64 "\n", i,
			       na, ea, nb, eb);
			bad++;
		}
	}
	gosym_close(ga);
	gosym_close(gb);
	return bad ? 1 : 0;
}

/* Start of the binary's mapping at file offset 0 in process pid. */
static int map_start(pid_t pid, const char *path, uint64_t *start)
{
	char maps[64], line[4096], real[PATH_MAX];
	FILE *f;
	int ret = -ENOENT;

	if (!realpath(path, real))
		return -errno;
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, off;
		char name[PATH_MAX] = "";
		if (sscanf(line, "%llx-%*x %*s %llx %*s %*s %4095s", &lo, &off, name) == 3 &&
		    off == 0 && !strcmp(name, real)) {
			*start = lo;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static int read_mem(int fd, uint64_t addr, void *buf, size_t n)
{
	return pread(fd, buf, n, (off_t)addr) == (ssize_t)n ? 0 : -1;
}

static uint64_t bias_for(struct gosym *g, const char *path, pid_t pid)
{
	uint64_t start;
	if (map_start(pid, path, &start)) {
		fprintf(stderr, "gosym-check: no mapping of %s in pid %d\n", path, (int)pid);
		exit(1);
	}
	return gosym_load_bias(g, start);
}

/* Parses "frame PC FUNCTION FILE LINE". */
static bool parse_frame(char *line, uint64_t *pc, char **fn, char **file, int *ln)
{
	char *save, *t = strtok_r(line, " \n", &save);
	if (!t || strcmp(t, "frame"))
		return false;
	if (!(t = strtok_r(NULL, " \n", &save)))
		return false;
	*pc = strtoull(t, NULL, 16);
	*fn = strtok_r(NULL, " \n", &save);
	*file = strtok_r(NULL, " \n", &save);
	t = strtok_r(NULL, " \n", &save);
	if (!*fn || !*file || !t)
		return false;
	*ln = atoi(t);
	return true;
}

struct frames_run {
	struct gosym *g;
	uint64_t bias;
	uint64_t pcs[2048];
	size_t npcs;
	struct gosym_frame out[4096];
	int nout, next; /* frames computed for the current stack, next to compare */
	long stacks, frames, inlined, bad;
};

static void start_stack(struct frames_run *r, char *line)
{
	char *save, *t = strtok_r(line + 5, " \n", &save);
	r->npcs = 0;
	for (; t && r->npcs < 2048; t = strtok_r(NULL, " \n", &save))
		r->pcs[r->npcs++] = strtoull(t, NULL, 16) - r->bias;
	r->nout = gosym_stack(r->g, r->pcs, r->npcs, 0, r->out, 4096);
	r->next = 0;
	r->stacks++;
}

static void end_stack(struct frames_run *r)
{
	if (r->stacks && r->next != r->nout && r->bad++ < 10)
		printf("mismatch: stack %ld: gosym gave %d frames, runtime %d\n", r->stacks,
		       r->nout, r->next);
}

static void check_frame(struct frames_run *r, char *line)
{
	uint64_t pc;
	char *fn, *file;
	int ln;
	const struct gosym_frame *f;

	if (!parse_frame(line, &pc, &fn, &file, &ln))
		return;
	r->frames++;
	if (r->next >= r->nout) {
		if (r->bad++ < 10)
			printf("mismatch: stack %ld: extra runtime frame %s\n", r->stacks, fn);
		r->next++;
		return;
	}
	f = &r->out[r->next++];
	r->inlined += f->inlined;
	if (f->pc + r->bias != pc || strcmp(f->function, fn) || strcmp(f->file, file) ||
	    f->line != ln) {
		if (r->bad++ < 10)
			printf("mismatch: stack %ld: runtime %#" PRIx64 " %s %s:%d, gosym %#" PRIx64
			       " %s %s:%d\n",
			       r->stacks, pc, fn, file, ln, f->pc + r->bias, f->function, f->file,
			       f->line);
	}
}

static int cmd_frames(const char *path, pid_t pid, const char *file)
{
	static struct frames_run r;
	char line[65536];
	FILE *in = fopen(file, "r");

	if (!in) {
		perror(file);
		return 1;
	}
	r.g = open_or_die(path);
	r.bias = bias_for(r.g, path, pid);
	while (fgets(line, sizeof(line), in)) {
		if (!strncmp(line, "stack", 5)) {
			end_stack(&r);
			start_stack(&r, line);
		} else {
			check_frame(&r, line);
		}
	}
	end_stack(&r);
	fclose(in);
	printf("%ld stacks, %ld frames (%ld inlined), bias 0x%" PRIx64 ", %ld mismatches\n",
	       r.stacks, r.frames, r.inlined, r.bias, r.bad);
	gosym_close(r.g);
	return r.bad || !r.stacks || !r.inlined ? 1 : 0;
}

static int check_globals(struct gosym *g, int fd, uint64_t bias, long rate, int disabled)
{
	uint64_t a[GOSYM_NGLOBALS], v[GOSYM_NGLOBALS] = {0}, hdr[6], g0;
	struct gosym_layout l;
	int bad = 0;

	if (gosym_layout(g, &l)) {
		printf("mismatch: no layout\n");
		return 1;
	}
	for (int i = 0; i < GOSYM_NGLOBALS; i++) {
		enum gosym_method how;
		size_t sz = i == GOSYM_DISABLE_MEMPROF ? 1 : i == GOSYM_MPROFCYCLE ? 4 : 8;
		if (gosym_global(g, i, &a[i], &how) || read_mem(fd, a[i] + bias, &v[i], sz)) {
			printf("mismatch: %s not found or unreadable\n", gosym_global_name(i));
			return 1;
		}
		printf("%-30s 0x%" PRIx64 " (%s) = %" PRIu64 "\n", gosym_global_name(i), a[i],
		       gosym_method_name(how), v[i]);
	}
	if ((long)v[GOSYM_MEMPROFILERATE] != rate)
		printf("mismatch: MemProfileRate %" PRIu64 ", want %ld\n", v[GOSYM_MEMPROFILERATE],
		       rate),
		    bad++;
	if ((int)v[GOSYM_DISABLE_MEMPROF] != disabled)
		printf("mismatch: disableMemoryProfiling %" PRIu64 ", want %d\n",
		       v[GOSYM_DISABLE_MEMPROF], disabled),
		    bad++;
	if (gosym_info(g)->profiling_disabled != disabled)
		printf("mismatch: file says profiling_disabled=%d, want %d\n",
		       gosym_info(g)->profiling_disabled, disabled),
		    bad++;
	if (!disabled) {
		if (!v[GOSYM_MBUCKETS] || read_mem(fd, v[GOSYM_MBUCKETS], hdr, sizeof(hdr)))
			printf("mismatch: mbuckets points nowhere\n"), bad++;
		else if (hdr[2] != l.bucket_typ_memory || !hdr[5] ||
			 hdr[5] > l.max_stack_depth_limit)
			printf("mismatch: bucket typ %" PRIu64 " nstk %" PRIu64 "\n", hdr[2],
			       hdr[5]),
			    bad++;
		else
			printf("first bucket: typ %" PRIu64 " size %" PRIu64 " nstk %" PRIu64 "\n",
			       hdr[2], hdr[4], hdr[5]);
	} else if (v[GOSYM_MBUCKETS]) {
		/* Each P's mcache drew its first sample point while MemProfileRate was still
		 * 512 KiB (before schedinit zeroed it) and records that one allocation
		 * (profilealloc, Go 1.25+ allocates enough at start-up to reach it): at most
		 * one bucket per P, never more. */
		uint64_t b = v[GOSYM_MBUCKETS], n = 0, h[6];
		long maxp = sysconf(_SC_NPROCESSORS_ONLN);
		while (b && n <= (uint64_t)maxp && !read_mem(fd, b, h, sizeof(h)) &&
		       h[2] == l.bucket_typ_memory) {
			n++;
			b = h[1];
		}
		if (b || n > (uint64_t)maxp)
			printf("mismatch: profiling disabled but %" PRIu64
			       "+ buckets (at most %ld, one "
			       "per P)\n",
			       n, maxp),
			    bad++;
		else
			printf("profiling disabled: %" PRIu64
			       " bucket(s) from the first sample points\n",
			       n);
	}
	if (!v[GOSYM_ALLGLEN] || v[GOSYM_ALLGLEN] > 100000)
		printf("mismatch: allglen %" PRIu64 "\n", v[GOSYM_ALLGLEN]), bad++;
	if (!v[GOSYM_ALLGPTR] || read_mem(fd, v[GOSYM_ALLGPTR], &g0, 8) || !g0)
		printf("mismatch: allgptr[0] unreadable\n"), bad++;
	if (!v[GOSYM_MPROFCYCLE])
		printf("mismatch: mProfCycle is 0 after a GC\n"), bad++;
	return bad ? 1 : 0;
}

static int cmd_globals(const char *path, pid_t pid, long rate, int disabled)
{
	struct gosym *g = open_or_die(path);
	char mem[64];
	uint64_t bias = bias_for(g, path, pid);
	int fd, ret;

	snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)pid);
	fd = open(mem, O_RDONLY);
	if (fd < 0) {
		perror(mem);
		return 1;
	}
	printf("bias 0x%" PRIx64 "\n", bias);
	ret = check_globals(g, fd, bias, rate, disabled);
	close(fd);
	gosym_close(g);
	return ret;
}

static int cmd_bothmethods(const char *path)
{
	struct gosym *g = open_or_die(path);
	int bad = 0;

	for (int i = 0; i < GOSYM_NGLOBALS; i++) {
		uint64_t s = 0, c = 0;
		int rs = gosym_global_by(g, i, GOSYM_BY_SYMTAB, &s);
		int rc = gosym_global_by(g, i, GOSYM_BY_CODE, &c);
		if (rs || rc || s != c) {
			printf("mismatch: %s symtab 0x%" PRIx64 " (%d) code 0x%" PRIx64 " (%d)\n",
			       gosym_global_name(i), s, rs, c, rc);
			bad++;
		}
	}
	gosym_close(g);
	return bad ? 1 : 0;
}

/* The inline version string of a build info blob in buf: its offset and length, or -1. */
static long buildinfo_version(const uint8_t *buf, size_t len, size_t *vlen)
{
	static const char magic[] = "\xff Go buildinf:";

	for (size_t off = 0; off + 48 <= len; off += 16) {
		if (memcmp(buf + off, magic, 14) || !(buf[off + 15] & 2))
			continue;
		*vlen = buf[off + 32]; /* one-byte uvarint: versions are short */
		if (*vlen >= 0x80 || off + 33 + *vlen > len)
			return -1;
		return (long)(off + 33);
	}
	return -1;
}

/* A whole file in memory (free it); NULL with a message. */
static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n = -1;

	if (f && !fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET) &&
	    (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		fclose(f);
		*len = (size_t)n;
		return buf;
	}
	if (f)
		fclose(f);
	free(buf);
	fprintf(stderr, "gosym-check: cannot read %s\n", path);
	return NULL;
}

/* Writes buf as an executable file; 0 or 1 with a message. Frees buf. */
static int write_exe(const char *path, uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	bool ok = f && fwrite(buf, 1, len, f) == len;

	if (f && fclose(f))
		ok = false;
	free(buf);
	if (!ok || chmod(path, 0755)) {
		fprintf(stderr, "gosym-check: cannot write %s\n", path);
		return 1;
	}
	return 0;
}

static int cmd_retag(const char *in, const char *out, const char *version)
{
	size_t len = 0, vlen = 0;
	uint8_t *buf = read_file(in, &len);
	long off;

	if (!buf)
		return 1;
	off = buildinfo_version(buf, len, &vlen);
	if (off < 0 || vlen != strlen(version)) {
		fprintf(stderr, "gosym-check: no build info version of length %zu in %s\n",
			strlen(version), in);
		free(buf);
		return 1;
	}
	memcpy(buf + off, version, vlen);
	return write_exe(out, buf, len);
}

static int cmd_rename(const char *in, const char *out, const char *name, const char *to)
{
	struct gosym *g = open_or_die(in);
	uint64_t entry, end;
	size_t len = 0, n = strlen(name);
	uint8_t *buf = read_file(in, &len);
	uint8_t *hit = NULL;

	if (buf && strlen(to) == n && gosym_func_by_name(g, name, &entry, &end) == 0) {
		/* "\0NAME\0": the name table entry, not a longer name ending in it */
		for (size_t i = 1; !hit && i + n + 1 < len; i++)
			if (!buf[i - 1] && !buf[i + n] && !memcmp(buf + i, name, n))
				hit = buf + i;
	}
	gosym_close(g);
	if (!hit) {
		fprintf(stderr, "gosym-check: function %s not found in %s (or bad NEW)\n", name,
			in);
		free(buf);
		return 1;
	}
	memcpy(hit, to, n);
	return write_exe(out, buf, len);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "pcs") && argc == 5)
		return cmd_pcs(argv[2], atol(argv[3]), strtoull(argv[4], NULL, 0));
	if (!strcmp(cmd, "addr2line") && argc == 3)
		return cmd_addr2line(argv[2]);
	if (!strcmp(cmd, "samefuncs") && argc == 4)
		return cmd_samefuncs(argv[2], argv[3]);
	if (!strcmp(cmd, "frames") && argc == 5)
		return cmd_frames(argv[2], atoi(argv[3]), argv[4]);
	if (!strcmp(cmd, "globals") && argc == 6)
		return cmd_globals(argv[2], atoi(argv[3]), atol(argv[4]), atoi(argv[5]));
	if (!strcmp(cmd, "rename") && argc == 6)
		return cmd_rename(argv[2], argv[3], argv[4], argv[5]);
	if (!strcmp(cmd, "retag") && argc == 5)
		return cmd_retag(argv[2], argv[3], argv[4]);
	if (!strcmp(cmd, "bothmethods") && argc == 3)
		return cmd_bothmethods(argv[2]);
	fprintf(stderr, "usage: gosym-check "
			"pcs|addr2line|samefuncs|frames|globals|bothmethods|retag|rename …\n");
	return 2;
}
