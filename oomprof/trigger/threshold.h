/*
 * Usage thresholds of a memory cgroup, in percent of its limit: which ones the usage
 * has just crossed on its way up. Fed with readings (polled, or read when the kernel's
 * v1 threshold eventfd fires); used by `oomprof run --snapshot-at` and by the daemon's
 * --before-oom.
 */
#ifndef OOMPROF_THRESHOLD_H
#define OOMPROF_THRESHOLD_H

#include <stddef.h>
#include <stdint.h>

#define THRESHOLD_MAX 8

struct threshold {
	unsigned pct[THRESHOLD_MAX]; /* ascending, 1..100 */
	size_t n;
	uint64_t limit; /* bytes; UINT64_MAX or 0: no limit, nothing ever crosses */
	uint32_t above; /* bit i: the last reading was at or above pct[i] */
};

/* "80,95" → {80, 95} (sorted, duplicates dropped, each 1..100). 0 or -EINVAL. */
int threshold_parse(const char *s, unsigned *pct, size_t max, size_t *n);

void threshold_init(struct threshold *t, uint64_t limit, const unsigned *pct, size_t n);

/* The usage in bytes at which pct[i] is reached. */
uint64_t threshold_bytes(const struct threshold *t, size_t i);

/* A new reading: the mask of thresholds crossed upward since the last one (bit i =
 * pct[i]). Falling back below a threshold re-arms it. */
uint32_t threshold_update(struct threshold *t, uint64_t usage);

#endif
