/* Open addressing with linear probing; the table doubles at 50% load. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pprof/htab.h"

#define MIN_CAPACITY 64

void htab_free(struct htab *t)
{
	free(t->idx);
	free(t->hash);
	memset(t, 0, sizeof(*t));
}

bool htab_find(const struct htab *t, uint32_t hash, htab_eq_fn eq, const void *ctx, const void *key,
	       uint32_t *idx, size_t *slot)
{
	if (!t->idx) {
		*slot = 0;
		return false;
	}
	for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		if (!t->idx[i]) {
			*slot = i;
			return false;
		}
		if (t->hash[i] == hash && eq(ctx, t->idx[i] - 1, key)) {
			*idx = t->idx[i] - 1;
			return true;
		}
	}
}

/* Moves every entry into a table of capacity cap (a power of two). */
static int htab_resize(struct htab *t, size_t cap)
{
	uint32_t *idx = calloc(cap, sizeof(*idx));
	uint32_t *hash = calloc(cap, sizeof(*hash));

	if (!idx || !hash) {
		free(idx);
		free(hash);
		return -ENOMEM;
	}
	for (size_t i = 0; t->idx && i <= t->mask; i++) {
		size_t j;
		if (!t->idx[i])
			continue;
		for (j = t->hash[i] & (cap - 1); idx[j]; j = (j + 1) & (cap - 1))
			;
		idx[j] = t->idx[i];
		hash[j] = t->hash[i];
	}
	free(t->idx);
	free(t->hash);
	t->idx = idx;
	t->hash = hash;
	t->mask = cap - 1;
	return 0;
}

int htab_insert(struct htab *t, uint32_t hash, size_t slot, uint32_t idx)
{
	if (idx > HTAB_MAX_INDEX)
		return -E2BIG;
	/* Grow first, so a failure leaves the table as it was and never full. */
	if ((t->count + 1) * 2 > t->mask + 1) {
		size_t cap = t->idx ? (t->mask + 1) * 2 : MIN_CAPACITY;
		int err;

		if (cap > SIZE_MAX / 4 / sizeof(uint32_t))
			return -E2BIG;
		err = htab_resize(t, cap);
		if (err)
			return err;
		/* The key is absent: its place is the first free slot on its probe path. */
		for (slot = hash & t->mask; t->idx[slot]; slot = (slot + 1) & t->mask)
			;
	}
	t->idx[slot] = idx + 1;
	t->hash[slot] = hash;
	t->count++;
	return 0;
}

/* FNV-1a: simple and good enough once the result is mixed by hash_finish. */
uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* splitmix64's finaliser spreads FNV's weak low bits over the whole word. */
uint32_t hash_finish(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return (uint32_t)h;
}
