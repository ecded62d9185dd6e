#include "oomprof/profile/decode.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

int cycle_mode_parse(const char *s, enum cycle_mode *out)
{
	if (!strcmp(s, "latest"))
		*out = CYCLES_LATEST;
	else if (!strcmp(s, "published"))
		*out = CYCLES_PUBLISHED;
	else
		return -EINVAL;
	return 0;
}

const char *cycle_mode_name(enum cycle_mode mode)
{
	return mode == CYCLES_PUBLISHED ? "published" : "latest";
}

static void cycle_add(struct raw_cycle *sum, const struct raw_cycle *c)
{
	sum->allocs += c->allocs;
	sum->frees += c->frees;
	sum->alloc_bytes += c->alloc_bytes;
	sum->free_bytes += c->free_bytes;
}

/*
 * runtime.MemProfile first flushes future[C % 3] (C = mProfCycle >> 1) into active;
 * if afterwards no bucket has any active count (no GC has finished yet), it folds in
 * every future cycle instead. The result is what runtime/pprof reports.
 */
static bool published_is_empty(const struct raw_profile *p, unsigned index)
{
	for (size_t i = 0; i < p->nbuckets; i++) {
		const struct raw_bucket *b = &p->buckets[i];
		if (b->active.allocs || b->active.frees || b->future[index].allocs ||
		    b->future[index].frees)
			return false;
	}
	return true;
}

static struct raw_cycle selected_counts(const struct raw_bucket *b, bool all, unsigned index)
{
	struct raw_cycle sum = b->active;

	if (all) {
		for (int c = 0; c < 3; c++)
			cycle_add(&sum, &b->future[c]);
	} else {
		cycle_add(&sum, &b->future[index]);
	}
	return sum;
}

void scale_heap_sample(int64_t count, int64_t bytes, int64_t rate, int64_t *count_out,
		       int64_t *bytes_out)
{
	double avg, scale;

	if (count == 0 || bytes == 0) {
		*count_out = *bytes_out = 0;
		return;
	}
	if (rate <= 1) {
		/* rate 1: everything was sampled; below 1: unknown, leave as is */
		*count_out = count;
		*bytes_out = bytes;
		return;
	}
	avg = (double)bytes / (double)count;
	scale = 1 / (1 - exp(-avg / (double)rate));
	*count_out = (int64_t)((double)count * scale);
	*bytes_out = (int64_t)((double)bytes * scale);
}

void decode_values(const struct raw_profile *p, enum cycle_mode mode, struct heap_values *values)
{
	unsigned index = (p->prof_cycle >> 1) % 3;
	bool all = mode == CYCLES_LATEST || published_is_empty(p, index);

	for (size_t i = 0; i < p->nbuckets; i++) {
		struct raw_cycle c = selected_counts(&p->buckets[i], all, index);
		int64_t *v = values[i].v;

		scale_heap_sample((int64_t)c.allocs, (int64_t)c.alloc_bytes, p->mem_profile_rate,
				  &v[HEAP_ALLOC_OBJECTS], &v[HEAP_ALLOC_SPACE]);
		scale_heap_sample((int64_t)(c.allocs - c.frees),
				  (int64_t)(c.alloc_bytes - c.free_bytes), p->mem_profile_rate,
				  &v[HEAP_INUSE_OBJECTS], &v[HEAP_INUSE_SPACE]);
	}
}
