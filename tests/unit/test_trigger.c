/* The pure parts of the pre-kill triggers: thresholds, the PSI rule, sizes. */
#include <errno.h>
#include <stdint.h>

#include "oomprof/base/memcg.h"
#include "oomprof/trigger/psi.h"
#include "oomprof/trigger/threshold.h"
#include "tests/unit/testhelp.h"

TEST(threshold_parse_sorts_and_rejects)
{
	unsigned pct[THRESHOLD_MAX];
	size_t n;

	REQUIRE(threshold_parse("95,80,95", pct, THRESHOLD_MAX, &n) == 0);
	CHECK_EQ_U64(n, 2);
	CHECK_EQ_U64(pct[0], 80);
	CHECK_EQ_U64(pct[1], 95);
	CHECK(threshold_parse("", pct, THRESHOLD_MAX, &n) == -EINVAL);
	CHECK(threshold_parse("0", pct, THRESHOLD_MAX, &n) == -EINVAL);
	CHECK(threshold_parse("101", pct, THRESHOLD_MAX, &n) == -EINVAL);
	CHECK(threshold_parse("80,", pct, THRESHOLD_MAX, &n) == -EINVAL);
	CHECK(threshold_parse("80x", pct, THRESHOLD_MAX, &n) == -EINVAL);
	CHECK(threshold_parse("1,2,3", pct, 2, &n) == -EINVAL);
}

TEST(threshold_fires_once_per_upward_crossing)
{
	unsigned pct[] = {80, 95};
	struct threshold t;
	uint64_t limit = 256ull << 20;

	threshold_init(&t, limit, pct, 2);
	CHECK_EQ_U64(threshold_bytes(&t, 0), limit / 100 * 80 + limit % 100 * 80 / 100);
	CHECK_EQ_U64(threshold_update(&t, 10), 0);
	CHECK_EQ_U64(threshold_update(&t, threshold_bytes(&t, 0)), 1);	   /* at 80 %: fires */
	CHECK_EQ_U64(threshold_update(&t, threshold_bytes(&t, 0) + 1), 0); /* still above */
	CHECK_EQ_U64(threshold_update(&t, limit), 2);			   /* 95 % now */
	CHECK_EQ_U64(threshold_update(&t, 0), 0);			   /* re-armed */
	CHECK_EQ_U64(threshold_update(&t, limit), 3);			   /* both at once */
	threshold_init(&t, UINT64_MAX, pct, 2);				   /* no limit */
	CHECK_EQ_U64(threshold_update(&t, UINT64_MAX - 1), 0);
	/* a small limit: the rounding does not overflow or fire early */
	threshold_init(&t, 99, pct, 1);
	CHECK_EQ_U64(threshold_bytes(&t, 0), 79);
}

TEST(psi_rule_needs_the_duration_and_fires_once_per_episode)
{
	struct psi_rule r = {.threshold = 10, .duration_ms = 2000};

	CHECK(!psi_rule_update(&r, 50, 1000));
	CHECK(!psi_rule_update(&r, 50, 2999));
	CHECK(psi_rule_update(&r, 50, 3000));
	CHECK(!psi_rule_update(&r, 50, 9000)); /* same episode */
	CHECK(!psi_rule_update(&r, 10, 9500)); /* at the threshold: not above */
	CHECK(!psi_rule_update(&r, 20, 10000));
	CHECK(psi_rule_update(&r, 20, 12000)); /* a new episode */
}

TEST(parse_size_suffixes)
{
	uint64_t v;

	REQUIRE(parse_size("256M", &v) == 0);
	CHECK_EQ_U64(v, 256ull << 20);
	REQUIRE(parse_size("1g", &v) == 0);
	CHECK_EQ_U64(v, 1ull << 30);
	REQUIRE(parse_size("1500MiB", &v) == 0);
	CHECK_EQ_U64(v, 1500ull << 20);
	REQUIRE(parse_size("4096", &v) == 0);
	CHECK_EQ_U64(v, 4096);
	CHECK(parse_size("", &v) == -EINVAL);
	CHECK(parse_size("-1M", &v) == -EINVAL);
	CHECK(parse_size("12Q", &v) == -EINVAL);
	CHECK(parse_size("99999999999T", &v) == -EINVAL);
	CHECK(parse_size("1MX", &v) == -EINVAL);
}
