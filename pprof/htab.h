/*
 * Internal to pprof/: an open-addressing hash set of entry indexes. The table stores
 * only (hash, index); the caller owns the entries and says whether one matches a key,
 * so one table type serves strings, functions, locations, mappings and id maps.
 */
#ifndef PPROF_HTAB_H
#define PPROF_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct htab {
	uint32_t *idx;	/* entry index + 1; 0 = empty slot */
	uint32_t *hash; /* the key's 32-bit hash, to skip most comparisons and to grow */
	size_t mask;	/* capacity - 1 (capacity is a power of two) */
	size_t count;
};

/* Does entry idx equal key? */
typedef bool (*htab_eq_fn)(const void *ctx, uint32_t idx, const void *key);

/* The largest index a table holds (indexes are stored + 1 in 32 bits). */
#define HTAB_MAX_INDEX (UINT32_MAX - 1)

void htab_free(struct htab *t);
/*
 * Finds key. Returns true and sets *idx when present; otherwise false, and *slot is
 * where htab_insert puts it (valid until the next insert).
 */
bool htab_find(const struct htab *t, uint32_t hash, htab_eq_fn eq, const void *ctx, const void *key,
	       uint32_t *idx, size_t *slot);
/* Adds idx at slot (from a failed htab_find with the same hash); may grow the table. */
int htab_insert(struct htab *t, uint32_t hash, size_t slot, uint32_t idx);

/* Hashing: feed fields in order, then finish. seed makes collisions unpredictable. */
uint64_t hash_bytes(uint64_t h, const void *data, size_t len);
/* One multiply per word: location keys hash several words each, millions of times. */
static inline uint64_t hash_u64(uint64_t h, uint64_t v)
{
	h = (h ^ v) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 32);
}
uint32_t hash_finish(uint64_t h);

#endif
