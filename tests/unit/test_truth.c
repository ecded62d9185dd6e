/* What kill profiles claim (oomprof/profile/truth.c): coverage of the anon RSS, and
 * sampling switched off or changed at run time. */
#include <stdlib.h>
#include <string.h>

#include "oomprof/profile/truth.h"
#include "tests/unit/testhelp.h"

/* One bucket of n live objects of size bytes, as sampled at rate 1 (exact). */
static void one_bucket(struct raw_profile *p, uint64_t n, uint64_t size)
{
	uint64_t pcs[] = {0x401000};
	struct raw_bucket b = {.size = size, .nstk = 1, .pcs = pcs};

	memset(p, 0, sizeof(*p));
	b.active.allocs = n;
	b.active.alloc_bytes = n * size;
	raw_profile_add(p, &b);
}

TEST(truth_coverage_of_anon_rss)
{
	struct raw_profile p;
	struct rate_facts rf = {.at_kill = 1};
	struct truth t;

	one_bucket(&p, 93, 1 << 20); /* 93 MiB live */
	truth_assess(&p, CYCLES_LATEST, &rf, 100 * 1024, &t);
	CHECK(!t.partial);
	CHECK(t.inuse_bytes == 93ll << 20);
	CHECK(t.coverage_pct > 92.9 && t.coverage_pct < 93.1);
	CHECK(!strcmp(t.coverage, "profile explains 93 % of anon-rss 100 MiB"));
	/* rate 1 is not the default: the note says so */
	CHECK(strstr(t.rate_note, "MemProfileRate 1 was set at run time"));
	truth_assess(&p, CYCLES_LATEST, &rf, 0, &t);
	CHECK(t.coverage_pct < 0 && strstr(t.coverage, "unknown"));
	raw_profile_free(&p);
}

TEST(truth_rate_zeroed_is_partial)
{
	struct raw_profile p, honest;
	struct rate_facts rf = {.at_kill = 0, .last_nonzero = 0};
	const char *lines[4];
	struct truth t;

	one_bucket(&p, 4, 1 << 20);
	truth_assess(&p, CYCLES_LATEST, &rf, 300 * 1024, &t);
	CHECK(t.partial);
	CHECK(t.unsample_rate == GO_DEFAULT_MEM_PROFILE_RATE);
	CHECK(strstr(t.status_detail, "the program set MemProfileRate=0 at run time; only "
				      "allocations before that are sampled"));
	CHECK(t.coverage_pct > 0 && t.coverage_pct < 10);
	honest = truth_apply(&p, &t);
	CHECK(honest.status == RAW_PARTIAL &&
	      honest.mem_profile_rate == GO_DEFAULT_MEM_PROFILE_RATE);
	CHECK(honest.buckets == p.buckets && !strcmp(raw_status_name(honest.status), "partial"));
	CHECK(truth_comment_lines(&t, lines, 4) == 1 && lines[0] == t.coverage);
	/* no buckets: nothing was sampled; not "partial" (profiling-disabled binaries) */
	p.nbuckets = 0;
	truth_assess(&p, CYCLES_LATEST, &rf, 300 * 1024, &t);
	CHECK(!t.partial);
	p.nbuckets = 1;
	raw_profile_free(&p);
}

TEST(truth_restored_and_unreadable_rates)
{
	struct raw_profile p;
	struct rate_facts rf = {
	    .at_kill = 524288, .restored_ns = 1764630000123000000ll, .restored_rate = 524288};
	const char *lines[4];
	struct truth t;

	one_bucket(&p, 10, 1 << 20);
	truth_assess(&p, CYCLES_LATEST, &rf, 20 * 1024, &t);
	CHECK(!t.partial && !t.rate_note[0]);
	CHECK(strstr(t.restored_note, "set it to 524288 at 2025-12-01T23:00:00.123Z"));
	CHECK(truth_comment_lines(&t, lines, 4) == 2);
	rf = (struct rate_facts){.at_kill = -1, .last_nonzero = 4096};
	truth_assess(&p, CYCLES_LATEST, &rf, 20 * 1024, &t);
	CHECK(t.unsample_rate == 4096 && strstr(t.rate_note, "unreadable"));
	raw_profile_free(&p);
}
