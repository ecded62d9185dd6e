/*
 * gosym-bench BINARY N SEED PCFILE: opens BINARY (timed, best and first of 10), then
 * symbolizes N random PCs inside its functions, each to its full inline chain, and
 * prints open time, PCs per second and peak RSS. The PCs go to PCFILE so the caller
 * can time `go tool addr2line` on the same ones.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "gosym/gosym.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

int main(int argc, char **argv)
{
	char err[512] = "";
	struct gosym_opts o = {.errbuf = err, .errbuf_len = sizeof(err), .no_dwarf = true};
	struct gosym *g = NULL;
	double first = 0, best = 1e9, t0, t;
	long n;
	uint64_t seed, *pcs, sum = 0, frames = 0;
	struct rusage ru;
	FILE *out;

	if (argc != 5) {
		fprintf(stderr, "usage: gosym-bench BINARY N SEED PCFILE\n");
		return 2;
	}
	n = atol(argv[2]);
	seed = strtoull(argv[3], NULL, 0) | 1;
	for (int i = 0; i < 10; i++) {
		gosym_close(g);
		t0 = now();
		g = gosym_open(argv[1], &o);
		t = now() - t0;
		if (!g) {
			fprintf(stderr, "gosym-bench: %s\n", err);
			return 1;
		}
		if (i == 0)
			first = t;
		if (t < best)
			best = t;
	}
	pcs = malloc(sizeof(*pcs) * (size_t)n);
	out = fopen(argv[4], "w");
	if (!pcs || !out)
		return 1;
	uint32_t nfunc = gosym_info(g)->nfunc;
	for (long i = 0; i < n;) {
		uint64_t entry, end;
		if (gosym_func_at(g, (uint32_t)(rnd(&seed) % nfunc), &entry, &end, NULL) ||
		    end <= entry)
			continue;
		pcs[i] = entry + rnd(&seed) % (end - entry);
		fprintf(out, "0x%" PRIx64 "\n", pcs[i]);
		i++;
	}
	fclose(out);
	t0 = now();
	for (long i = 0; i < n; i++) {
		struct gosym_frame fr[64];
		int k = gosym_lookup(g, pcs[i], 0, fr, 64);
		if (k > 0) {
			frames += (uint64_t)k;
			sum += (uint64_t)fr[0].line + (uint64_t)(uintptr_t)fr[k - 1].name;
		}
	}
	t = now() - t0;
	getrusage(RUSAGE_SELF, &ru);
	printf("binary: %s (%u functions)\n", argv[1], nfunc);
	printf("open: first %.2f ms, best of 10 %.2f ms\n", first * 1e3, best * 1e3);
	printf("symbolize: %ld PCs (%" PRIu64 " frames with inlining) in %.3f s = %.0f PCs/s\n", n,
	       frames, t, n / t);
	printf("peak RSS: %ld KiB (includes the %ld PC array)\n", ru.ru_maxrss, n);
	printf("pcs_per_sec %.0f\nchecksum %" PRIu64 "\n", n / t, sum);
	gosym_close(g);
	free(pcs);
	return 0;
}
