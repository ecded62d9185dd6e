/*
 * Raw memory-profile buckets as a source (BPF capture at kill time, or a live read of
 * /proc/PID/mem) hands them to the decoder. Nothing here is decoded or symbolized:
 * PCs are the process's own return PCs, counts are the runtime's memRecord cycles.
 */
#ifndef OOMPROF_RAWPROF_H
#define OOMPROF_RAWPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* runtime.memRecordCycle */
struct raw_cycle {
	uint64_t allocs, frees, alloc_bytes, free_bytes;
};

struct raw_bucket {
	uint64_t size; /* object slot size */
	uint32_t nstk; /* number of PCs in pcs */
	uint64_t *pcs; /* return PCs, innermost first */
	struct raw_cycle active;
	struct raw_cycle future[3];
};

/* How a read ended. */
enum raw_status {
	RAW_COMPLETE = 0,
	RAW_TRUNCATED,	/* stopped at a limit (bucket count, stack depth, time) */
	RAW_READ_ERROR, /* process memory could not be read part way */
	RAW_CORRUPT,	/* the list is not a valid bucket list (cycle, absurd nstk, bad typ) */
	RAW_PARTIAL,	/* read whole, but sampling was off for part of the program's life */
};

struct raw_profile {
	pid_t pid;
	int64_t mem_profile_rate; /* runtime.MemProfileRate at capture */
	uint32_t prof_cycle;	  /* runtime.mProfCycle at capture (cycle << 1 | flushed) */
	enum raw_status status;
	char status_detail[128];
	bool canonical; /* buckets already in the shape with bytes (heapprof_shape) */
	struct raw_bucket *buckets;
	size_t nbuckets, cap;
};

/*
 * Sources read a memRecord as 16 words: active and future[0..2] of four words each
 * (allocs, frees, alloc_bytes, free_bytes), the runtime's shape up to Go 1.26. From
 * Go 1.27 a cycle holds only allocs and frees (8 words in all): this rereads those
 * words in place, bytes being count * size as the runtime computes them.
 */
void raw_bucket_counts_only(struct raw_bucket *b);

/*
 * Whether buckets as the sources read them (16 words) fit a memRecord shape
 * (counts_only: Go 1.27's), for a runtime whose layout is not known for sure. With
 * bytes, every cycle's bytes are its counts times the bucket size; count-only words
 * must not all look like that; in either shape a bucket never frees more objects than
 * it allocated. false with the first misfit in why.
 */
bool raw_profile_fits(const struct raw_profile *p, bool counts_only, char *why, size_t len);

/* Appends a bucket (pcs copied). Returns 0 or -ENOMEM. */
int raw_profile_add(struct raw_profile *p, const struct raw_bucket *b);
void raw_profile_free(struct raw_profile *p);
const char *raw_status_name(enum raw_status s);

#endif
