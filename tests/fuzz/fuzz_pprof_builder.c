/*
 * Fuzzes the builder with a sequence of calls read from the input, then writes the
 * profile, reads it back, and aborts if the reader does not see exactly what was
 * built: interning, encoding and decoding must agree for any call sequence.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof/pprof.h"

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t byte(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t u64(struct input *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | byte(in);
	return v;
}

/* Short names from a small alphabet, so that interning finds duplicates. */
static const char *name(struct input *in, char *buf)
{
	uint8_t len = byte(in) % 6;
	for (uint8_t i = 0; i < len; i++)
		buf[i] = "ab.:/x"[byte(in) % 6];
	buf[len] = 0;
	return buf;
}

static void step(struct pprof_builder *b, struct input *in, size_t *nsamples)
{
	char n1[8], n2[8], n3[8];
	uint64_t id, locs[8];
	struct pprof_line lines[4];
	int64_t values[3];

	switch (byte(in) % 6) {
	case 0: {
		struct pprof_mapping m = {u64(in) % 4,	0, 0, name(in, n1), name(in, n2),
					  byte(in) & 1, 0, 0, byte(in) & 1};
		(void)pprof_add_mapping(b, &m, &id);
		break;
	}
	case 1: {
		struct pprof_function f = {name(in, n1), name(in, n2), name(in, n3), byte(in)};
		(void)pprof_add_function(b, &f, &id);
		break;
	}
	case 2: {
		size_t nl = byte(in) % 5;
		uint64_t m = byte(in) % 3, addr = byte(in);
		for (size_t i = 0; i < nl; i++)
			lines[i] = (struct pprof_line){byte(in) % 6, byte(in)};
		(void)pprof_add_location(b, m, addr, lines, nl, &id);
		break;
	}
	case 3: {
		size_t nl = byte(in) % 9, nv = byte(in) % 4;
		struct pprof_label lab = {
		    .key = name(in, n1), .str = byte(in) & 1 ? "s" : NULL, .num = (int64_t)u64(in)};
		for (size_t i = 0; i < nl; i++)
			locs[i] = byte(in) % 8;
		for (size_t i = 0; i < nv; i++)
			values[i] = (int64_t)u64(in);
		if (!pprof_add_sample(b, locs, nl, values, nv, &lab, byte(in) & 1))
			(*nsamples)++;
		break;
	}
	case 4:
		(void)pprof_add_comment(b, name(in, n1));
		break;
	default:
		(void)pprof_set_default_sample_type(b, name(in, n1));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pprof_value_type types[] = {{"a", "count"}, {"b", "bytes"}, {"c", ""}};
	struct input in = {data, size};
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_profile *p = NULL;
	size_t nsamples = 0, len;
	void *buf = NULL;
	char err[256];

	if (!b)
		return 0;
	(void)pprof_set_sample_types(b, types, 1 + byte(&in) % 3);
	for (int i = 0; i < 200 && in.n; i++)
		step(b, &in, &nsamples);
	if (pprof_write_mem(b, &buf, &len) == 0) {
		if (pprof_profile_parse(buf, len, NULL, &p, err, sizeof(err))) {
			fprintf(stderr, "built profile does not read back: %s\n", err);
			abort();
		}
		if (pprof_profile_nsamples(p) != nsamples ||
		    pprof_profile_nlocations(p) != pprof_builder_nlocations(b) ||
		    pprof_profile_nfunctions(p) != pprof_builder_nfunctions(b) ||
		    pprof_profile_nmappings(p) != pprof_builder_nmappings(b))
			abort();
		pprof_profile_free(p);
		free(buf);
	}
	pprof_builder_free(b);
	return 0;
}
