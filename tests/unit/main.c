/* Runs every registered unit test, or those whose names contain argv[1]. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/testhelp.h"

static struct unit_test *tests;
static bool failed, skipped;
static char reason[1024];

void unit_register(struct unit_test *t)
{
	t->next = tests;
	tests = t;
}

void unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (failed) /* keep the first reason; later ones are usually consequences */
		return;
	failed = true;
	n = snprintf(reason, sizeof(reason), "%s:%d: ", file, line);
	va_start(ap, fmt);
	vsnprintf(reason + n, sizeof(reason) - n, fmt, ap);
	va_end(ap);
}

void unit_skip(const char *fmt, ...)
{
	va_list ap;

	skipped = true;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
}

const char *unit_env(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

/* Registration runs in link order reversed; put tests back in source order per file. */
static struct unit_test *reverse(struct unit_test *t)
{
	struct unit_test *out = NULL;
	while (t) {
		struct unit_test *next = t->next;
		t->next = out;
		out = t;
		t = next;
	}
	return out;
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	int nfail = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (struct unit_test *t = reverse(tests); t; t = t->next) {
		if (filter && !strstr(t->name, filter))
			continue;
		failed = skipped = false;
		reason[0] = 0;
		t->fn();
		if (failed) {
			printf("FAIL: unit/%s: %s\n", t->name, reason);
			nfail++;
		} else if (skipped) {
			printf("SKIP: unit/%s: %s\n", t->name, reason);
		} else {
			printf("PASS: unit/%s\n", t->name);
		}
	}
	return nfail ? 1 : 0;
}
