#include <string.h>

#include "oomprof/profile/decode.h"
#include "tests/unit/testhelp.h"

/* Expected values computed independently from runtime/pprof's formula
 * scale = 1 / (1 - exp(-(bytes/count)/rate)), truncated to integers. */
TEST(decode_scale_matches_runtime_pprof_formula)
{
	int64_t c, b;

	scale_heap_sample(1, 524288, 524288, &c, &b);
	CHECK_EQ_U64(c, 1);
	CHECK_EQ_U64(b, 829411);
	scale_heap_sample(10, 163840, 524288, &c, &b);
	CHECK_EQ_U64(c, 325);
	CHECK_EQ_U64(b, 5325226);
	scale_heap_sample(7, 700, 1, &c, &b); /* rate 1: every allocation was sampled */
	CHECK_EQ_U64(c, 7);
	CHECK_EQ_U64(b, 700);
	scale_heap_sample(0, 700, 4096, &c, &b);
	CHECK_EQ_U64(c, 0);
	CHECK_EQ_U64(b, 0);
}

static struct raw_bucket bucket(uint64_t active, uint64_t f0, uint64_t f1, uint64_t f2)
{
	struct raw_bucket b = {.size = 16};
	b.active = (struct raw_cycle){active, 0, active * 16, 0};
	b.future[0] = (struct raw_cycle){f0, 0, f0 * 16, 0};
	b.future[1] = (struct raw_cycle){f1, 0, f1 * 16, 0};
	b.future[2] = (struct raw_cycle){f2, 0, f2 * 16, 0};
	return b;
}

TEST(decode_cycles_latest_and_published)
{
	struct raw_bucket buckets[2] = {bucket(5, 1, 2, 4), bucket(0, 8, 16, 32)};
	struct raw_profile p = {.mem_profile_rate = 1, .buckets = buckets, .nbuckets = 2};
	struct heap_values v[2];

	/* mProfCycle 9: C = 4, runtime/pprof flushes future[4 % 3] = future[1] into active */
	p.prof_cycle = 9;
	decode_values(&p, CYCLES_PUBLISHED, v);
	CHECK_EQ_U64(v[0].v[HEAP_ALLOC_OBJECTS], 5 + 2);
	CHECK_EQ_U64(v[1].v[HEAP_ALLOC_OBJECTS], 16);
	CHECK_EQ_U64(v[1].v[HEAP_INUSE_SPACE], 16 * 16);
	decode_values(&p, CYCLES_LATEST, v);
	CHECK_EQ_U64(v[0].v[HEAP_ALLOC_OBJECTS], 5 + 1 + 2 + 4);
	CHECK_EQ_U64(v[1].v[HEAP_INUSE_OBJECTS], 8 + 16 + 32);
}

TEST(decode_published_before_first_gc_folds_every_cycle)
{
	struct raw_bucket buckets[1] = {bucket(0, 1, 0, 4)};
	struct raw_profile p = {.mem_profile_rate = 1, .buckets = buckets, .nbuckets = 1};
	struct heap_values v[1];

	p.prof_cycle = 2; /* C = 1: future[1] is empty and so is active */
	decode_values(&p, CYCLES_PUBLISHED, v);
	CHECK_EQ_U64(v[0].v[HEAP_ALLOC_OBJECTS], 5);
}

TEST(decode_frees_reduce_inuse)
{
	struct raw_bucket b = {.size = 32};
	struct raw_profile p = {.mem_profile_rate = 1, .buckets = &b, .nbuckets = 1};
	struct heap_values v;

	b.active = (struct raw_cycle){10, 4, 320, 128};
	decode_values(&p, CYCLES_LATEST, &v);
	CHECK_EQ_U64(v.v[HEAP_ALLOC_SPACE], 320);
	CHECK_EQ_U64(v.v[HEAP_INUSE_OBJECTS], 6);
	CHECK_EQ_U64(v.v[HEAP_INUSE_SPACE], 192);
}

TEST(decode_cycle_mode_names)
{
	enum cycle_mode m;

	CHECK(cycle_mode_parse("published", &m) == 0 && m == CYCLES_PUBLISHED);
	CHECK(cycle_mode_parse("latest", &m) == 0 && m == CYCLES_LATEST);
	CHECK(cycle_mode_parse("newest", &m) < 0);
}
