#include "oomprof/profile/rawprof.h"

#include <errno.h>
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
