/*
 * Fuzzes the profile reader: any bytes, gzipped or not, must parse or be refused
 * without crashing, and everything a parsed profile exposes must be safe to walk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pprof/pprof.h"

/* Touches every resolved pointer so that ASan sees any bad one. */
static size_t walk(const struct pprof_profile *p)
{
	size_t sum = 0;

	for (size_t i = 0; i < pprof_profile_nsamples(p); i++) {
		const struct pprof_sample_info *s = pprof_profile_sample(p, i);
		for (size_t j = 0; j < s->nlocations; j++)
			for (size_t k = 0; k < s->locations[j]->nlines; k++)
				sum += strlen(s->locations[j]->lines[k].function->name);
		for (size_t j = 0; j < s->nlabels; j++)
			sum += strlen(s->labels[j].key) + (s->labels[j].str ? 1 : 0);
		for (size_t j = 0; j < s->nvalues; j++)
			sum += (size_t)s->values[j];
	}
	return sum;
}

static void top(const struct pprof_profile *p, size_t idx)
{
	const struct pprof_header_info *h = pprof_profile_header(p);
	struct pprof_top t;
	char buf[64];

	if (pprof_top_compute(p, idx, &t))
		return;
	for (size_t i = 0; i < t.n; i++) {
		pprof_format_value(t.entries[i].flat, h->sample_types[idx].unit,
				   pprof_top_unit(&t, h->sample_types[idx].unit), buf, sizeof(buf));
		pprof_format_percent(t.entries[i].cum, t.total, buf, sizeof(buf));
	}
	pprof_top_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Small limits keep each run fast; the limits themselves are under test too. */
	struct pprof_read_limits lim = {.max_decoded = 4 << 20, .max_memory = 64 << 20};
	struct pprof_profile *p = NULL;
	char err[256];
	volatile size_t sink;

	if (pprof_profile_parse(data, size, &lim, &p, err, sizeof(err)))
		return 0;
	sink = walk(p);
	(void)sink;
	for (size_t i = 0; i < pprof_profile_header(p)->ntypes && i < 4; i++)
		top(p, i);
	(void)pprof_profile_default_index(p);
	pprof_profile_free(p);
	return 0;
}
