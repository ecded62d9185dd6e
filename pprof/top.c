/*
 * The `go tool pprof -top` table: one row per function name, flat and cumulative
 * values, and pprof's way of printing numbers.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pprof/htab.h"
#include "pprof/pprof.h"

struct top_node {
	struct pprof_top_entry e;
	char *name;   /* owned copy */
	size_t stamp; /* last sample (+1) counted into cum: count once per sample */
	bool called;  /* reached by a call that was never inlined anywhere */
};

/*
 * A caller → callee pair. pprof marks a node "(inline)" from its incoming edges, and
 * an edge is inline only if every sample's first use of it was an inlined call.
 */
struct top_edge {
	uint32_t from, to;
	bool inlined;
	size_t stamp; /* last sample (+1) that used the edge */
};

struct top_ctx {
	const struct pprof_profile *p;
	struct top_node *nodes;
	size_t n, cap;
	struct htab names;
	struct top_edge *edges;
	size_t nedges, capedges;
	struct htab edge_tab;
	uint32_t *fn_node; /* function index → node index + 1, 0 = not yet known */
};

/* Saturating, so that hostile values cannot overflow. */
static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (!__builtin_add_overflow(a, b, &r))
		return r;
	return b > 0 ? INT64_MAX : INT64_MIN;
}

static int64_t sat_abs(int64_t v)
{
	return v == INT64_MIN ? INT64_MAX : (v < 0 ? -v : v);
}

static bool node_name_eq(const void *ctx, uint32_t idx, const void *key)
{
	return !strcmp(((const struct top_ctx *)ctx)->nodes[idx].name, key);
}

/* The node for name, created when new. */
static int node_for_name(struct top_ctx *c, const char *name, uint32_t *out)
{
	uint32_t h = hash_finish(hash_bytes(0x51ed27, name, strlen(name)));
	size_t slot;
	char *copy;
	int err;

	if (htab_find(&c->names, h, node_name_eq, c, name, out, &slot))
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct top_node *nodes = realloc(c->nodes, cap * sizeof(*nodes));
		if (!nodes)
			return -ENOMEM;
		c->nodes = nodes;
		c->cap = cap;
	}
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	c->nodes[c->n] = (struct top_node){.name = copy};
	err = htab_insert(&c->names, h, slot, c->n);
	if (err) {
		free(copy);
		return err;
	}
	*out = c->n++;
	return 0;
}

/*
 * A frame without a function name is shown by the file it was mapped from, or as
 * "<unknown>", which is what pprof prints for it at function granularity.
 */
static int node_for_object(struct top_ctx *c, const struct pprof_mapping_info *m, uint32_t *out)
{
	const char *file = m ? m->filename : "", *base = strrchr(file, '/');
	char buf[4200];

	if (!*file)
		return node_for_name(c, "<unknown>", out);
	snprintf(buf, sizeof(buf), "[%s]", base ? base + 1 : file);
	return node_for_name(c, buf, out);
}

static int node_for_line(struct top_ctx *c, const struct pprof_location_info *loc, size_t k,
			 uint32_t *out)
{
	const struct pprof_function_info *f;
	size_t fi;
	int err;

	if (!loc->nlines || !loc->lines[k].function->name[0])
		return node_for_object(c, loc->mapping, out);
	f = loc->lines[k].function;
	/* Function infos are one array in the profile: the index is a cheap cache key. */
	fi = (size_t)(f - pprof_profile_function(c->p, 0));
	if (c->fn_node[fi]) {
		*out = c->fn_node[fi] - 1;
		return 0;
	}
	err = node_for_name(c, f->name, out);
	if (!err)
		c->fn_node[fi] = *out + 1;
	return err;
}

static bool edge_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct top_edge *e = &((const struct top_ctx *)ctx)->edges[idx];
	const uint32_t *k = key;

	return e->from == k[0] && e->to == k[1];
}

/*
 * Only caller → callee pairs that are inlined somewhere (adjacent lines of one
 * location) can make a node "(inline)", so only those are tracked, which keeps the
 * table small however many distinct calls the samples hold. They are entered up
 * front from the locations; a call between locations is always a real call.
 */
static int add_inline_pairs(struct top_ctx *c)
{
	for (size_t l = 0; l < pprof_profile_nlocations(c->p); l++) {
		const struct pprof_location_info *loc = pprof_profile_location(c->p, l);

		for (size_t k = 1; k < loc->nlines; k++) {
			uint32_t key[2], idx;
			uint32_t h;
			size_t slot;
			int err = node_for_line(c, loc, k, &key[0]);

			if (!err)
				err = node_for_line(c, loc, k - 1, &key[1]);
			if (err)
				return err;
			h = hash_finish(hash_bytes(0xed9e, key, sizeof(key)));
			if (key[0] == key[1] ||
			    htab_find(&c->edge_tab, h, edge_eq, c, key, &idx, &slot))
				continue;
			if (c->nedges == c->capedges) {
				size_t cap = c->capedges ? c->capedges * 2 : 256;
				struct top_edge *edges = realloc(c->edges, cap * sizeof(*edges));
				if (!edges)
					return -ENOMEM;
				c->edges = edges;
				c->capedges = cap;
			}
			c->edges[c->nedges] = (struct top_edge){key[0], key[1], true, 0};
			err = htab_insert(&c->edge_tab, h, slot, c->nedges);
			if (err)
				return err;
			c->nedges++;
		}
	}
	return 0;
}

/*
 * Notes a call from → to in sample i. Only the sample's first use of a pair counts
 * (as in pprof), and a pair stays inline only while every such use is inline.
 */
static void add_edge(struct top_ctx *c, uint32_t from, uint32_t to, bool inlined, size_t i)
{
	uint32_t key[2] = {from, to}, idx;
	size_t slot;
	struct top_edge *e;

	if (!htab_find(&c->edge_tab, hash_finish(hash_bytes(0xed9e, key, sizeof(key))), edge_eq, c,
		       key, &idx, &slot)) {
		c->nodes[to].called = true;
		return;
	}
	e = &c->edges[idx];
	if (e->stamp != i + 1) {
		e->inlined = e->inlined && inlined;
		e->stamp = i + 1;
	}
}

/*
 * Walks sample i from the root to the leaf as pprof does: every node gets v in cum
 * once, the last one (the innermost line of the leaf location) gets it in flat, and a
 * node reached from a different caller frame notes whether that call was inlined.
 */
static int add_sample(struct top_ctx *c, const struct pprof_sample_info *s, size_t i, int64_t v)
{
	uint32_t parent = UINT32_MAX;

	for (size_t l = s->nlocations; l-- > 0;) {
		const struct pprof_location_info *loc = s->locations[l];
		size_t nlines = loc->nlines ? loc->nlines : 1;

		for (size_t k = nlines; k-- > 0;) {
			struct top_node *node;
			uint32_t n;
			int err = node_for_line(c, loc, k, &n);

			if (err)
				return err;
			node = &c->nodes[n];
			if (node->stamp != i + 1) {
				node->stamp = i + 1;
				node->e.cum = sat_add(node->e.cum, v);
			}
			if (parent != UINT32_MAX && parent != n)
				add_edge(c, parent, n, k != nlines - 1, i);
			parent = n;
		}
	}
	if (parent != UINT32_MAX)
		c->nodes[parent].e.flat = sat_add(c->nodes[parent].e.flat, v);
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct pprof_top_entry *x = a, *y = b;
	int64_t fx = sat_abs(x->flat), fy = sat_abs(y->flat);
	int c;

	if (fx != fy)
		return fx > fy ? -1 : 1;
	c = strcmp(x->name, y->name);
	if (c)
		return c;
	return sat_abs(x->cum) > sat_abs(y->cum) ? -1 : sat_abs(x->cum) < sat_abs(y->cum);
}

/* Moves the nonzero nodes into out, sorted; out takes over their names. */
static int finish(struct top_ctx *c, struct pprof_top *out)
{
	struct pprof_top_entry *e = calloc(c->n + 1, sizeof(*e));
	uint8_t *in = calloc(c->n + 1, 1); /* bit 0: an inline edge in, bit 1: a call in */
	size_t n = 0;

	if (!e || !in) {
		free(e);
		free(in);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->nedges; i++)
		if (c->edges[i].stamp) /* used by some sample */
			in[c->edges[i].to] |= c->edges[i].inlined ? 1 : 2;
	for (size_t i = 0; i < c->n; i++)
		in[i] |= c->nodes[i].called ? 2 : 0;
	for (size_t i = 0; i < c->n; i++) {
		struct top_node *node = &c->nodes[i];

		/* pprof leaves out nodes whose values cancel out to nothing. */
		if (!node->e.flat && !node->e.cum)
			continue;
		e[n] = node->e;
		e[n].name = node->name;
		e[n].inline_label = !(in[i] & 1)  ? ""
				    : (in[i] & 2) ? "(partial-inline)"
						  : "(inline)";
		node->name = NULL;
		n++;
	}
	free(in);
	qsort(e, n, sizeof(*e), cmp_entry);
	out->entries = e;
	out->n = n;
	return 0;
}

/*
 * Adds every sample of p at value_index, times sign, into the table; stamp_base keeps
 * the samples of several profiles apart. The sum of |values| goes into *total.
 */
static int add_profile(struct top_ctx *c, const struct pprof_profile *p, size_t value_index,
		       int sign, size_t stamp_base, int64_t *total)
{
	int err;

	*total = 0;
	if (value_index >= pprof_profile_header(p)->ntypes)
		return -EINVAL;
	c->p = p;
	free(c->fn_node); /* the cache is per profile: it is indexed by its functions */
	c->fn_node = calloc(pprof_profile_nfunctions(p) + 1, sizeof(*c->fn_node));
	if (!c->fn_node)
		return -ENOMEM;
	err = add_inline_pairs(c);
	for (size_t i = 0; i < pprof_profile_nsamples(p) && !err; i++) {
		const struct pprof_sample_info *s = pprof_profile_sample(p, i);
		int64_t v = s->values[value_index];

		if (sign < 0)
			v = v == INT64_MIN ? INT64_MAX : -v;
		*total = sat_add(*total, sat_abs(v));
		/* pprof leaves zero-valued samples out of its graph. */
		if (v)
			err = add_sample(c, s, stamp_base + i, v);
	}
	return err;
}

static void ctx_free(struct top_ctx *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->nodes[i].name);
	free(c->nodes);
	free(c->edges);
	free(c->fn_node);
	htab_free(&c->names);
	htab_free(&c->edge_tab);
}

int pprof_top_compute(const struct pprof_profile *p, size_t value_index, struct pprof_top *out)
{
	struct top_ctx c = {0};
	int err;

	memset(out, 0, sizeof(*out));
	err = add_profile(&c, p, value_index, 1, 0, &out->total);
	if (!err)
		err = finish(&c, out);
	ctx_free(&c);
	return err;
}

int pprof_top_compute_diff(const struct pprof_profile *base, size_t base_index,
			   const struct pprof_profile *p, size_t value_index, struct pprof_top *out)
{
	struct top_ctx c = {0};
	int64_t base_total = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = add_profile(&c, p, value_index, 1, 0, &out->total);
	if (!err)
		err = add_profile(&c, base, base_index, -1, pprof_profile_nsamples(p), &base_total);
	/* pprof's total is the base's when it has any (report.go computeTotal) */
	if (base_total > 0)
		out->total = base_total;
	if (!err)
		err = finish(&c, out);
	ctx_free(&c);
	return err;
}

void pprof_top_free(struct pprof_top *t)
{
	if (!t || !t->entries)
		return;
	for (size_t i = 0; i < t->n; i++)
		free((char *)t->entries[i].name);
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

/* ---- formatting ---- */

struct unit_scale {
	const char *name;
	double factor;
	const char *aliases; /* space-separated, lower case, singular */
};

static const struct unit_scale memory_units[] = {
    {"B", 1, "b byte"},
    {"kB", 1024.0, "kb kbyte kilobyte"},
    {"MB", 1024.0 * 1024, "mb mbyte megabyte"},
    {"GB", 1024.0 * 1024 * 1024, "gb gbyte gigabyte"},
    {"TB", 1024.0 * 1024 * 1024 * 1024, "tb tbyte terabyte"},
    {"PB", 1024.0 * 1024 * 1024 * 1024 * 1024, "pb pbyte petabyte"},
    {NULL, 0, NULL},
};

static const struct unit_scale time_units[] = {
    {"ns", 1, "ns nanosecond"}, {"us", 1e3, "us microsecond"}, {"ms", 1e6, "ms millisecond"},
    {"s", 1e9, "s sec second"}, {"hrs", 3600e9, "hour hr"},    {NULL, 0, NULL},
};

static bool has_alias(const char *aliases, const char *word)
{
	size_t n = strlen(word);

	for (const char *a = aliases; (a = strstr(a, word)); a += n)
		if ((a == aliases || a[-1] == ' ') && (a[n] == ' ' || !a[n]))
			return true;
	return false;
}

/*
 * The scale table unit belongs to and unit's factor in it, or NULL. Like pprof: case
 * is ignored and a plural "s" dropped ("bytes", "Seconds").
 */
static const struct unit_scale *unit_table(const char *unit, double *base)
{
	static const struct unit_scale *const tables[] = {memory_units, time_units};
	char word[32];
	size_t n = strlen(unit);

	if (!n || n >= sizeof(word))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		word[i] = (char)(unit[i] >= 'A' && unit[i] <= 'Z' ? unit[i] + 32 : unit[i]);
	if (n > 2 && word[n - 1] == 's')
		word[n - 1] = 0;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct unit_scale *u = tables[t]; u->name; u++) {
			if (has_alias(u->aliases, word)) {
				*base = u->factor;
				return tables[t];
			}
		}
	}
	return NULL;
}

/* The unit of table that pprof's auto scaling picks for v (in the table's base unit). */
static const struct unit_scale *auto_unit(const struct unit_scale *t, double v)
{
	const struct unit_scale *best = NULL;

	for (; t->name; t++)
		if ((!best || t->factor >= best->factor) && v / t->factor >= 1.0)
			best = t;
	return best;
}

static const struct unit_scale *named_unit(const struct unit_scale *t, const char *name)
{
	for (; name && t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

void pprof_format_value(int64_t value, const char *unit, const char *out_unit, char *buf,
			size_t len)
{
	double base, v;
	const struct unit_scale *t = unit_table(unit ? unit : "", &base), *to;
	size_t n;

	if (!t) {
		snprintf(buf, len, "%" PRId64, value);
		return;
	}
	v = fabs((double)value) * base;
	to = out_unit ? named_unit(t, out_unit) : auto_unit(t, v);
	if (!to && out_unit)
		to = auto_unit(t, v);
	if (!to || !value) {
		snprintf(buf, len, "0");
		return;
	}
	snprintf(buf, len, "%s%.2f", value < 0 ? "-" : "", v / to->factor);
	n = strlen(buf);
	if (n >= 3 && !strcmp(buf + n - 3, ".00"))
		buf[n - 3] = 0;
	if (!strcmp(buf, "0") || !strcmp(buf, "-0")) {
		snprintf(buf, len, "0");
		return;
	}
	n = strlen(buf);
	snprintf(buf + n, len > n ? len - n : 0, "%s", to->name);
}

const char *pprof_top_unit(const struct pprof_top *t, const char *unit)
{
	const struct unit_scale *table, *lo, *hi;
	double base, min = 0, max;

	table = unit_table(unit ? unit : "", &base);
	if (!table)
		return NULL;
	/* The smallest nonzero row value, and the total, as pprof's "minimum" unit. */
	for (size_t i = 0; i < t->n; i++) {
		double v = (double)sat_abs(t->entries[i].flat);
		if (!v)
			v = (double)sat_abs(t->entries[i].cum);
		if (v > 0 && (min == 0 || v < min))
			min = v;
	}
	max = (double)t->total;
	if (min == 0)
		min = max;
	lo = auto_unit(table, min * base);
	hi = auto_unit(table, max * base);
	/* Rows may then go down to 0.01 of the unit rather than use a unit too small. */
	if (lo != hi && min * 100 < max)
		lo = auto_unit(table, 100 * min * base);
	return lo ? lo->name : NULL;
}

void pprof_format_percent(int64_t value, int64_t total, char *buf, size_t len)
{
	double ratio = total ? fabs((double)value / (double)total) * 100 : 0;

	if (ratio >= 99.95 && ratio <= 100.05)
		snprintf(buf, len, "  100%%");
	else if (ratio >= 1.0)
		snprintf(buf, len, "%5.2f%%", ratio);
	else
		snprintf(buf, len, "%5.2g%%", ratio);
}
