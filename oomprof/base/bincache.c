#include "oomprof/base/bincache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Non-Go binaries remembered at most (each is a few hundred bytes). */
#define BINCACHE_MAX_NON_GO 4096

struct bincache {
	struct bincache_entry **v;
	size_t n, cap;
	uint64_t parses;
};

struct bincache *bincache_new(void)
{
	return calloc(1, sizeof(struct bincache));
}

static void entry_free(struct bincache_entry *e)
{
	if (!e)
		return;
	gosym_close(e->sym);
	free(e);
}

void bincache_free(struct bincache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		entry_free(c->v[i]);
	free(c->v);
	free(c);
}

static bool same_file(const struct bincache_entry *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino && e->size == (uint64_t)st->st_size &&
	       e->mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static struct bincache_entry *parse(pid_t pid, const struct stat *st)
{
	struct bincache_entry *e = calloc(1, sizeof(*e));
	struct gosym_opts opts;
	char path[64];
	int err;

	if (!e)
		return NULL;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = (uint64_t)st->st_size;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	opts = (struct gosym_opts){.errbuf = e->why, .errbuf_len = sizeof(e->why)};
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	e->sym = gosym_open(path, &opts);
	err = errno;
	e->is_go = e->sym != NULL;
	if (!e->is_go && err == ENOTSUP) /* a format gosym does not read: Go or not? */
		gosym_build_version(path, e->go_version, sizeof(e->go_version));
	if (!e->is_go && !e->why[0])
		snprintf(e->why, sizeof(e->why), "%s", strerror(err));
	return e;
}

static int append(struct bincache *c, struct bincache_entry *e)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct bincache_entry **v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = e;
	return 0;
}

struct bincache_entry *bincache_get(struct bincache *c, pid_t pid)
{
	struct bincache_entry *e;
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			errno = ESRCH;
		return NULL;
	}
	for (size_t i = 0; i < c->n; i++)
		if (same_file(c->v[i], &st)) {
			c->v[i]->refs++;
			return c->v[i];
		}
	e = parse(pid, &st);
	if (!e || append(c, e) < 0) {
		entry_free(e);
		errno = ENOMEM;
		return NULL;
	}
	c->parses++;
	e->refs = 1;
	return e;
}

static void remove_at(struct bincache *c, size_t i)
{
	entry_free(c->v[i]);
	c->v[i] = c->v[--c->n];
}

/*
 * Go binaries are freed with their last process. Non-Go ones stay, so the next
 * process of the same binary costs one stat, up to a bound on how many are kept.
 */
void bincache_put(struct bincache *c, struct bincache_entry *e)
{
	size_t non_go = 0;

	if (!e || (e->refs && --e->refs))
		return;
	for (size_t i = 0; i < c->n; i++)
		non_go += !c->v[i]->is_go;
	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i] == e && (e->is_go || non_go > BINCACHE_MAX_NON_GO)) {
			remove_at(c, i);
			return;
		}
	}
}

size_t bincache_size(const struct bincache *c)
{
	return c->n;
}

uint64_t bincache_parses(const struct bincache *c)
{
	return c->parses;
}
