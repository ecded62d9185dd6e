#include <string.h>

#include "oomprof/profile/rawprof.h"
#include "tests/unit/testhelp.h"

TEST(rawprof_add_copies_stack)
{
	struct raw_profile p = {0};
	uint64_t pcs[3] = {0x401000, 0x402000, 0x403000};
	struct raw_bucket b = {.size = 64, .nstk = 3, .pcs = pcs};

	for (int i = 0; i < 3000; i++) {
		b.active.allocs = (uint64_t)i;
		REQUIRE(raw_profile_add(&p, &b) == 0);
	}
	pcs[0] = 0; /* the profile holds its own copy */
	CHECK_EQ_U64(p.nbuckets, 3000);
	CHECK_EQ_U64(p.buckets[2999].active.allocs, 2999);
	CHECK_EQ_U64(p.buckets[0].pcs[0], 0x401000);
	CHECK_EQ_U64(p.buckets[1234].pcs[2], 0x403000);
	raw_profile_free(&p);
	CHECK_EQ_U64(p.nbuckets, 0);
}

TEST(rawprof_status_names)
{
	CHECK_STR(raw_status_name(RAW_COMPLETE), "complete");
	CHECK_STR(raw_status_name(RAW_CORRUPT), "corrupt");
	CHECK_STR(raw_status_name((enum raw_status)99), "unknown");
}
