/*
 * Writes profiles through the pprof builder for the end-to-end tests, which check
 * them with `go tool pprof` (the oracle) and compare `oomprof top` with it.
 *
 *   pprof-fixture basic OUT        hand-made heap profile; expected values in
 *                                  tests/e2e/pprof.sh
 *   pprof-fixture default OUT      the same with default_sample_type = alloc_space
 *   pprof-fixture random SEED OUT  many samples over random stacks (inline frames,
 *                                  recursion, zero and negative values)
 *   pprof-fixture big N DEPTH OUT  N samples of DEPTH frames (benchmark)
 *
 * OUT "-" is stdout. Exit 0 on success, 1 on error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pprof/pprof.h"

static const struct pprof_value_type heap_types[] = {
    {"alloc_objects", "count"},
    {"alloc_space", "bytes"},
    {"inuse_objects", "count"},
    {"inuse_space", "bytes"},
};

#define TRY(expr)                                                                                  \
	do {                                                                                       \
		int err_ = (expr);                                                                 \
		if (err_) {                                                                        \
			fprintf(stderr, "pprof-fixture: %s: %s\n", #expr, strerror(-err_));        \
			return err_;                                                               \
		}                                                                                  \
	} while (0)

static int heap_header(struct pprof_builder *b)
{
	const struct pprof_value_type period = {"space", "bytes"};

	TRY(pprof_set_sample_types(b, heap_types, 4));
	TRY(pprof_set_period(b, &period, 524288));
	pprof_set_time(b, 1700000000123456789ll, 0);
	return 0;
}

static int fn(struct pprof_builder *b, const char *name, int64_t start, uint64_t *id)
{
	struct pprof_function f = {name, name, "/src/fixture.go", start};
	return pprof_add_function(b, &f, id);
}

/* Adds a sample of four heap values with a "bytes" numeric label. */
static int heap_sample(struct pprof_builder *b, const uint64_t *locs, size_t n, const int64_t v[4],
		       int64_t size, const char *kind)
{
	struct pprof_label labels[2] = {{.key = "bytes", .num = size},
					{.key = "kind", .str = kind}};
	return pprof_add_sample(b, locs, n, v, 4, labels, kind ? 2 : 1);
}

/*
 * Five samples; see tests/e2e/pprof.sh for the values each viewer must show.
 * Locations 1 and 3 hold inlined frames (2 and 3 lines); sample 4 repeats sample 1's
 * stack and label and must stay a separate sample.
 */
static int basic(struct pprof_builder *b)
{
	struct pprof_mapping exe = {0x400000, 0x800000, 0,   "/usr/bin/fixture", "abc123", true,
				    true,     true,	true};
	struct pprof_mapping lib = {
	    0x7f0000000000, 0x7f0000100000, 0x1000, "/lib/libfake.so", "", true,
	    false,	    false,	    false};
	uint64_t mexe, mlib, f_main, f_alloc, f_helper, f_grow, f_lib, f_worker, l[6], again;

	TRY(heap_header(b));
	TRY(pprof_add_comment(b, "oomprof fixture comment"));
	TRY(pprof_add_comment(b, "second comment"));
	TRY(pprof_add_mapping(b, &exe, &mexe));
	TRY(pprof_add_mapping(b, &lib, &mlib));
	TRY(fn(b, "main.main", 3, &f_main));
	TRY(fn(b, "main.alloc", 8, &f_alloc));
	TRY(fn(b, "main.helper", 18, &f_helper));
	TRY(fn(b, "bytes.growSlice", 90, &f_grow));
	TRY(fn(b, "lib.fn", 1, &f_lib));
	TRY(fn(b, "main.worker", 28, &f_worker));
	{
		struct pprof_line l1[] = {{f_helper, 20}, {f_alloc, 10}};
		struct pprof_line l2[] = {{f_main, 5}};
		struct pprof_line l3[] = {{f_grow, 100}, {f_helper, 22}, {f_worker, 30}};
		struct pprof_line l4[] = {{f_lib, 1}};
		struct pprof_line l5[] = {{f_worker, 35}};
		TRY(pprof_add_location(b, mexe, 0x401000, l1, 2, &l[1]));
		TRY(pprof_add_location(b, mexe, 0x402000, l2, 1, &l[2]));
		TRY(pprof_add_location(b, mexe, 0x403000, l3, 3, &l[3]));
		TRY(pprof_add_location(b, mlib, 0x7f0000001000, l4, 1, &l[4]));
		TRY(pprof_add_location(b, mexe, 0x404000, l5, 1, &l[5]));
		TRY(pprof_add_location(b, mexe, 0x401000, l1, 2, &again));
		if (again != l[1])
			return -EINVAL;
	}
	{
		const uint64_t s1[] = {l[1], l[2]}, s2[] = {l[3], l[5], l[2]};
		const uint64_t s3[] = {l[4], l[5], l[2]}, s5[] = {l[2]};
		TRY(heap_sample(b, s1, 2, (int64_t[]){10, 10240, 5, 5120}, 1024, NULL));
		TRY(heap_sample(b, s2, 3, (int64_t[]){3, 12288, 3, 12288}, 4096, NULL));
		TRY(heap_sample(b, s3, 3, (int64_t[]){1, 1048576, 1, 1048576}, 1048576, "large"));
		TRY(heap_sample(b, s1, 2, (int64_t[]){2, 2048, 0, 0}, 1024, NULL));
		TRY(heap_sample(b, s5, 1, (int64_t[]){7, 700, 1, 100}, 100, NULL));
	}
	return 0;
}

/* A small deterministic generator (xorshift64*), so every run writes the same file. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

#define RND_FUNCS 300
#define RND_LOCS  900

static int random_locations(struct pprof_builder *b, uint64_t *seed, uint64_t *locs)
{
	struct pprof_mapping exe = {0x400000, 0x10000000, 0,   "/usr/bin/random", "feed", true,
				    true,     true,	  true};
	uint64_t m, fns[RND_FUNCS];

	TRY(pprof_add_mapping(b, &exe, &m));
	for (int i = 0; i < RND_FUNCS; i++) {
		char name[64];
		snprintf(name, sizeof(name), "pkg%d.Func%d", i % 7, i);
		TRY(fn(b, name, i, &fns[i]));
	}
	for (int i = 0; i < RND_LOCS; i++) {
		struct pprof_line lines[4];
		size_t n = rnd(seed) % 8 == 0 ? 1 + rnd(seed) % 4 : 1;
		for (size_t k = 0; k < n; k++)
			lines[k] = (struct pprof_line){fns[rnd(seed) % RND_FUNCS], 1 + i};
		TRY(pprof_add_location(b, m, 0x400000 + 16 * (uint64_t)i, lines, n, &locs[i]));
	}
	return 0;
}

static int random_profile(struct pprof_builder *b, uint64_t seed)
{
	uint64_t locs[RND_LOCS], stack[64];

	seed = seed * 2654435761u + 1;
	TRY(heap_header(b));
	TRY(random_locations(b, &seed, locs));
	for (int i = 0; i < 3000; i++) {
		size_t depth = 1 + rnd(&seed) % 40;
		int64_t v[4], size = 16 << (rnd(&seed) % 12);

		for (size_t k = 0; k < depth; k++)
			/* Few roots, many leaves: deep stacks share their callers. */
			stack[k] = locs[k + 1 == depth ? rnd(&seed) % 20 : rnd(&seed) % RND_LOCS];
		v[0] = (int64_t)(rnd(&seed) % 50);
		v[1] = v[0] * size;
		v[2] = rnd(&seed) % 5 == 0 ? 0 : v[0] / 2;
		v[3] = v[2] * size;
		if (i % 97 == 0)
			v[3] = -v[3]; /* pprof totals |value|; exercise that too */
		TRY(heap_sample(b, stack, depth, v, size, NULL));
	}
	return 0;
}

/* n samples of depth distinct frames each, drawn from a pool of functions. */
static int big_profile(struct pprof_builder *b, long n, long depth)
{
	uint64_t seed = 42, m, *stack, locs[4096];
	struct pprof_mapping exe = {0x400000, 0x10000000, 0,	"/usr/bin/big", "b16",
				    true,     true,	  true, false};
	int err = 0;

	TRY(heap_header(b));
	TRY(pprof_add_mapping(b, &exe, &m));
	if (depth < 1 || !(stack = calloc(depth, sizeof(*stack))))
		return -ENOMEM;
	for (int i = 0; i < 4096 && !err; i++) {
		char name[64];
		uint64_t f;
		snprintf(name, sizeof(name), "github.com/example/pkg%d.(*T).Method%d", i % 50, i);
		err = fn(b, name, i, &f);
		if (!err)
			err = pprof_add_location(b, m, 0x400000 + 64 * (uint64_t)i,
						 &(struct pprof_line){f, i}, 1, &locs[i]);
	}
	for (long i = 0; i < n && !err; i++) {
		int64_t v[4] = {1, 4096, 1, 4096};
		for (long k = 0; k < depth; k++)
			stack[k] = locs[rnd(&seed) % 4096];
		err = heap_sample(b, stack, depth, v, 4096, NULL);
	}
	free(stack);
	return err;
}

static int output(struct pprof_builder *b, const char *path)
{
	if (!strcmp(path, "-"))
		return pprof_write_file(b, stdout);
	return pprof_write_atomic(b, path, 0640);
}

static int usage(void)
{
	fprintf(stderr, "usage: pprof-fixture basic|default OUT | random SEED OUT | "
			"big N DEPTH OUT\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct pprof_builder *b;
	int err;

	if (argc < 3)
		return usage();
	b = pprof_builder_new();
	if (!b) {
		perror("pprof-fixture");
		return 1;
	}
	if (!strcmp(argv[1], "basic") && argc == 3) {
		err = basic(b);
	} else if (!strcmp(argv[1], "default") && argc == 3) {
		err = basic(b);
		if (!err)
			err = pprof_set_default_sample_type(b, "alloc_space");
	} else if (!strcmp(argv[1], "random") && argc == 4) {
		err = random_profile(b, strtoull(argv[2], NULL, 0));
	} else if (!strcmp(argv[1], "big") && argc == 5) {
		err = big_profile(b, strtol(argv[2], NULL, 0), strtol(argv[3], NULL, 0));
	} else {
		pprof_builder_free(b);
		return usage();
	}
	if (!err)
		err = output(b, argv[argc - 1]);
	if (err)
		fprintf(stderr, "pprof-fixture: %s\n", strerror(-err));
	pprof_builder_free(b);
	return err ? 1 : 0;
}
