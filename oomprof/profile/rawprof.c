#include "oomprof/profile/rawprof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int raw_profile_add(struct raw_profile *p, const struct raw_bucket *b)
{
	struct raw_bucket *slot;

	if (p->nbuckets == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1024;
		struct raw_bucket *grown = realloc(p->buckets, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		p->buckets = grown;
		p->cap = cap;
	}
	slot = &p->buckets[p->nbuckets];
	*slot = *b;
	slot->pcs = NULL;
	if (b->nstk) {
		slot->pcs = malloc(b->nstk * sizeof(uint64_t));
		if (!slot->pcs)
			return -ENOMEM;
		memcpy(slot->pcs, b->pcs, b->nstk * sizeof(uint64_t));
	}
	p->nbuckets++;
	return 0;
}

void raw_profile_free(struct raw_profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nbuckets; i++)
		free(p->buckets[i].pcs);
	free(p->buckets);
	p->buckets = NULL;
	p->nbuckets = p->cap = 0;
}

const char *raw_status_name(enum raw_status s)
{
	switch (s) {
	case RAW_COMPLETE:
		return "complete";
	case RAW_TRUNCATED:
		return "truncated";
	case RAW_READ_ERROR:
		return "read error";
	case RAW_CORRUPT:
		return "corrupt";
	case RAW_PARTIAL:
		return "partial";
	}
	return "unknown";
}

void raw_bucket_counts_only(struct raw_bucket *b)
{
	const uint64_t w[8] = {b->active.allocs,	 b->active.frees,
			       b->active.alloc_bytes,	 b->active.free_bytes,
			       b->future[0].allocs,	 b->future[0].frees,
			       b->future[0].alloc_bytes, b->future[0].free_bytes};
	struct raw_cycle *c[4] = {&b->active, &b->future[0], &b->future[1], &b->future[2]};

	for (int i = 0; i < 4; i++) {
		c[i]->allocs = w[2 * i];
		c[i]->frees = w[2 * i + 1];
		c[i]->alloc_bytes = c[i]->allocs * b->size;
		c[i]->free_bytes = c[i]->frees * b->size;
	}
}

static bool cycle_has_bytes(const struct raw_cycle *c, uint64_t size)
{
	return c->alloc_bytes == c->allocs * size && c->free_bytes == c->frees * size;
}

/* Whether every cycle of b holds bytes = counts * size (the Go 1.19–1.26 shape). */
static bool bucket_has_bytes(const struct raw_bucket *b, int *bad_cycle)
{
	const struct raw_cycle *c[4] = {&b->active, &b->future[0], &b->future[1], &b->future[2]};

	for (int k = 0; k < 4; k++) {
		if (!cycle_has_bytes(c[k], b->size)) {
			*bad_cycle = k;
			return false;
		}
	}
	return true;
}

static bool frees_fit(const struct raw_bucket *b)
{
	const struct raw_cycle *c[4] = {&b->active, &b->future[0], &b->future[1], &b->future[2]};
	uint64_t allocs = 0, frees = 0;

	for (int k = 0; k < 4; k++) {
		allocs += c[k]->allocs;
		frees += c[k]->frees;
	}
	return b->size && frees <= allocs;
}

bool raw_profile_fits(const struct raw_profile *p, bool counts_only, char *why, size_t len)
{
	bool all_bytes = true, any = false;
	int k = 0;

	for (size_t i = 0; i < p->nbuckets; i++) {
		struct raw_bucket b = p->buckets[i];

		any |= b.active.allocs || b.future[0].allocs || b.future[1].allocs ||
		       b.future[2].allocs;
		if (!bucket_has_bytes(&b, &k)) {
			all_bytes = false;
			if (!counts_only) {
				snprintf(why, len,
					 "bucket %zu: cycle %d bytes are not its counts times the "
					 "object size %llu",
					 i, k, (unsigned long long)b.size);
				return false;
			}
		}
		if (counts_only)
			raw_bucket_counts_only(&b);
		if (!frees_fit(&b)) {
			snprintf(why, len,
				 "bucket %zu: %llu frees of %llu allocations of size %llu", i,
				 (unsigned long long)(b.active.frees + b.future[0].frees),
				 (unsigned long long)(b.active.allocs + b.future[0].allocs),
				 (unsigned long long)b.size);
			return false;
		}
	}
	if (counts_only && any && all_bytes) {
		snprintf(
		    why, len,
		    "every bucket holds bytes beside its counts, as Go 1.19–1.26 lay them out");
		return false;
	}
	return true;
}
