/*
 * A small unit-test framework. TEST(name) registers a test; CHECK records a failure
 * and goes on, REQUIRE records one and leaves the test (so cleanup after a goto can
 * still run, use REQUIRE_GOTO). Results are printed as "PASS: unit/name",
 * "FAIL: unit/name: why" and "SKIP: unit/name: why", the lines tests/run.sh counts.
 */
#ifndef TESTHELP_H
#define TESTHELP_H

#include <stdbool.h>
#include <stdio.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
	struct unit_test *next;
};

void unit_register(struct unit_test *t);
void unit_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void unit_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Directory of the test binaries and testdata, from the environment. */
const char *unit_env(const char *name, const char *fallback);

#define TEST(name)                                                                                 \
	static void test_##name(void);                                                             \
	__attribute__((constructor)) static void register_##name(void)                             \
	{                                                                                          \
		static struct unit_test t = {#name, test_##name, NULL};                            \
		unit_register(&t);                                                                 \
	}                                                                                          \
	static void test_##name(void)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			unit_fail(__FILE__, __LINE__, "%s", #cond);                                \
	} while (0)

#define CHECK_MSG(cond, ...)                                                                       \
	do {                                                                                       \
		if (!(cond))                                                                       \
			unit_fail(__FILE__, __LINE__, __VA_ARGS__);                                \
	} while (0)

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			unit_fail(__FILE__, __LINE__, "%s", #cond);                                \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define REQUIRE_GOTO(cond, label)                                                                  \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			unit_fail(__FILE__, __LINE__, "%s", #cond);                                \
			goto label;                                                                \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                                         \
	do {                                                                                       \
		unsigned long long a_ = (a), b_ = (b);                                             \
		if (a_ != b_)                                                                      \
			unit_fail(__FILE__, __LINE__, "%s == %s: %llu != %llu", #a, #b, a_, b_);   \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || !b_ || strcmp(a_, b_))                                                  \
			unit_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,        \
				  a_ ? a_ : "(null)", b_ ? b_ : "(null)");                         \
	} while (0)

#endif
