#include "oomprof/source/live.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * runtime.bucket header, identical in every release, and memRecord as 16 words (its
 * Go 1.19–1.26 size; Go 1.27's 8 words are reread by the profile builder, see
 * raw_bucket_counts_only).
 */
enum {
	BUCKET_ALLNEXT = 8,
	BUCKET_TYP = 16,
	BUCKET_SIZE = 32,
	BUCKET_NSTK = 40,
	BUCKET_HEADER = 48,
	MEMRECORD_SIZE = 128,
	BUCKET_TYPE_MEMORY = 1,
	/* Read this many PCs with the header in one go; deeper stacks take a second read. */
	SPECULATIVE_FRAMES = 128,
};

int live_read_mem(int memfd, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(memfd, (char *)buf + done, len - done, (off_t)(addr + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/*
 * One block of the process's memory. Buckets come from persistentalloc chunks, one
 * after another, so a 64 KiB read serves dozens of buckets: one syscall instead of one
 * per bucket (/proc/PID/mem reads cost a page-table walk each).
 */
#define BLOCK_SIZE (64 * 1024)

struct mem_block {
	int fd;
	uint64_t base;
	size_t len; /* bytes valid from base; 0 = empty */
	uint8_t data[BLOCK_SIZE];
};

static ssize_t fill_block(struct mem_block *b, uint64_t base)
{
	ssize_t n;

	b->base = base;
	b->len = 0;
	do
		n = pread(b->fd, b->data, sizeof(b->data), (off_t)base);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		b->len = (size_t)n; /* short at the end of a mapping: what is there is good */
	return n;
}

/* Reads len bytes at addr through the block, or directly when they are not in it. */
static int cached_read(struct mem_block *b, uint64_t addr, void *buf, size_t len)
{
	uint64_t base = addr & ~(uint64_t)(BLOCK_SIZE - 1);

	if (len > BLOCK_SIZE || addr + len > base + BLOCK_SIZE)
		return live_read_mem(b->fd, addr, buf, len);
	if (!b->len || b->base != base)
		fill_block(b, base);
	if (b->len && addr - b->base + len <= b->len) {
		memcpy(buf, b->data + (addr - b->base), len);
		return 0;
	}
	return live_read_mem(b->fd, addr, buf, len);
}

/* An open-addressing set of bucket addresses, to detect a cycle in allnext. */
struct addr_set {
	uint64_t *slots;
	size_t mask, count;
};

static int addr_set_insert(struct addr_set *s, uint64_t addr, bool *seen)
{
	if ((s->count + 1) * 2 > s->mask + 1) {
		size_t cap = s->slots ? (s->mask + 1) * 2 : 4096;
		uint64_t *slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; s->slots && i <= s->mask; i++) {
			if (!s->slots[i])
				continue;
			size_t j = (s->slots[i] * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);
			while (slots[j])
				j = (j + 1) & (cap - 1);
			slots[j] = s->slots[i];
		}
		free(s->slots);
		s->slots = slots;
		s->mask = cap - 1;
	}
	size_t i = (addr * 0x9e3779b97f4a7c15ull >> 20) & s->mask;
	while (s->slots[i]) {
		if (s->slots[i] == addr) {
			*seen = true;
			return 0;
		}
		i = (i + 1) & s->mask;
	}
	s->slots[i] = addr;
	s->count++;
	*seen = false;
	return 0;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void set_status(struct raw_profile *out, enum raw_status status, const char *fmt,
		       unsigned long long value)
{
	out->status = status;
	snprintf(out->status_detail, sizeof(out->status_detail), fmt, value);
}

static void parse_memrecord(const uint8_t *m, struct raw_bucket *b)
{
	struct raw_cycle *cycles[4] = {&b->active, &b->future[0], &b->future[1], &b->future[2]};

	for (int c = 0; c < 4; c++) {
		const uint8_t *r = m + 32 * c;
		cycles[c]->allocs = get_u64(r);
		cycles[c]->frees = get_u64(r + 8);
		cycles[c]->alloc_bytes = get_u64(r + 16);
		cycles[c]->free_bytes = get_u64(r + 24);
	}
}

/*
 * Reads one bucket at addr into b (pcs pointing into buf). Returns 0, -EBADMSG when
 * the header is not a memory bucket, -E2BIG for an absurd stack, or a read error.
 */
static int read_bucket(struct mem_block *mem, uint64_t addr, uint32_t max_stack, uint8_t *buf,
		       struct raw_bucket *b, uint64_t *next)
{
	size_t first = BUCKET_HEADER + 8 * SPECULATIVE_FRAMES + MEMRECORD_SIZE;
	uint64_t nstk;
	size_t need;
	int err;

	/* The speculative read may run past the end of a mapping; fall back to exact reads. */
	err = cached_read(mem, addr, buf, first);
	if (err && (err = cached_read(mem, addr, buf, BUCKET_HEADER)))
		return err;
	if (get_u64(buf + BUCKET_TYP) != BUCKET_TYPE_MEMORY)
		return -EBADMSG;
	nstk = get_u64(buf + BUCKET_NSTK);
	if (nstk > max_stack)
		return -E2BIG;
	need = BUCKET_HEADER + 8 * nstk + MEMRECORD_SIZE;
	if (need > first || err) {
		err = cached_read(mem, addr + BUCKET_HEADER, buf + BUCKET_HEADER,
				  need - BUCKET_HEADER);
		if (err)
			return err;
	}
	*next = get_u64(buf + BUCKET_ALLNEXT);
	b->size = get_u64(buf + BUCKET_SIZE);
	b->nstk = (uint32_t)nstk;
	b->pcs = (uint64_t *)(buf + BUCKET_HEADER); /* 8-aligned within buf */
	parse_memrecord(buf + BUCKET_HEADER + 8 * nstk, b);
	return 0;
}

static int open_mem(pid_t pid, char *err, size_t errlen)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
		return e == ENOENT ? -ESRCH : -e;
	}
	return fd;
}

static int read_header_values(int memfd, const struct live_target *t, struct raw_profile *out,
			      uint64_t *head, char *err, size_t errlen)
{
	uint32_t cycle = 0;
	int64_t rate = 0;
	int e;

	e = live_read_mem(memfd, t->mbuckets, head, sizeof(*head));
	if (!e && t->mem_profile_rate)
		e = live_read_mem(memfd, t->mem_profile_rate, &rate, sizeof(rate));
	if (!e && t->prof_cycle)
		e = live_read_mem(memfd, t->prof_cycle, &cycle, sizeof(cycle));
	if (e) {
		snprintf(err, errlen, "cannot read the process's memory: %s", strerror(-e));
		return e == -EIO ? -ESRCH : e;
	}
	out->mem_profile_rate = rate;
	out->prof_cycle = cycle;
	return 0;
}

int live_read(pid_t pid, const struct live_target *target, const struct live_limits *limits,
	      struct raw_profile *out, char *err, size_t errlen)
{
	uint32_t max_buckets =
	    limits && limits->max_buckets ? limits->max_buckets : LIVE_DEFAULT_MAX_BUCKETS;
	uint32_t max_stack =
	    limits && limits->max_stack ? limits->max_stack : LIVE_DEFAULT_MAX_STACK;
	struct addr_set seen = {0};
	struct mem_block *mem;
	uint64_t addr = 0;
	uint8_t *buf;
	int memfd, e = 0;

	out->pid = pid;
	out->status = RAW_COMPLETE;
	memfd = open_mem(pid, err, errlen);
	if (memfd < 0)
		return memfd;
	buf = aligned_alloc(
	    8, BUCKET_HEADER +
		   8 * (size_t)(max_stack > SPECULATIVE_FRAMES ? max_stack : SPECULATIVE_FRAMES) +
		   MEMRECORD_SIZE);
	mem = malloc(sizeof(*mem));
	if (!buf || !mem) {
		free(buf);
		free(mem);
		close(memfd);
		return -ENOMEM;
	}
	mem->fd = memfd;
	mem->len = 0;
	e = read_header_values(memfd, target, out, &addr, err, errlen);
	while (!e && addr) {
		struct raw_bucket b = {0};
		uint64_t next = 0;
		bool dup;

		if (out->nbuckets >= max_buckets) {
			set_status(out, RAW_TRUNCATED, "stopped at %llu buckets", max_buckets);
			break;
		}
		if ((e = addr_set_insert(&seen, addr, &dup)))
			break;
		if (dup) {
			set_status(out, RAW_CORRUPT, "cycle in the bucket list at 0x%llx", addr);
			break;
		}
		int r = read_bucket(mem, addr, max_stack, buf, &b, &next);
		if (r == -EBADMSG || r == -E2BIG) {
			set_status(out, RAW_CORRUPT,
				   r == -E2BIG ? "bucket at 0x%llx has an absurd stack depth"
					       : "bucket at 0x%llx is not a memory bucket",
				   addr);
			break;
		}
		if (r) {
			set_status(out, RAW_READ_ERROR, "cannot read bucket at 0x%llx", addr);
			break;
		}
		if ((e = raw_profile_add(out, &b)))
			break;
		addr = next;
	}
	if (e == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(seen.slots);
	free(buf);
	free(mem);
	close(memfd);
	return e;
}

int live_write_u64(pid_t pid, uint64_t addr, uint64_t value)
{
	char path[64];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = pwrite(fd, &value, sizeof(value), (off_t)addr);
	if (n < 0)
		err = -errno;
	else if (n != sizeof(value))
		err = -EIO;
	close(fd);
	return err;
}
