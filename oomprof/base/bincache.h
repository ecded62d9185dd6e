/*
 * Per-binary cache: 500 replicas of one Go binary cost one parse. Keyed by the
 * executable's device and inode (as /proc/PID/exe shows it, so containers work) and
 * checked by size, modification time and Go build ID, so a replaced file is parsed
 * again. Non-Go binaries are remembered too: each costs one stat per process.
 */
#ifndef OOMPROF_BINCACHE_H
#define OOMPROF_BINCACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gosym/gosym.h"

struct bincache;

struct bincache_entry {
	uint64_t dev, ino, size;
	int64_t mtime_ns;
	bool is_go; /* false: not a Go program (or unreadable), sym is NULL */
	struct gosym *sym;
	unsigned refs;	     /* processes using it */
	char why[256];	     /* why it is not usable, when is_go is false */
	char go_version[64]; /* is_go false: a Go program gosym cannot read ("" if not Go) */
};

struct bincache *bincache_new(void);
void bincache_free(struct bincache *c);

/*
 * The entry for pid's executable, parsing it on first sight; takes a reference.
 * NULL only when the executable cannot be looked at at all (errno set: ESRCH, EACCES).
 */
struct bincache_entry *bincache_get(struct bincache *c, pid_t pid);

/* Drops a reference; an entry nobody uses is freed. NULL is fine. */
void bincache_put(struct bincache *c, struct bincache_entry *e);

/* Entries held, and how many binaries were parsed since creation (for tests/stats). */
size_t bincache_size(const struct bincache *c);
uint64_t bincache_parses(const struct bincache *c);

#endif
