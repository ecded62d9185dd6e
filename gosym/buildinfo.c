/*
 * .go.buildinfo: the Go version and the main module. Two formats: since Go 1.18 the
 * strings follow the 32-byte header inline (flag bit 1); before, the header holds two
 * pointers to Go string headers, which we follow through the program headers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "gosym/internal.h"

static const uint8_t bi_magic[14] = "\xff Go buildinf:";
#define BI_HDR	      32
#define BI_MAX_STRING (1 << 20) /* far above any real module list */

/* Reads a uvarint from [*p, end); false when it runs off the end or past 64 bits. */
static bool uvarint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* Copies at most outlen-1 printable bytes. */
static void copy_str(char *out, size_t outlen, const uint8_t *s, uint64_t n)
{
	size_t k = n < outlen - 1 ? (size_t)n : outlen - 1;
	for (size_t i = 0; i < k; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	out[k] = 0;
}

/*
 * The main module from the module info text: the second field of the "mod" line,
 * else of the "path" line. Lines are "key\tvalue[\t...]\n".
 */
static void main_module(const uint8_t *m, uint64_t n, char *out, size_t outlen)
{
	const uint8_t *end = m + n, *line = m;
	bool have_path = false;

	while (line < end) {
		const uint8_t *nl = memchr(line, '\n', (size_t)(end - line));
		const uint8_t *le = nl ? nl : end;
		bool is_mod = le - line > 4 && !memcmp(line, "mod\t", 4);
		bool is_path = le - line > 5 && !memcmp(line, "path\t", 5);
		if (is_mod || (is_path && !have_path)) {
			const uint8_t *v = line + (is_mod ? 4 : 5);
			const uint8_t *tab = memchr(v, '\t', (size_t)(le - v));
			copy_str(out, outlen, v, (uint64_t)((tab ? tab : le) - v));
			if (is_mod)
				return;
			have_path = true;
		}
		line = le + 1;
	}
}

/* Follows a pointer to a Go string header {ptr, len} (pointer format, pre-1.18). */
static const uint8_t *string_at(const struct gosym *g, uint64_t hdr_addr, uint64_t *len)
{
	const uint8_t *h = g ? gs_vaddr_ptr(g, hdr_addr, 16, NULL) : NULL;
	if (!h)
		return NULL;
	*len = rd64(h + 8);
	if (*len > BI_MAX_STRING)
		return NULL;
	return gs_vaddr_ptr(g, rd64(h), *len, NULL);
}

/*
 * Parses a buildinfo blob at p (n bytes available). g is needed only for the pointer
 * format. Returns 0, -ENOENT (no magic) or -EINVAL.
 */
int gs_buildinfo_parse(const uint8_t *p, size_t n, const struct gosym *g, char *version,
		       size_t vlen, char *module, size_t mlen)
{
	const uint8_t *end = p + n, *q = p + BI_HDR, *v, *m;
	uint64_t vl, ml;

	version[0] = module[0] = 0;
	if (n < BI_HDR || memcmp(p, bi_magic, sizeof(bi_magic)))
		return -ENOENT;
	if (p[15] & 1) /* big-endian target: not something we read */
		return -EINVAL;
	if (p[15] & 2) {
		if (!uvarint(&q, end, &vl) || vl > (uint64_t)(end - q))
			return -EINVAL;
		v = q;
		q += vl;
		if (!uvarint(&q, end, &ml) || ml > (uint64_t)(end - q))
			return -EINVAL;
		m = q;
	} else {
		if (p[14] != 8)
			return -EINVAL;
		v = string_at(g, rd64(p + 16), &vl);
		m = string_at(g, rd64(p + 24), &ml);
		if (!v)
			return -EINVAL;
		if (!m)
			ml = 0;
	}
	copy_str(version, vlen, v, vl);
	/* Module info is framed by 16-byte sentinels; skip them when present. */
	if (m && ml >= 33)
		main_module(m + 16, ml - 32, module, mlen);
	return 0;
}

/* "go1.21.4" / "go1.22rc1" / "devel …": major and minor, or 0, 0. */
static void parse_version(struct gosym_info *in)
{
	int major = 0, minor = 0;

	if (sscanf(in->go_version, "go%d.%d", &major, &minor) == 2 && major == 1 && minor > 0 &&
	    minor < 1000) {
		in->go_major = major;
		in->go_minor = minor;
	}
}

/* Finds the blob: the named section, else a 16-aligned magic in a writable segment. */
static const uint8_t *find_blob(const struct gosym *g, uint64_t *n)
{
	const struct gs_section *s = gs_section(g, ".go.buildinfo");
	const uint8_t *d = gs_section_data(g, s);

	if (d) {
		*n = s->size;
		return d;
	}
	for (size_t i = 0; i < g->nphdrs; i++) {
		const struct gs_segment *seg = &g->phdrs[i];
		if (!(seg->flags & 2 /* PF_W */))
			continue;
		for (uint64_t off = 0; off + BI_HDR <= seg->filesz; off += 16) {
			const uint8_t *p = g->buf + seg->offset + off;
			if (!memcmp(p, bi_magic, sizeof(bi_magic))) {
				*n = seg->filesz - off;
				return p;
			}
		}
	}
	return NULL;
}

void gs_buildinfo(struct gosym *g)
{
	struct gosym_info *in = &g->info;
	uint64_t n = 0;
	const uint8_t *p = find_blob(g, &n);

	if (!p)
		return;
	if (gs_buildinfo_parse(p, n, g, in->go_version, sizeof(in->go_version), in->main_module,
			       sizeof(in->main_module)) == 0)
		parse_version(in);
}
