/*
 * pclntab: the Go runtime's own symbol table, which survives -s -w. Header, function
 * table, pc-value tables, names, files, funcdata, and the moduledata that gives the
 * base of funcdata offsets. Every offset read from the file is checked against the
 * bounds of the table it indexes; nothing is allocated per function.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "gosym/internal.h"

#define MAGIC_GO12  0xfffffffbu
#define MAGIC_GO116 0xfffffffau
#define MAGIC_GO118 0xfffffff0u
#define MAGIC_GO120 0xfffffff1u
#define HDR_SIZE    72

/* moduledata.funcnametab (runtime/symtab.go): the same in every release. */
#define MD_FUNCNAMETAB 8

static bool magic_known(uint32_t m)
{
	return gosym_magic_known(m) || m == MAGIC_GO116 || m == MAGIC_GO12;
}

/* End of the table starting at off: the next table's start, or the end of the data. */
static uint64_t table_end(const uint64_t offs[5], uint64_t off, uint64_t size)
{
	uint64_t end = size;
	for (int i = 0; i < 5; i++)
		if (offs[i] > off && offs[i] < end)
			end = offs[i];
	return end;
}

static int reject_format(uint32_t magic, char *err, size_t errlen)
{
	if (magic == MAGIC_GO116) {
		gs_err(err, errlen,
		       "gosym: pclntab format 0xfffffffa (Go 1.16-1.17) is not supported; "
		       "gosym reads Go 1.18 and later");
		return -ENOTSUP;
	}
	if (magic == MAGIC_GO12) {
		gs_err(err, errlen,
		       "gosym: pclntab format 0xfffffffb (Go 1.2-1.15) is not supported; "
		       "gosym reads Go 1.18 and later");
		return -ENOTSUP;
	}
	gs_err(err, errlen, "gosym: no Go pclntab (magic 0x%08x)", magic);
	return -ENOEXEC;
}

/* Validates the header at p (size bytes readable) and fills t. */
int gs_pcln_parse(struct gs_pcln *t, const uint8_t *p, uint64_t size, char *err, size_t errlen)
{
	uint64_t offs[5];

	memset(t, 0, sizeof(*t));
	if (size < 8) {
		gs_err(err, errlen, "gosym: pclntab truncated");
		return -EINVAL;
	}
	t->magic = rd32(p);
	if (!gosym_magic_known(t->magic))
		return reject_format(t->magic, err, errlen);
	if (size < HDR_SIZE || p[4] || p[5] || (p[6] != 1 && p[6] != 2 && p[6] != 4) || p[7] != 8) {
		gs_err(err, errlen, "gosym: bad pclntab header");
		return -EINVAL;
	}
	t->base = p;
	t->size = size;
	t->quantum = p[6];
	t->ptrsize = p[7];
	t->nfunc = rd64(p + 8);
	t->nfiles = rd64(p + 16);
	t->text_start = rd64(p + 24);
	for (int i = 0; i < 5; i++) {
		offs[i] = rd64(p + 32 + 8 * i);
		if (offs[i] < HDR_SIZE || offs[i] > size) {
			gs_err(err, errlen, "gosym: pclntab table offset %d out of range", i);
			return -EINVAL;
		}
	}
	t->funcname_off = offs[0], t->funcname_end = table_end(offs, offs[0], size);
	t->cu_off = offs[1], t->cu_end = table_end(offs, offs[1], size);
	t->file_off = offs[2], t->file_end = table_end(offs, offs[2], size);
	t->pc_off = offs[3], t->pc_end = table_end(offs, offs[3], size);
	t->pcln_off = offs[4], t->pcln_end = table_end(offs, offs[4], size);
	/* The function table must fit: nfunc+1 pairs of u32. */
	if (t->nfunc == 0 || t->nfunc >= (t->pcln_end - t->pcln_off) / 8) {
		gs_err(err, errlen, "gosym: pclntab function count %llu does not fit",
		       (unsigned long long)t->nfunc);
		return -EINVAL;
	}
	t->func_size = t->magic == MAGIC_GO118 ? 40 : 44;
	t->inl_size = t->magic == MAGIC_GO118 ? 20 : 16;
	return 0;
}

static void set_found(struct gosym *g, uint64_t addr, const char *where)
{
	struct gosym_info *in = &g->info;
	const struct gs_pcln *t = &g->pcln;

	in->pcln_magic = t->magic;
	in->pcln_format = t->magic == MAGIC_GO118 ? GOSYM_PCLN_GO118 : GOSYM_PCLN_GO120;
	in->pclntab_addr = addr;
	in->pclntab_where = where;
	in->nfunc = (uint32_t)t->nfunc;
}

/*
 * The moduledata offsets to use: the binary's release, else (no build info, or older
 * than the table) the newest release writing this pclntab format.
 */
static const struct gs_release *md_release(const struct gosym *g)
{
	const struct gs_release *r, *best = NULL;
	bool verified;

	r = gs_release(g, &verified);
	if (r && r->pcln_magic == g->pcln.magic)
		return r;
	for (size_t i = 0; (r = gs_release_at(i)); i++)
		if (r->pcln_magic == g->pcln.magic)
			best = r;
	return best;
}

/*
 * Looks for runtime.firstmoduledata in one range of file bytes at vaddr base: its
 * pcHeader and funcnametab point at this pclntab, and its text is executable. The
 * text base of every function is moduledata.text, as the runtime itself takes it
 * (pcHeader.textStart is not stored from Go 1.26 on).
 */
static bool scan_moduledata(struct gosym *g, const struct gs_release *r, const uint8_t *d,
			    uint64_t n, uint64_t base)
{
	uint64_t want = g->info.pclntab_addr, names = want + g->pcln.funcname_off;
	uint64_t need = (r->md_gofunc > r->md_text ? r->md_gofunc : r->md_text) + 8;

	for (uint64_t off = 0; off + need <= n; off += 8) {
		const uint8_t *md = d + off;
		uint64_t text = rd64(md + r->md_text);
		if (rd64(md) != want || rd64(md + MD_FUNCNAMETAB) != names ||
		    !gs_is_exec_addr(g, text))
			continue;
		g->info.moduledata_addr = base + off;
		g->info.gofunc = rd64(md + r->md_gofunc);
		g->pcln.text_start = text;
		return true;
	}
	return false;
}

/* Finds moduledata: .noptrdata first, then any writable segment. */
static int find_moduledata(struct gosym *g)
{
	const struct gs_release *r = md_release(g);
	const struct gs_section *s = gs_section(g, ".noptrdata");
	const uint8_t *d = gs_section_data(g, s);

	if (!r)
		return -ENOENT;
	if (d && scan_moduledata(g, r, d, s->size, s->addr))
		return 0;
	for (size_t i = 0; i < g->nphdrs; i++) {
		const struct gs_segment *seg = &g->phdrs[i];
		if ((seg->flags & 2 /* PF_W */) &&
		    scan_moduledata(g, r, g->buf + seg->offset, seg->filesz, seg->vaddr))
			return 0;
	}
	return -ENOENT;
}

/* Accepts the pclntab in g->pcln at addr once its moduledata gives the text base. */
static int accept_pcln(struct gosym *g, uint64_t addr, const char *where)
{
	const struct gs_pcln *t = &g->pcln;

	set_found(g, addr, where);
	if (find_moduledata(g))
		return -ENOENT;
	g->info.text_start = t->text_start;
	g->info.text_end = t->text_start + rd32(t->base + t->pcln_off + t->nfunc * 8);
	return 0;
}

/* Scans non-executable loaded bytes for a valid header (external links name no section). */
static int scan_for_pcln(struct gosym *g)
{
	for (size_t i = 0; i < g->nphdrs; i++) {
		const struct gs_segment *s = &g->phdrs[i];
		if (s->flags & 1 /* PF_X */)
			continue;
		for (uint64_t off = 0; off + HDR_SIZE <= s->filesz; off += 8) {
			const uint8_t *p = g->buf + s->offset + off;
			if ((rd32(p) & 0xfffffff0u) != 0xfffffff0u || p[4] || p[5] || p[7] != 8)
				continue;
			if (gs_pcln_parse(&g->pcln, p, s->filesz - off, NULL, 0))
				continue;
			if (accept_pcln(g, s->vaddr + off, "scan") == 0)
				return 0;
		}
	}
	memset(&g->pcln, 0, sizeof(g->pcln));
	return -ENOENT;
}

/*
 * A binary whose build info names a Go version is a Go program even when its pclntab
 * is not one gosym reads (a release newer than it knows): say so, never "not Go".
 */
static int go_without_pcln(const struct gosym *g, int ret, char *err, size_t errlen)
{
	if (ret != -ENOEXEC || !g->info.go_version[0])
		return ret;
	if (g->pcln.magic)
		gs_err(err, errlen,
		       "gosym: %s binary, but its pclntab format (magic 0x%08x) is not one "
		       "gosym reads",
		       g->info.go_version, g->pcln.magic);
	else
		gs_err(err, errlen, "gosym: %s binary, but no pclntab gosym reads was found",
		       g->info.go_version);
	return -ENOTSUP;
}

int gs_pcln_find(struct gosym *g, char *err, size_t errlen)
{
	static const char *const names[] = {".gopclntab", ".data.rel.ro.gopclntab"};
	int ret;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct gs_section *s = gs_section(g, names[i]);
		const uint8_t *d = gs_section_data(g, s);
		if (!d)
			continue;
		ret = gs_pcln_parse(&g->pcln, d, s->size, err, errlen);
		if (ret)
			return go_without_pcln(g, ret, err, errlen);
		if (accept_pcln(g, s->addr, s->name) == 0)
			return 0;
		gs_err(err, errlen,
		       "gosym: no runtime.firstmoduledata for the pclntab in %s: cannot place "
		       "the functions",
		       s->name);
		memset(&g->pcln, 0, sizeof(g->pcln));
		return -EINVAL;
	}
	if (scan_for_pcln(g) == 0)
		return 0;
	/* Say why: an old format is worth naming, anything else is "not Go". */
	for (size_t i = 0; i < g->nphdrs; i++) {
		const struct gs_segment *s = &g->phdrs[i];
		for (uint64_t off = 0; !(s->flags & 1) && off + 8 <= s->filesz; off += 8) {
			const uint8_t *p = g->buf + s->offset + off;
			if (magic_known(rd32(p)) && !p[4] && !p[5] && p[7] == 8 &&
			    (p[6] == 1 || p[6] == 4))
				return reject_format(rd32(p), err, errlen);
		}
	}
	gs_err(err, errlen, "gosym: no Go pclntab found: not a Go binary");
	return go_without_pcln(g, -ENOEXEC, err, errlen);
}

static uint32_t functab_entry(const struct gs_pcln *t, uint64_t i)
{
	return rd32(t->base + t->pcln_off + i * 8);
}

/* Largest i in [lo, hi) with entry[i] <= off (entry[lo] <= off < entry[hi] assumed). */
static uint64_t search(const struct gs_pcln *t, uint64_t lo, uint64_t hi, uint64_t off)
{
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (functab_entry(t, mid) <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

#define PAGE_SHIFT 12
#define SCAN_MAX   8

/*
 * The first function of every 4 KiB of text (like the runtime's findfunctab): a
 * lookup starts next to its function instead of binary-searching a large table with
 * a cache miss per step. Its size follows the text actually in the file (4 bytes per
 * 4 KiB), never a count read from the file.
 */
void gs_pcln_index(struct gosym *g)
{
	const struct gs_pcln *t = &g->pcln;
	uint64_t span = g->info.text_end - g->info.text_start, npages, i = 0;

	if (!t->base || g->info.text_end < g->info.text_start || span > g->len)
		return;
	npages = (span >> PAGE_SHIFT) + 1;
	g->page_index = malloc(npages * sizeof(*g->page_index));
	if (!g->page_index)
		return;
	for (uint64_t p = 0; p < npages; p++) {
		uint64_t off = p << PAGE_SHIFT;
		while (i + 1 < t->nfunc && functab_entry(t, i + 1) <= off)
			i++;
		g->page_index[p] = (uint32_t)i;
	}
	g->npages = npages;
}

/* Index of the function containing pc, or -1. */
int64_t gs_find_func(const struct gosym *g, uint64_t pc)
{
	const struct gs_pcln *t = &g->pcln;
	uint64_t off, i;

	if (!t->base || pc < t->text_start)
		return -1;
	off = pc - t->text_start;
	if (off >= functab_entry(t, t->nfunc) || off < functab_entry(t, 0))
		return -1;
	if ((off >> PAGE_SHIFT) >= g->npages)
		return (int64_t)search(t, 0, t->nfunc, off);
	i = g->page_index[off >> PAGE_SHIFT];
	for (int k = 0; k < SCAN_MAX; k++, i++) {
		if (i + 1 >= t->nfunc || functab_entry(t, i + 1) > off)
			return functab_entry(t, i) <= off ? (int64_t)i : -1;
	}
	/* Many functions in one page (or an unsorted table): binary search the rest. */
	if (functab_entry(t, i) > off)
		return (int64_t)search(t, 0, t->nfunc, off);
	return (int64_t)search(t, i, t->nfunc, off);
}

/* The i-th _func record, or NULL if it or its pcdata/funcdata arrays fall outside. */
const uint8_t *gs_func(const struct gosym *g, uint64_t i)
{
	const struct gs_pcln *t = &g->pcln;
	uint64_t region = t->pcln_end - t->pcln_off, off, extra;
	const uint8_t *f;

	if (i >= t->nfunc)
		return NULL;
	off = rd32(t->base + t->pcln_off + i * 8 + 4);
	if (!in_bounds(off, t->func_size, region))
		return NULL;
	f = t->base + t->pcln_off + off;
	extra = 4 * ((uint64_t)rd32(f + 28) + f[t->func_size - 1]);
	if (!in_bounds(off + t->func_size, extra, region))
		return NULL;
	return f;
}

uint64_t gs_func_entry(const struct gosym *g, const uint8_t *f)
{
	return g->pcln.text_start + rd32(f);
}

/* A NUL-terminated string at off in [start, end) of the pclntab, or NULL. */
static const char *table_string(const struct gs_pcln *t, uint64_t start, uint64_t end, uint64_t off)
{
	const uint8_t *s;
	uint64_t left;

	if (off >= end - start)
		return NULL;
	s = t->base + start + off;
	left = end - start - off;
	if (left > GOSYM_MAX_NAME)
		left = GOSYM_MAX_NAME;
	return memchr(s, 0, left) ? (const char *)s : NULL;
}

const char *gs_name_at(const struct gosym *g, int64_t nameoff)
{
	const struct gs_pcln *t = &g->pcln;
	if (nameoff < 0)
		return NULL;
	return table_string(t, t->funcname_off, t->funcname_end, (uint64_t)nameoff);
}

/* One uvarint of the pc-value encoding (runtime readvarint: 32-bit wrap). */
static bool pv_varint_slow(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
	uint32_t x = 0;
	for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		x |= (uint32_t)(b & 0x7f) << (shift & 31);
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* Most deltas fit one byte: take that path without a loop. */
static inline bool pv_varint(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
	if (*p < end && !(**p & 0x80)) {
		*v = *(*p)++;
		return true;
	}
	return pv_varint_slow(p, end, v);
}

/*
 * The value of a pc-value table at pc, as runtime pcvalue computes it: -1 when the
 * table is absent or does not cover pc.
 */
int32_t gs_pcvalue(const struct gosym *g, const uint8_t *f, uint32_t table_off, uint64_t pc)
{
	const struct gs_pcln *t = &g->pcln;
	const uint8_t *p, *end = t->base + t->pc_end;
	uint64_t entry = gs_func_entry(g, f), cur = entry;
	uint32_t quantum = t->quantum;
	int32_t val = -1;

	if (table_off == 0 || table_off >= t->pc_end - t->pc_off)
		return -1;
	p = t->base + t->pc_off + table_off;
	for (;;) {
		uint32_t uvdelta, pcdelta;
		if (p >= end || (*p == 0 && cur != entry))
			return -1;
		if (!pv_varint(&p, end, &uvdelta) || !pv_varint(&p, end, &pcdelta))
			return -1;
		/* wraps like the runtime's int32 arithmetic, without signed overflow */
		val = (int32_t)((uint32_t)val + (-(uvdelta & 1) ^ (uvdelta >> 1)));
		cur += (uint64_t)(uint32_t)(pcdelta * quantum);
		if (pc < cur)
			return val;
	}
}

int32_t gs_pcdata(const struct gosym *g, const uint8_t *f, uint32_t table, uint64_t pc)
{
	if (table >= rd32(f + 28))
		return -1;
	return gs_pcvalue(g, f, rd32(f + g->pcln.func_size + 4 * table), pc);
}

/* File name for a file number of function f, or NULL ("?"). */
const char *gs_file(const struct gosym *g, const uint8_t *f, int32_t fileno)
{
	const struct gs_pcln *t = &g->pcln;
	uint64_t idx, fileoff;

	if (fileno < 0)
		return NULL;
	idx = (uint64_t)rd32(f + 32) + (uint64_t)fileno;
	if (!in_bounds(idx * 4, 4, t->cu_end - t->cu_off))
		return NULL;
	fileoff = rd32(t->base + t->cu_off + idx * 4);
	if (fileoff == 0xffffffffu)
		return NULL;
	return table_string(t, t->file_off, t->file_end, fileoff);
}

/* n bytes of funcdata i of f (from moduledata.gofunc), or NULL. */
const uint8_t *gs_funcdata(const struct gosym *g, const uint8_t *f, uint32_t i, uint64_t n)
{
	const struct gs_pcln *t = &g->pcln;
	uint32_t off;

	if (!g->info.gofunc || i >= f[t->func_size - 1])
		return NULL;
	off = rd32(f + t->func_size + 4 * ((uint64_t)rd32(f + 28) + i));
	if (off == 0xffffffffu)
		return NULL;
	return gs_vaddr_ptr(g, g->info.gofunc + off, n, NULL);
}
