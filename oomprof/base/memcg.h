/*
 * A memory cgroup oomprof creates for a command (oomprof run): made with a limit, joined
 * by the command, measured, and always removed. cgroup v2 (memory.max) where a v2
 * hierarchy has the memory controller, else the v1 memory controller. Reading an
 * existing cgroup's files (limit, usage) is procinfo's memcg_read_u64.
 */
#ifndef OOMPROF_MEMCG_H
#define OOMPROF_MEMCG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct memcg {
	char dir[512];	/* its directory, e.g. /sys/fs/cgroup/memory/oomprof-run-12-1700000000 */
	char path[256]; /* its path as /proc/PID/cgroup names it, e.g. /oomprof-run-12-1700000000 */
	bool v2;
	uint64_t limit; /* UINT64_MAX: none */
	int event_fd;	/* v1 usage-threshold notifications (eventfd), -1 when none */
	bool borrowed;	/* someone else's (memcg_open): never killed or removed */
};

/*
 * Creates a fresh cgroup "<prefix>-<pid>-<time>" at the root of the memory hierarchy
 * (first removing empty ones of that naming left by a creator that is gone),
 * with limit bytes (0: no limit) and no swap. 0, or -errno with a message in err.
 */
int memcg_create(struct memcg *cg, const char *prefix, uint64_t limit, char *err, size_t errlen);

/* An existing memory cgroup, by its path as /proc/PID/cgroup names it (for reading it
 * and memcg_notify_at; memcg_destroy only closes the eventfd). 0 or -errno. */
int memcg_open(struct memcg *cg, const char *path);

/* Moves the calling process into the cgroup (a child between fork and exec). 0 or -errno. */
int memcg_join(const struct memcg *cg);

/* Current and peak usage in bytes (v2 memory.current/memory.peak, v1 memory.usage_in_bytes/
 * memory.max_usage_in_bytes). 0 or -errno (-ENOENT: the kernel has no peak file). */
int memcg_usage(const struct memcg *cg, uint64_t *bytes);
int memcg_peak(const struct memcg *cg, uint64_t *bytes);

/* OOM kills in the cgroup so far (the oom_kill counter), or -1 when unreadable. */
long long memcg_oom_kills(const struct memcg *cg);

/*
 * v1: asks the kernel to signal cg->event_fd (created on first use, non-blocking)
 * whenever usage crosses bytes, in either direction. -EOPNOTSUPP on v2, where usage
 * is polled instead. 0 or -errno.
 */
int memcg_notify_at(struct memcg *cg, uint64_t bytes);

/* How many processes are in the cgroup, or -errno. */
int memcg_nprocs(const struct memcg *cg);

/* SIGKILLs every process left in the cgroup (v2 cgroup.kill where the kernel has it). */
void memcg_kill_all(const struct memcg *cg);

/*
 * Kills what is left, waits until the cgroup is empty and removes it (up to about 5 s).
 * 0 (also when it was already gone) or -errno with a message in err.
 */
int memcg_destroy(struct memcg *cg, char *err, size_t errlen);

/* "256M" → 268435456: a byte count with an optional K, M, G or T suffix (powers of 1024).
 * 0 or -EINVAL. */
int parse_size(const char *s, uint64_t *out);

#endif
