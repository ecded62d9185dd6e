#include "oomprof/profile/heapprof.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lines one Location can hold: a deck of inlined frames of one physical function. */
#define MAX_DECK 64

/* A symbolized return PC, cached per address: 6.4M lookups at 50,000 × 128 frames
 * touch only a few thousand distinct PCs. */
struct pc_entry {
	uint64_t pc; /* runtime return PC; 0 = empty slot */
	bool found;
	bool is_runtime; /* FuncForPC(pc) names a runtime.* function */
	bool is_goexit;	 /* runtime.goexit: the bottom of every goroutine, dropped */
	struct gosym_frame frame;
	uint64_t function_id; /* pprof function id, 0 until interned */
	uint64_t location_id; /* pprof id of the Location of this PC alone, 0 until made */
};

struct pc_cache {
	struct pc_entry *slots;
	size_t mask, count;
};

/* PCs accumulated for one Location (runtime/pprof's pcDeck). */
struct deck {
	size_t n;
	uint64_t first_pc;
	const struct pc_entry *frames[MAX_DECK];
};

struct builder_ctx {
	const struct heap_binary *bin;
	struct pprof_builder *pb;
	struct pc_cache cache;
	uint64_t *mapping_ids; /* per bin->maps entry, 0 when not an executable mapping */
	uint64_t *locs;	       /* location ids of the sample being built */
	size_t nlocs, locs_cap;
	struct deck deck;
	struct pc_entry inlined_callers[MAX_DECK]; /* frames added by expand_final_inline */
	bool hide_internal_runtime; /* the release's runtime/pprof hides internal/runtime/ */
};

static size_t hash_pc(uint64_t pc)
{
	return (size_t)((pc * 0x9e3779b97f4a7c15ull) >> 17);
}

static int cache_grow(struct pc_cache *c)
{
	size_t cap = c->slots ? (c->mask + 1) * 2 : 4096;
	struct pc_entry *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; c->slots && i <= c->mask; i++) {
		if (!c->slots[i].pc)
			continue;
		size_t j = hash_pc(c->slots[i].pc) & (cap - 1);
		while (slots[j].pc)
			j = (j + 1) & (cap - 1);
		slots[j] = c->slots[i];
	}
	free(c->slots);
	c->slots = slots;
	c->mask = cap - 1;
	return 0;
}

/*
 * FuncForPC(pc).Name() starts with "runtime." (or, from Go 1.24, "internal/runtime/"):
 * runtime/pprof hides such leading frames.
 */
static bool names_runtime(const struct gosym *sym, uint64_t file_pc, bool internal_too)
{
	struct gosym_frame chain[16];
	int n = gosym_lookup(sym, file_pc, 0, chain, 16);

	if ((n <= 0 && n != -ENOSPC) || chain[0].kind != GOSYM_FRAME_GO)
		return false;
	return !strncmp(chain[0].raw_name, "runtime.", 8) ||
	       (internal_too && !strncmp(chain[0].raw_name, "internal/runtime/", 17));
}

/*
 * Makes room for n more PCs. Called before each bucket, never during one: the deck
 * holds pointers into the cache, which growing would move.
 */
static int cache_reserve(struct pc_cache *c, size_t n)
{
	while ((c->count + n) * 2 > (c->slots ? c->mask + 1 : 0)) {
		int err = cache_grow(c);
		if (err)
			return err;
	}
	return 0;
}

/* The cached entry for a runtime return PC, symbolizing it on first sight. */
static const struct pc_entry *lookup_pc(struct builder_ctx *ctx, uint64_t pc)
{
	struct pc_cache *c = &ctx->cache;
	uint64_t file_pc = pc - ctx->bin->bias;
	struct pc_entry *e;
	size_t i;

	i = hash_pc(pc) & c->mask;
	while (c->slots[i].pc && c->slots[i].pc != pc)
		i = (i + 1) & c->mask;
	e = &c->slots[i];
	if (e->pc)
		return e;
	e->pc = pc;
	e->found = gosym_pc(ctx->bin->sym, file_pc, &e->frame) == 0 &&
		   e->frame.kind != GOSYM_FRAME_UNKNOWN;
	e->is_runtime = names_runtime(ctx->bin->sym, file_pc, ctx->hide_internal_runtime);
	e->is_goexit = e->found && !strcmp(e->frame.raw_name, "runtime.goexit");
	c->count++;
	return e;
}

static uint64_t mapping_for(const struct builder_ctx *ctx, uint64_t addr)
{
	const struct proc_maps *maps = ctx->bin->maps;

	for (size_t i = 0; maps && i < maps->n; i++)
		if (ctx->mapping_ids[i] && maps->maps[i].start <= addr && addr < maps->maps[i].end)
			return ctx->mapping_ids[i];
	return 0;
}

static int intern_function(struct builder_ctx *ctx, struct pc_entry *e)
{
	/* runtime/pprof names functions by their symbol name (runtime_FrameSymbolName,
	 * Frame.Function before Go 1.21): generic shapes included. */
	struct pprof_function f = {
	    .name = e->frame.raw_name,
	    .system_name = e->frame.raw_name,
	    .filename = e->frame.file,
	    .start_line = e->frame.start_line,
	};

	if (e->function_id)
		return 0;
	return pprof_add_function(ctx->pb, &f, &e->function_id);
}

static int push_location(struct builder_ctx *ctx, uint64_t id)
{
	if (ctx->nlocs == ctx->locs_cap) {
		size_t cap = ctx->locs_cap ? ctx->locs_cap * 2 : 256;
		uint64_t *grown = realloc(ctx->locs, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		ctx->locs = grown;
		ctx->locs_cap = cap;
	}
	ctx->locs[ctx->nlocs++] = id;
	return 0;
}

/* Emits the deck as one Location (address = first PC - 1, as runtime/pprof). */
static int deck_flush(struct builder_ctx *ctx)
{
	struct deck *d = &ctx->deck;
	struct pprof_line lines[MAX_DECK];
	uint64_t id;
	int err;

	if (!d->n)
		return 0;
	/* Most Locations are one PC seen in many stacks: make each only once. */
	if (d->n == 1 && d->frames[0]->location_id && d->frames[0]->pc == d->first_pc) {
		d->n = 0;
		return push_location(ctx, d->frames[0]->location_id);
	}
	for (size_t i = 0; i < d->n; i++) {
		struct pc_entry *e = (struct pc_entry *)d->frames[i];
		if ((err = intern_function(ctx, e)))
			return err;
		lines[i].function_id = e->function_id;
		lines[i].line = e->frame.line;
	}
	err = pprof_add_location(ctx->pb, mapping_for(ctx, d->first_pc - 1), d->first_pc - 1, lines,
				 d->n, &id);
	if (!err && d->n == 1 && d->frames[0]->pc == d->first_pc)
		((struct pc_entry *)d->frames[0])->location_id = id;
	d->n = 0;
	return err ? err : push_location(ctx, id);
}

/* A location for a PC no symbol table knows: address only, for later symbolization. */
static int add_bare_location(struct builder_ctx *ctx, uint64_t pc)
{
	uint64_t id;
	int err = pprof_add_location(ctx->pb, mapping_for(ctx, pc - 1), pc - 1, NULL, 0, &id);

	return err ? err : push_location(ctx, id);
}

/*
 * runtime/pprof's pcDeck.tryAdd: a frame joins the deck when the deck's last frame was
 * inlined into the same physical function (and it is not a recursive call).
 */
static bool deck_accepts(const struct deck *d, const struct pc_entry *e)
{
	const struct gosym_frame *last, *next = &e->frame;

	if (!d->n)
		return true;
	if (d->n == MAX_DECK)
		return false;
	last = &d->frames[d->n - 1]->frame;
	if (!last->inlined || !last->entry || !next->entry || last->entry != next->entry)
		return false;
	return strcmp(last->raw_name, next->raw_name) != 0;
}

static int deck_add(struct builder_ctx *ctx, uint64_t pc, const struct pc_entry *e)
{
	struct deck *d = &ctx->deck;
	int err;

	if (!deck_accepts(d, e) && (err = deck_flush(ctx)))
		return err;
	if (!d->n)
		d->first_pc = pc;
	d->frames[d->n++] = e;
	return 0;
}

/*
 * runtime_expandFinalInlineFrame: a stack cut at the depth limit may end inside
 * inlined code; its inlined callers are added so the last Location is whole.
 */
static int expand_final_inline(struct builder_ctx *ctx, const struct pc_entry *last)
{
	struct gosym_frame chain[MAX_DECK];
	int n;

	if (!last->found || !last->frame.inlined)
		return 0;
	n = gosym_lookup(ctx->bin->sym, last->frame.pc, 0, chain, MAX_DECK);
	for (int i = 1; i < n; i++) {
		struct pc_entry *e = &ctx->inlined_callers[i];
		int err;

		*e = (struct pc_entry){
		    .pc = chain[i].pc + ctx->bin->bias + 1, .found = true, .frame = chain[i]};
		if ((err = deck_add(ctx, e->pc, e)))
			return err;
	}
	return 0;
}

/* runtime/pprof's appendLocsForStack for one bucket's (runtime-hidden) stack. */
static int append_locations(struct builder_ctx *ctx, const uint64_t *pcs, size_t n)
{
	const struct pc_entry *e = NULL;
	int err;

	ctx->nlocs = 0;
	ctx->deck.n = 0;
	for (size_t i = 0; i < n; i++) {
		e = lookup_pc(ctx, pcs[i]);
		if (!e->found) {
			if ((err = deck_flush(ctx)) || (err = add_bare_location(ctx, pcs[i])))
				return err;
			continue;
		}
		if (e->is_goexit) {
			if ((err = deck_flush(ctx)))
				return err;
			continue;
		}
		if ((err = deck_add(ctx, pcs[i], e)))
			return err;
	}
	if (e && (err = expand_final_inline(ctx, e)))
		return err;
	return deck_flush(ctx);
}

/* Index of the first frame not in a runtime.* function, or 0 when all are. */
static size_t first_non_runtime(struct builder_ctx *ctx, const struct raw_bucket *b)
{
	for (size_t i = 0; i < b->nstk; i++) {
		const struct pc_entry *e = lookup_pc(ctx, b->pcs[i]);
		if (!e->is_runtime)
			return i;
	}
	return 0;
}

static int add_bucket(struct builder_ctx *ctx, const struct raw_bucket *b,
		      const struct heap_values *v)
{
	struct pprof_label bytes = {.key = "bytes", .num = (int64_t)b->size};
	size_t skip;
	int err;

	if ((err = cache_reserve(&ctx->cache, (size_t)b->nstk + 1)))
		return err;
	skip = first_non_runtime(ctx, b);
	err = append_locations(ctx, b->pcs + skip, b->nstk - skip);
	/* Only runtime frames: runtime/pprof tries again showing them all. */
	if (!err && !ctx->nlocs && skip)
		err = append_locations(ctx, b->pcs, b->nstk);
	if (err)
		return err;
	return pprof_add_sample(ctx->pb, ctx->locs, ctx->nlocs, v->v, HEAP_NVALUES, &bytes,
				v->v[HEAP_ALLOC_OBJECTS] ? 1 : 0);
}

static int add_mappings(struct builder_ctx *ctx)
{
	const struct proc_maps *maps = ctx->bin->maps;
	const struct gosym_info *info = gosym_info(ctx->bin->sym);
	const char *build_id = info->gnu_build_id[0] ? info->gnu_build_id : info->go_build_id;

	if (!maps || !maps->n)
		return 0;
	ctx->mapping_ids = calloc(maps->n, sizeof(uint64_t));
	if (!ctx->mapping_ids)
		return -ENOMEM;
	for (size_t i = 0; i < maps->n; i++) {
		const struct proc_mapping *m = &maps->maps[i];
		struct pprof_mapping pm = {
		    .start = m->start,
		    .limit = m->end,
		    .offset = m->offset,
		    .filename = m->path,
		    .build_id = build_id,
		    .has_functions = true,
		    .has_filenames = true,
		    .has_line_numbers = true,
		    .has_inline_frames = true,
		};
		int err;
		if (!m->exec)
			continue;
		if ((err = pprof_add_mapping(ctx->pb, &pm, &ctx->mapping_ids[i])))
			return err;
	}
	return 0;
}

static int add_comment(struct pprof_builder *pb, const char *key, const char *value)
{
	char line[1024];

	if (!value || !*value)
		return 0;
	snprintf(line, sizeof(line), "%s: %s", key, value);
	return pprof_add_comment(pb, line);
}

static int add_header(struct builder_ctx *ctx, const struct raw_profile *raw,
		      const struct heap_meta *meta)
{
	static const struct pprof_value_type types[HEAP_NVALUES] = {
	    {"alloc_objects", "count"},
	    {"alloc_space", "bytes"},
	    {"inuse_objects", "count"},
	    {"inuse_space", "bytes"},
	};
	static const struct pprof_value_type period = {"space", "bytes"};
	const struct gosym_info *info = gosym_info(ctx->bin->sym);
	char text[256];
	int err;

	if ((err = pprof_set_sample_types(ctx->pb, types, HEAP_NVALUES)) ||
	    (err = pprof_set_period(ctx->pb, &period, raw->mem_profile_rate)))
		return err;
	pprof_set_time(ctx->pb, meta->time_ns, 0);
	snprintf(text, sizeof(text), "%d", (int)meta->pid);
	err = add_comment(ctx->pb, "pid", text);
	if (!err)
		err = add_comment(ctx->pb, "comm", meta->comm);
	if (!err)
		err = add_comment(ctx->pb, "go version", info->go_version);
	if (!err)
		err = add_comment(ctx->pb, "go build id", info->go_build_id);
	if (!err)
		err = add_comment(ctx->pb, "memory cgroup", meta->memcg);
	if (!err)
		err = add_comment(ctx->pb, "container id", meta->container_id);
	if (!err)
		err = add_comment(ctx->pb, "trigger", meta->trigger);
	if (!err)
		err = add_comment(ctx->pb, "cycles", cycle_mode_name(meta->mode));
	snprintf(text, sizeof(text), "%s (%zu buckets)%s%s", raw_status_name(raw->status),
		 raw->nbuckets, raw->status_detail[0] ? ": " : "", raw->status_detail);
	if (!err)
		err = add_comment(ctx->pb, "capture status", text);
	for (int i = 0; !err && i < 8 && meta->extra[i]; i++)
		err = pprof_add_comment(ctx->pb, meta->extra[i]);
	return err;
}

/*
 * The buckets in the shape of the binary's runtime (*shaped, a copy, when that is not
 * the sources' Go 1.19–1.26 shape), and for a release newer than oomprof knows, the
 * check that they fit it. Returns 0, -ENOTSUP with a message, or -ENOMEM.
 */
static int shape_buckets(const struct raw_profile *raw, const struct gosym *sym,
			 struct gosym_layout *l, struct raw_profile *shaped, char *err,
			 size_t errlen)
{
	char why[200] = "", newer[160] = "";

	if (gosym_layout(sym, l)) {
		snprintf(err, errlen, "no known runtime layout for Go version '%s'",
			 gosym_info(sym)->go_version);
		return -ENOTSUP;
	}
	if (raw->canonical)
		return 0; /* shaped and checked once already */
	if (!l->cycle_has_bytes) {
		*shaped = *raw;
		shaped->buckets =
		    malloc((raw->nbuckets ? raw->nbuckets : 1) * sizeof(*raw->buckets));
		if (!shaped->buckets)
			return -ENOMEM;
		for (size_t i = 0; i < raw->nbuckets; i++) {
			shaped->buckets[i] = raw->buckets[i];
			raw_bucket_counts_only(&shaped->buckets[i]);
		}
	}
	if (!l->verified && !raw_profile_fits(raw, !l->cycle_has_bytes, why, sizeof(why))) {
		gosym_newer_release(sym, newer, sizeof(newer));
		snprintf(err, errlen, "%s, and its buckets do not fit the Go 1.%d layout: %s",
			 newer, l->release_minor, why);
		return -ENOTSUP;
	}
	return 0;
}

int heapprof_shape(const struct raw_profile *raw, const struct gosym *sym,
		   struct raw_profile *shaped, char *err, size_t errlen)
{
	struct raw_profile once = {0};
	struct gosym_layout l;
	size_t n = raw->nbuckets ? raw->nbuckets : 1;
	int e = shape_buckets(raw, sym, &l, &once, err, errlen);

	if (e == -ENOMEM)
		snprintf(err, errlen, "shaping the buckets: %s", strerror(ENOMEM));
	if (e)
		return e;
	*shaped = *raw;
	shaped->canonical = true;
	if (once.buckets) {
		shaped->buckets = once.buckets;
		return 0;
	}
	if (!(shaped->buckets = malloc(n * sizeof(*raw->buckets)))) {
		snprintf(err, errlen, "shaping the buckets: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	memcpy(shaped->buckets, raw->buckets, raw->nbuckets * sizeof(*raw->buckets));
	return 0;
}

/* A release newer than oomprof knows: say in the profile that its layout was assumed. */
static int add_layout_note(struct builder_ctx *ctx, const struct gosym_layout *l)
{
	char text[320], newer[160] = "";

	if (l->verified)
		return 0;
	gosym_newer_release(ctx->bin->sym, newer, sizeof(newer));
	snprintf(text, sizeof(text),
		 "runtime layout not verified for %s: %s; Go 1.%d's layout used, checked "
		 "against this process's buckets",
		 gosym_info(ctx->bin->sym)->go_version, newer, l->release_minor);
	return pprof_add_comment(ctx->pb, text);
}

int heapprof_build(const struct raw_profile *raw, const struct heap_binary *bin,
		   const struct heap_meta *meta, struct pprof_builder **out, char *err,
		   size_t errlen)
{
	struct builder_ctx ctx = {.bin = bin};
	struct heap_values *values = NULL;
	struct raw_profile shaped = {0};
	struct gosym_layout layout;
	int e = 0;

	*out = NULL;
	e = shape_buckets(raw, bin->sym, &layout, &shaped, err, errlen);
	if (e == -ENOMEM)
		snprintf(err, errlen, "building the profile: %s", strerror(ENOMEM));
	if (e)
		return e;
	if (shaped.buckets)
		raw = &shaped;
	ctx.hide_internal_runtime = layout.pprof_hides_internal_runtime;
	ctx.pb = pprof_builder_new();
	values = calloc(raw->nbuckets ? raw->nbuckets : 1, sizeof(*values));
	if (!ctx.pb || !values) {
		e = -ENOMEM;
		goto done;
	}
	if ((e = add_header(&ctx, raw, meta)) || (e = add_layout_note(&ctx, &layout)) ||
	    (e = add_mappings(&ctx)))
		goto done;
	decode_values(raw, meta->mode, values);
	for (size_t i = 0; i < raw->nbuckets && !e; i++) {
		const struct heap_values *v = &values[i];
		/* A bucket with nothing in the selected cycles carries no information. */
		if (!v->v[0] && !v->v[1] && !v->v[2] && !v->v[3])
			continue;
		e = add_bucket(&ctx, &raw->buckets[i], v);
	}
done:
	if (e) {
		snprintf(err, errlen, "building the profile: %s", strerror(-e));
		pprof_builder_free(ctx.pb);
	} else {
		*out = ctx.pb;
	}
	free(values);
	free(shaped.buckets); /* the pcs belong to raw */
	free(ctx.cache.slots);
	free(ctx.mapping_ids);
	free(ctx.locs);
	return e;
}
