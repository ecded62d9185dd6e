/*
 * Decoding raw memory-profile buckets into heap sample values, as runtime/pprof
 * does (runtime.MemProfile + runtime/pprof's scaleHeapSample).
 */
#ifndef OOMPROF_DECODE_H
#define OOMPROF_DECODE_H

#include <stdint.h>

#include "oomprof/profile/rawprof.h"

enum cycle_mode {
	/* active + every pending cycle: all sampled so far; the default at OOM time */
	CYCLES_LATEST,
	/* what runtime/pprof would report at this moment */
	CYCLES_PUBLISHED,
};

/* The four heap sample types, in runtime/pprof's order. */
enum heap_value {
	HEAP_ALLOC_OBJECTS,
	HEAP_ALLOC_SPACE,
	HEAP_INUSE_OBJECTS,
	HEAP_INUSE_SPACE,
	HEAP_NVALUES,
};

struct heap_values {
	int64_t v[HEAP_NVALUES];
};

/* Parses "latest" or "published". Returns 0 or -EINVAL. */
int cycle_mode_parse(const char *s, enum cycle_mode *out);
const char *cycle_mode_name(enum cycle_mode mode);

/*
 * Fills values[i] for every bucket of p: the counts selected by mode, unsampled with
 * the process's MemProfileRate exactly as runtime/pprof does.
 */
void decode_values(const struct raw_profile *p, enum cycle_mode mode, struct heap_values *values);

/* runtime/pprof's scaleHeapSample: the unsampled (count, bytes) of a sampled pair. */
void scale_heap_sample(int64_t count, int64_t bytes, int64_t rate, int64_t *count_out,
		       int64_t *bytes_out);

#endif
