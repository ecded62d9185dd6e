/*
 * PC → logical frames, the way the Go runtime computes them (runtime/symtab.go:
 * Frames.Next, inlineUnwinder, funcline1, funcNameForPrint). An inlined call has no
 * frame of its own: the physical function's PCDATA_InlTreeIndex table says which
 * inline-tree entry a PC belongs to, and each entry names its parent call site by an
 * offset from the physical function's entry.
 */
#include <errno.h>
#include <stdlib.h>

#include "gosym/internal.h"

#define PCDATA_INLTREEINDEX 2
#define FUNCDATA_INLTREE    3

/* "pkg.F[go.shape.int]" → "pkg.F[...]" like runtime funcNamePiecesForPrint. */
static char *make_print_name(const char *raw)
{
	const char *open = strchr(raw, '['), *close;
	size_t len = strlen(raw);
	char *out;

	close = raw + len - 1;
	while (close > open && *close != ']')
		close--;
	if (close <= open)
		return NULL;
	out = malloc((size_t)(open - raw) + 5 + strlen(close + 1) + 1);
	if (!out)
		return NULL;
	memcpy(out, raw, (size_t)(open - raw));
	strcpy(out + (open - raw), "[...]");
	strcat(out, close + 1);
	return out;
}

static bool names_grow(struct gosym *g)
{
	size_t cap = g->names_cap ? g->names_cap * 2 : 64;
	struct gs_name *n = calloc(cap, sizeof(*n));

	if (!n)
		return false;
	for (size_t i = 0; i < g->names_cap; i++) {
		if (!g->names[i].key)
			continue;
		size_t h = g->names[i].key * 2654435761u & (cap - 1);
		while (n[h].key)
			h = (h + 1) & (cap - 1);
		n[h] = g->names[i];
	}
	free(g->names);
	g->names = n;
	g->names_cap = cap;
	return true;
}

/*
 * The print name of the name at nameoff (raw is its text). Names without '[' are
 * returned as they are; generic ones are built once and cached by offset.
 */
const char *gs_print_name(const struct gosym *cg, int64_t nameoff, const char *raw)
{
	struct gosym *g = (struct gosym *)cg; /* the cache is internal mutable state */
	const char *res = raw;
	uint32_t key;
	size_t h;

	if (!raw || !strchr(raw, '[') || nameoff < 0 || nameoff >= UINT32_MAX)
		return raw;
	key = (uint32_t)nameoff + 1;
	pthread_mutex_lock(&g->names_mu);
	if ((g->names_len + 1) * 2 > g->names_cap && !names_grow(g))
		goto out;
	h = key * 2654435761u & (g->names_cap - 1);
	while (g->names[h].key && g->names[h].key != key)
		h = (h + 1) & (g->names_cap - 1);
	if (!g->names[h].key) {
		char *p = make_print_name(raw);
		if (!p)
			goto out; /* no ']' after '[' (or no memory): print it as it is */
		g->names[h].key = key;
		g->names[h].val = p;
		g->names_len++;
	}
	res = g->names[h].val;
out:
	pthread_mutex_unlock(&g->names_mu);
	return res;
}

void gs_names_free(struct gosym *g)
{
	for (size_t i = 0; i < g->names_cap; i++)
		free(g->names[i].val);
	free(g->names);
	g->names = NULL;
	g->names_cap = g->names_len = 0;
}

/* Where a logical function comes from: the physical _func or an inline-tree entry. */
struct srcfunc {
	int64_t nameoff;
	int32_t start_line;
	uint8_t func_id;
};

static const uint8_t *inl_entry(const struct gosym *g, const uint8_t *f, int32_t ix)
{
	uint64_t sz = g->pcln.inl_size;
	const uint8_t *tree = gs_funcdata(g, f, FUNCDATA_INLTREE, ((uint64_t)ix + 1) * sz);
	return tree ? tree + (uint64_t)ix * sz : NULL;
}

static bool is_go118(const struct gosym *g)
{
	return g->pcln.func_size == 40;
}

/* The source function of (f, ix); false when the inline entry cannot be read. */
static bool srcfunc(const struct gosym *g, const uint8_t *f, int32_t ix, struct srcfunc *sf)
{
	const uint8_t *e;

	if (ix < 0) {
		sf->nameoff = (int32_t)rd32(f + 4);
		sf->func_id = f[g->pcln.func_size - 4];
		sf->start_line = is_go118(g) ? 0 : (int32_t)rd32(f + 36);
		return true;
	}
	e = inl_entry(g, f, ix);
	if (!e)
		return false;
	if (is_go118(g)) {
		sf->func_id = e[2];
		sf->nameoff = (int32_t)rd32(e + 12);
		sf->start_line = 0;
	} else {
		sf->func_id = e[0];
		sf->nameoff = (int32_t)rd32(e + 4);
		sf->start_line = (int32_t)rd32(e + 12);
	}
	return true;
}

/* The parent call site of inline entry ix: its PC and that PC's own inline index. */
static bool inl_next(const struct gosym *g, const uint8_t *f, int32_t ix, uint64_t *pc,
		     int32_t *nix)
{
	const uint8_t *e;

	if (ix < 0 || !(e = inl_entry(g, f, ix)))
		return false;
	*pc = gs_func_entry(g, f) + (int64_t)(int32_t)rd32(e + (is_go118(g) ? 16 : 8));
	*nix = gs_pcdata(g, f, PCDATA_INLTREEINDEX, *pc);
	return true;
}

/* runtime funcline1: file and line, or "?" and 0. */
static void funcline(const struct gosym *g, const uint8_t *f, uint64_t pc, struct gosym_frame *out)
{
	int32_t fileno = gs_pcvalue(g, f, rd32(f + 20), pc);
	int32_t line = gs_pcvalue(g, f, rd32(f + 24), pc);
	const char *file = NULL;

	if (fileno != -1 && line != -1)
		file = gs_file(g, f, fileno);
	out->file = file ? file : "?";
	out->line = file ? line : 0;
}

static bool frames_use_print_name(const struct gosym *g)
{
	int minor = g->info.go_minor;
	return minor ? minor >= 21 : !is_go118(g);
}

/* Fills one Go frame for (f, pc, ix). */
static void fill(const struct gosym *g, const uint8_t *f, uint64_t pc, int32_t ix,
		 struct gosym_frame *out)
{
	struct srcfunc sf;
	const char *func_name = gs_name_at(g, (int32_t)rd32(f + 4));

	memset(out, 0, sizeof(*out));
	if (!srcfunc(g, f, ix, &sf)) { /* unreadable inline tree: report the physical func */
		ix = -1;
		srcfunc(g, f, -1, &sf);
	}
	out->kind = GOSYM_FRAME_GO;
	out->pc = pc;
	out->entry = gs_func_entry(g, f);
	out->func_name = func_name ? func_name : "?";
	out->raw_name = gs_name_at(g, sf.nameoff);
	if (!out->raw_name)
		out->raw_name = "?";
	out->name = gs_print_name(g, sf.nameoff, out->raw_name);
	out->function = frames_use_print_name(g) ? out->name : out->raw_name;
	out->start_line = sf.start_line;
	out->func_id = sf.func_id;
	out->inlined = ix >= 0;
	funcline(g, f, pc, out);
	if (gs_vaddr_to_offset(g, pc, &out->file_offset))
		out->file_offset = 0;
}

static void fill_unknown(const struct gosym *g, uint64_t pc, struct gosym_frame *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = GOSYM_FRAME_UNKNOWN;
	out->pc = pc;
	out->name = out->raw_name = out->func_name = out->function = "?";
	out->file = "?";
	if (gs_vaddr_to_offset(g, pc, &out->file_offset))
		out->file_offset = 0;
}

static void prefetch_in(const struct gs_pcln *t, uint64_t start, uint64_t end, uint64_t off)
{
	if (off < end - start)
		__builtin_prefetch(t->base + start + off);
}

/*
 * A lookup is bound by memory latency: the name, the pc-value tables and the file
 * table entry of a function sit in different parts of a multi-megabyte pclntab. Ask
 * for all of them at once, as soon as the _func record is known, instead of missing
 * the cache on each in turn.
 */
static void prefetch_func(const struct gosym *g, const uint8_t *f)
{
	const struct gs_pcln *t = &g->pcln;

	prefetch_in(t, t->funcname_off, t->funcname_end, rd32(f + 4));
	prefetch_in(t, t->pc_off, t->pc_end, rd32(f + 20));
	prefetch_in(t, t->pc_off, t->pc_end, rd32(f + 24));
	prefetch_in(t, t->cu_off, t->cu_end, (uint64_t)rd32(f + 32) * 4);
	if (rd32(f + 28) > 2)
		prefetch_in(t, t->pc_off, t->pc_end, rd32(f + t->func_size + 8));
}

/* Physical function of pc, or NULL; *entry set. */
static const uint8_t *func_for(const struct gosym *g, uint64_t pc, uint64_t *entry)
{
	int64_t i = gs_find_func(g, pc);
	const uint8_t *f = i >= 0 ? gs_func(g, (uint64_t)i) : NULL;
	if (f) {
		prefetch_func(g, f);
		*entry = gs_func_entry(g, f);
	}
	return f;
}

int gosym_lookup(const struct gosym *g, uint64_t pc, unsigned flags, struct gosym_frame *out,
		 size_t max)
{
	uint64_t entry;
	const uint8_t *f;
	int32_t ix;
	size_t n = 0;

	if (!g || !out || !max)
		return -EINVAL;
	f = func_for(g, pc, &entry);
	if (!f) {
		if ((flags & GOSYM_RETURN_PC) && pc)
			pc--;
		return gs_dwarf_lookup(g, pc, out, max);
	}
	if ((flags & GOSYM_RETURN_PC) && pc > entry)
		pc--;
	ix = gs_pcdata(g, f, PCDATA_INLTREEINDEX, pc);
	for (int depth = 0; depth < GOSYM_MAX_INLINE_DEPTH; depth++) {
		if (n == max)
			return -ENOSPC;
		fill(g, f, pc, ix, &out[n]);
		if (!out[n++].inlined || !inl_next(g, f, ix, &pc, &ix))
			break;
	}
	return (int)n;
}

int gosym_pc(const struct gosym *g, uint64_t pc, struct gosym_frame *out)
{
	uint64_t entry;
	const uint8_t *f;

	if (!g || !out)
		return -EINVAL;
	f = func_for(g, pc, &entry);
	if (!f) {
		int n = gs_dwarf_lookup(g, pc ? pc - 1 : pc, out, 1);
		return n == -ENOSPC ? 0 : n < 0 ? n : 0;
	}
	if (pc > entry)
		pc--;
	fill(g, f, pc, gs_pcdata(g, f, PCDATA_INLTREEINDEX, pc), out);
	return 0;
}

static bool elide_wrapper_calling(const struct gosym *g, uint8_t id)
{
	return !(id == g->gopanic_id || id == g->sigpanic_id || id == g->panicwrap_id);
}

/* Go 1.23+ CallersFrames re-inserts an inlined caller whose virtual PC is missing. */
static bool reinserts_callers(const struct gosym *g)
{
	return g->info.go_minor >= 23;
}

/*
 * The PC of the caller frame CallersFrames inserts after (f, ix) when the next stack
 * PC is not that caller's virtual PC; 0 when none.
 */
static uint64_t missing_caller(const struct gosym *g, const uint8_t *f, int32_t ix, uint8_t cur_id,
			       uint64_t next_pc)
{
	uint64_t upc;
	int32_t uix;
	struct srcfunc snext;

	for (int depth = 0; depth < GOSYM_MAX_INLINE_DEPTH && inl_next(g, f, ix, &upc, &uix);
	     depth++) {
		if (next_pc == upc + 1)
			return 0;
		if (srcfunc(g, f, uix, &snext) && g->ids_known && snext.func_id == g->wrapper_id &&
		    elide_wrapper_calling(g, cur_id)) {
			ix = uix;
			continue;
		}
		return upc + 1;
	}
	return 0;
}

int gosym_stack(const struct gosym *g, const uint64_t *pcs, size_t npcs, unsigned flags,
		struct gosym_frame *out, size_t max)
{
	size_t i = 0, n = 0, idx = 0;
	uint64_t next_pc = 0;

	if (!g || (!pcs && npcs) || (!out && max))
		return -EINVAL;
	while (i < npcs || next_pc) {
		uint64_t pc, entry;
		const uint8_t *f;
		int32_t ix;

		if (next_pc) {
			pc = next_pc;
			next_pc = 0;
		} else {
			idx = i;
			pc = pcs[i++];
		}
		f = func_for(g, pc, &entry);
		if (!f) {
			if (!(flags & GOSYM_STACK_KEEP_UNKNOWN))
				continue;
			if (n == max)
				return -ENOSPC;
			if (gosym_pc(g, pc, &out[n]) < 0)
				fill_unknown(g, pc ? pc - 1 : pc, &out[n]);
			out[n++].index = idx;
			continue;
		}
		if (pc > entry)
			pc--;
		ix = gs_pcdata(g, f, PCDATA_INLTREEINDEX, pc);
		if (n == max)
			return -ENOSPC;
		fill(g, f, pc, ix, &out[n]);
		out[n].index = idx;
		if (out[n].inlined && reinserts_callers(g) && i < npcs)
			next_pc = missing_caller(g, f, ix, out[n].func_id, pcs[i]);
		n++;
	}
	return (int)n;
}

/* Index of each named function (raw names), one pass over the table; -1 if absent. */
void gs_funcs_by_names(const struct gosym *g, const char *const *names, int64_t *idx, size_t k)
{
	for (size_t j = 0; j < k; j++)
		idx[j] = -1;
	for (uint64_t i = 0; i < g->pcln.nfunc; i++) {
		const uint8_t *f = gs_func(g, i);
		const char *name = f ? gs_name_at(g, (int32_t)rd32(f + 4)) : NULL;
		if (!name)
			continue;
		for (size_t j = 0; j < k; j++)
			if (idx[j] < 0 && !strcmp(name, names[j]))
				idx[j] = (int64_t)i;
	}
}

int gosym_func_at(const struct gosym *g, uint32_t i, uint64_t *entry, uint64_t *end,
		  const char **name)
{
	const uint8_t *f;

	if (!g || !g->pcln.base || i >= g->pcln.nfunc || !(f = gs_func(g, i)))
		return -ENOENT;
	if (entry)
		*entry =
		    g->pcln.text_start + rd32(g->pcln.base + g->pcln.pcln_off + (uint64_t)i * 8);
	if (end)
		*end = g->pcln.text_start +
		       rd32(g->pcln.base + g->pcln.pcln_off + ((uint64_t)i + 1) * 8);
	if (name) {
		*name = gs_name_at(g, (int32_t)rd32(f + 4));
		if (!*name)
			*name = "?";
	}
	return 0;
}

int gosym_func_by_name(const struct gosym *g, const char *name, uint64_t *entry, uint64_t *end)
{
	int64_t idx;

	if (!g || !name)
		return -EINVAL;
	gs_funcs_by_names(g, &name, &idx, 1);
	if (idx < 0)
		return -ENOENT;
	return gosym_func_at(g, (uint32_t)idx, entry, end, NULL);
}

/*
 * FuncIDs that wrapper elision compares against. They shift between releases (1.23
 * added corostart), so read them from the functions themselves: the wrapper ID is the
 * one after systemstack_switch's, the last special function in every release.
 */
void gs_func_ids(struct gosym *g)
{
	static const char *const names[] = {"runtime.gopanic", "runtime.sigpanic",
					    "runtime.panicwrap", "runtime.systemstack_switch"};
	int64_t idx[4];
	const uint8_t *f[4];
	uint32_t id_off = g->pcln.func_size - 4;

	gs_funcs_by_names(g, names, idx, 4);
	for (int i = 0; i < 4; i++) {
		f[i] = idx[i] >= 0 ? gs_func(g, (uint64_t)idx[i]) : NULL;
		if (!f[i])
			return;
	}
	g->gopanic_id = f[0][id_off];
	g->sigpanic_id = f[1][id_off];
	g->panicwrap_id = f[2][id_off];
	g->wrapper_id = (uint8_t)(f[3][id_off] + 1);
	g->ids_known = true;
}
