#include "oomprof/trigger/threshold.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int threshold_parse(const char *s, unsigned *pct, size_t max, size_t *n)
{
	const char *p = s;

	*n = 0;
	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);
		size_t i;

		if (end == p || v < 1 || v > 100 || (*end && *end != ','))
			return -EINVAL;
		for (i = 0; i < *n && pct[i] < (unsigned)v; i++)
			;
		if (i == *n || pct[i] != (unsigned)v) {
			if (*n == max)
				return -EINVAL;
			memmove(pct + i + 1, pct + i, (*n - i) * sizeof(*pct));
			pct[i] = (unsigned)v;
			(*n)++;
		}
		p = *end ? end + 1 : end;
		if (*end && !*p)
			return -EINVAL; /* a trailing comma */
	}
	return *n ? 0 : -EINVAL;
}

void threshold_init(struct threshold *t, uint64_t limit, const unsigned *pct, size_t n)
{
	memset(t, 0, sizeof(*t));
	t->n = n < THRESHOLD_MAX ? n : THRESHOLD_MAX;
	memcpy(t->pct, pct, t->n * sizeof(*pct));
	t->limit = limit;
}

uint64_t threshold_bytes(const struct threshold *t, size_t i)
{
	if (!t->limit || t->limit == UINT64_MAX || i >= t->n)
		return UINT64_MAX;
	/* limit / 100 * pct cannot overflow; the remainder keeps it exact for small limits */
	return t->limit / 100 * t->pct[i] + t->limit % 100 * t->pct[i] / 100;
}

uint32_t threshold_update(struct threshold *t, uint64_t usage)
{
	uint32_t now = 0;

	for (size_t i = 0; i < t->n; i++)
		if (usage >= threshold_bytes(t, i))
			now |= 1u << i;
	uint32_t crossed = now & ~t->above;
	t->above = now;
	return crossed;
}
