#include <string.h>

#include "tests/unit/testhelp.h"

/* The framework itself: a test that records nothing passes. */
TEST(framework_counts_checks)
{
	int x = 2;
	CHECK(x == 2);
	CHECK_STR("a", "a");
}
