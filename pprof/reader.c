/*
 * Reading a profile.proto that may come from anywhere. The steps, each bounded:
 * gunzip (output size capped), protobuf-c unpack (every allocation charged to a
 * memory budget, so a small input cannot expand into gigabytes of structs), then a
 * resolve pass that checks every string index and id and turns them into pointers,
 * so that callers never index anything themselves.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pprof/htab.h"
#include "pprof/pprof.h"
#include "pprof/profile.pb-c.h"

/* Every allocation of one profile is charged here; the header keeps its size. */
struct budget {
	size_t used, max;
	bool exhausted; /* an allocation was refused: the profile is too big, not bad */
};

struct pprof_profile {
	struct budget budget;
	ProtobufCAllocator pb_alloc;
	Perftools__Profiles__Profile *msg;
	struct pprof_header_info header;
	struct pprof_mapping_info *mappings;
	struct pprof_function_info *functions;
	struct pprof_location_info *locations;
	struct pprof_sample_info *samples;
	struct pprof_value_type_info *types;
	const char **comments;
	struct pprof_line_info *lines;			/* all locations' lines */
	const struct pprof_location_info **sample_locs; /* all samples' stacks */
	struct pprof_label_info *labels;		/* all samples' labels */
	size_t nmappings, nfunctions, nlocations, nsamples;
};

#define ALLOC_HEADER 16 /* keeps the returned pointer 16-byte aligned */

static void *budget_alloc(void *data, size_t size)
{
	struct budget *b = data;
	unsigned char *p;

	if (size > b->max || b->max - size < b->used + ALLOC_HEADER) {
		b->exhausted = true;
		return NULL;
	}
	p = malloc(size + ALLOC_HEADER);
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof(size));
	b->used += size + ALLOC_HEADER;
	return p + ALLOC_HEADER;
}

static void budget_free(void *data, void *ptr)
{
	struct budget *b = data;
	unsigned char *p = ptr;
	size_t size;

	if (!p)
		return;
	p -= ALLOC_HEADER;
	memcpy(&size, p, sizeof(size));
	b->used -= size + ALLOC_HEADER;
	free(p);
}

/* n elements of size each, zeroed, charged to the profile's budget; NULL if over. */
static void *palloc(struct pprof_profile *p, size_t n, size_t size)
{
	void *ptr;

	if (size && n > SIZE_MAX / size)
		return NULL;
	ptr = budget_alloc(&p->budget, n * size > 0 ? n * size : 1);
	if (ptr)
		memset(ptr, 0, n * size);
	return ptr;
}

/* Stores "pprof: <reason>" in err and returns code. */
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return code;
	n = snprintf(err, errlen, "pprof: ");
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	return code;
}

/* ---- gunzip ---- */

struct gunzip_out {
	unsigned char *buf;
	size_t len, cap;
};

static int gunzip_grow(struct gunzip_out *o, size_t max)
{
	size_t cap = o->cap ? o->cap * 2 : 64 * 1024;
	unsigned char *buf;

	if (o->cap >= max)
		return -EFBIG;
	if (cap > max)
		cap = max;
	buf = realloc(o->buf, cap);
	if (!buf)
		return -ENOMEM;
	o->buf = buf;
	o->cap = cap;
	return 0;
}

/*
 * Inflates one or more concatenated gzip members (as gzip(1) and Go accept) into a
 * buffer of at most max bytes.
 */
static int gunzip(const unsigned char *in, size_t len, size_t max, struct gunzip_out *o, char *err,
		  size_t errlen)
{
	z_stream z = {0};
	int zrc = Z_OK, rc = 0;

	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return fail(err, errlen, -ENOMEM, "out of memory");
	z.next_in = (unsigned char *)in;
	z.avail_in = len > UINT32_MAX ? UINT32_MAX : len;
	for (;;) {
		if (o->len == o->cap && (rc = gunzip_grow(o, max)) < 0)
			break;
		z.next_out = o->buf + o->len;
		z.avail_out = o->cap - o->len > UINT32_MAX ? UINT32_MAX : o->cap - o->len;
		zrc = inflate(&z, Z_NO_FLUSH);
		o->len = (size_t)(z.next_out - o->buf);
		if (zrc == Z_STREAM_END) {
			size_t used = (size_t)(z.next_in - in);
			if (used == len)
				break;
			/* Another member follows. */
			inflateReset(&z);
			z.next_in = (unsigned char *)in + used;
			z.avail_in = len - used > UINT32_MAX ? UINT32_MAX : len - used;
			continue;
		}
		if (zrc == Z_BUF_ERROR && z.avail_in == 0) {
			rc = -EBADMSG; /* wants more input: truncated */
			break;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			rc = zrc == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
			break;
		}
	}
	inflateEnd(&z);
	if (rc == -EFBIG)
		return fail(err, errlen, rc, "decompressed profile larger than %zu bytes", max);
	if (rc == -EBADMSG && zrc == Z_BUF_ERROR)
		return fail(err, errlen, rc, "truncated gzip data");
	if (rc == -EBADMSG)
		return fail(err, errlen, rc, "corrupt gzip data: %s", z.msg ? z.msg : "bad data");
	if (rc)
		return fail(err, errlen, rc, "out of memory");
	return 0;
}

/* ---- resolving ---- */

/* Context of one resolve pass: the profile, and where to report. */
struct resolve {
	struct pprof_profile *p;
	const Perftools__Profiles__Profile *m;
	char *err;
	size_t errlen;
	struct htab mapping_ids, function_ids, location_ids;
};

/* The string at idx, or NULL (with the error reported) when idx is out of range. */
static const char *str_at(struct resolve *r, int64_t idx, const char *what)
{
	if (idx < 0 || (uint64_t)idx >= r->m->n_string_table) {
		fail(r->err, r->errlen, -EBADMSG, "%s: string index %lld out of range", what,
		     (long long)idx);
		return NULL;
	}
	return r->m->string_table[idx];
}

static uint32_t id_hash(uint64_t id)
{
	return hash_finish(hash_u64(0x9e3779b97f4a7c15ull, id));
}

static bool mapping_id_eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct pprof_profile *)ctx)->mappings[idx].id == *(const uint64_t *)key;
}

static bool function_id_eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct pprof_profile *)ctx)->functions[idx].id == *(const uint64_t *)key;
}

static bool location_id_eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct pprof_profile *)ctx)->locations[idx].id == *(const uint64_t *)key;
}

/* Records id → idx in t; ids must be nonzero and unique. */
static int add_id(struct resolve *r, struct htab *t, htab_eq_fn eq, uint64_t id, uint32_t idx,
		  const char *what)
{
	uint32_t found;
	size_t slot;
	uint32_t h = id_hash(id);

	if (!id)
		return fail(r->err, r->errlen, -EBADMSG, "%s with id 0", what);
	if (htab_find(t, h, eq, r->p, &id, &found, &slot))
		return fail(r->err, r->errlen, -EBADMSG, "duplicate %s id %llu", what,
			    (unsigned long long)id);
	if (htab_insert(t, h, slot, idx) < 0)
		return fail(r->err, r->errlen, -ENOMEM, "out of memory");
	return 0;
}

/* Index of the entry with id in t, or -1 (error reported). */
static long find_id(struct resolve *r, struct htab *t, htab_eq_fn eq, uint64_t id, const char *what)
{
	uint32_t idx;
	size_t slot;

	if (id && htab_find(t, id_hash(id), eq, r->p, &id, &idx, &slot))
		return idx;
	fail(r->err, r->errlen, -EBADMSG, "reference to unknown %s id %llu", what,
	     (unsigned long long)id);
	return -1;
}

static int resolve_header(struct resolve *r)
{
	const Perftools__Profiles__Profile *m = r->m;
	struct pprof_profile *p = r->p;
	struct pprof_header_info *h = &p->header;

	if (!m->n_string_table || m->string_table[0][0])
		return fail(r->err, r->errlen, -EBADMSG,
			    "not a profile (string table must start with \"\")");
	p->types = palloc(p, m->n_sample_type, sizeof(*p->types));
	p->comments = palloc(p, m->n_comment, sizeof(*p->comments));
	if (!p->types || !p->comments)
		return fail(r->err, r->errlen, -EFBIG, "profile exceeds the memory limit");
	for (size_t i = 0; i < m->n_sample_type; i++) {
		p->types[i].type = str_at(r, m->sample_type[i]->type, "sample type");
		p->types[i].unit = str_at(r, m->sample_type[i]->unit, "sample type");
		if (!p->types[i].type || !p->types[i].unit)
			return -EBADMSG;
	}
	for (size_t i = 0; i < m->n_comment; i++)
		if (!(p->comments[i] = str_at(r, m->comment[i], "comment")))
			return -EBADMSG;
	h->ntypes = m->n_sample_type;
	h->sample_types = p->types;
	h->ncomments = m->n_comment;
	h->comments = p->comments;
	h->period = m->period;
	h->time_nanos = m->time_nanos;
	h->duration_nanos = m->duration_nanos;
	h->period_type.type = str_at(r, m->period_type ? m->period_type->type : 0, "period");
	h->period_type.unit = str_at(r, m->period_type ? m->period_type->unit : 0, "period");
	h->default_sample_type = str_at(r, m->default_sample_type, "default sample type");
	h->drop_frames = str_at(r, m->drop_frames, "drop_frames");
	h->keep_frames = str_at(r, m->keep_frames, "keep_frames");
	if (!h->period_type.type || !h->period_type.unit || !h->default_sample_type ||
	    !h->drop_frames || !h->keep_frames)
		return -EBADMSG;
	return 0;
}

static int resolve_mappings(struct resolve *r)
{
	struct pprof_profile *p = r->p;

	p->mappings = palloc(p, r->m->n_mapping, sizeof(*p->mappings));
	if (!p->mappings)
		return fail(r->err, r->errlen, -EFBIG, "profile exceeds the memory limit");
	for (size_t i = 0; i < r->m->n_mapping; i++) {
		const Perftools__Profiles__Mapping *in = r->m->mapping[i];
		struct pprof_mapping_info *out = &p->mappings[i];
		int err;

		out->id = in->id;
		out->start = in->memory_start;
		out->limit = in->memory_limit;
		out->offset = in->file_offset;
		out->filename = str_at(r, in->filename, "mapping");
		out->build_id = str_at(r, in->build_id, "mapping");
		if (!out->filename || !out->build_id)
			return -EBADMSG;
		out->has_functions = in->has_functions;
		out->has_filenames = in->has_filenames;
		out->has_line_numbers = in->has_line_numbers;
		out->has_inline_frames = in->has_inline_frames;
		err = add_id(r, &r->mapping_ids, mapping_id_eq, in->id, i, "mapping");
		if (err)
			return err;
	}
	p->nmappings = r->m->n_mapping;
	return 0;
}

static int resolve_functions(struct resolve *r)
{
	struct pprof_profile *p = r->p;

	p->functions = palloc(p, r->m->n_function, sizeof(*p->functions));
	if (!p->functions)
		return fail(r->err, r->errlen, -EFBIG, "profile exceeds the memory limit");
	for (size_t i = 0; i < r->m->n_function; i++) {
		const Perftools__Profiles__Function *in = r->m->function[i];
		struct pprof_function_info *out = &p->functions[i];

		out->id = in->id;
		out->name = str_at(r, in->name, "function");
		out->system_name = str_at(r, in->system_name, "function");
		out->filename = str_at(r, in->filename, "function");
		out->start_line = in->start_line;
		if (!out->name || !out->system_name || !out->filename)
			return -EBADMSG;
		int err = add_id(r, &r->function_ids, function_id_eq, in->id, i, "function");
		if (err)
			return err;
	}
	p->nfunctions = r->m->n_function;
	return 0;
}

/* Sums a count over n items into *total, failing rather than overflowing. */
static bool add_count(size_t *total, size_t n)
{
	return !__builtin_add_overflow(*total, n, total);
}

static int resolve_location(struct resolve *r, size_t i, struct pprof_line_info **lines)
{
	const Perftools__Profiles__Location *in = r->m->location[i];
	struct pprof_location_info *out = &r->p->locations[i];

	out->id = in->id;
	out->address = in->address;
	if (in->mapping_id) {
		long mi = find_id(r, &r->mapping_ids, mapping_id_eq, in->mapping_id, "mapping");
		if (mi < 0)
			return -EBADMSG;
		out->mapping = &r->p->mappings[mi];
	}
	out->nlines = in->n_line;
	out->lines = *lines;
	for (size_t j = 0; j < in->n_line; j++) {
		long fi = find_id(r, &r->function_ids, function_id_eq, in->line[j]->function_id,
				  "function");
		if (fi < 0)
			return -EBADMSG;
		(*lines)[j].function = &r->p->functions[fi];
		(*lines)[j].line = in->line[j]->line;
	}
	*lines += in->n_line;
	return add_id(r, &r->location_ids, location_id_eq, in->id, i, "location");
}

static int resolve_locations(struct resolve *r)
{
	struct pprof_profile *p = r->p;
	struct pprof_line_info *next;
	size_t nlines = 0;

	for (size_t i = 0; i < r->m->n_location; i++)
		if (!add_count(&nlines, r->m->location[i]->n_line))
			return fail(r->err, r->errlen, -EBADMSG, "too many lines");
	p->locations = palloc(p, r->m->n_location, sizeof(*p->locations));
	p->lines = palloc(p, nlines, sizeof(*p->lines));
	if (!p->locations || !p->lines)
		return fail(r->err, r->errlen, -EFBIG, "profile exceeds the memory limit");
	next = p->lines;
	for (size_t i = 0; i < r->m->n_location; i++) {
		int err = resolve_location(r, i, &next);
		if (err)
			return err;
	}
	p->nlocations = r->m->n_location;
	return 0;
}

static int resolve_labels(struct resolve *r, const Perftools__Profiles__Sample *in,
			  struct pprof_label_info *out)
{
	for (size_t j = 0; j < in->n_label; j++) {
		const Perftools__Profiles__Label *l = in->label[j];

		out[j].key = str_at(r, l->key, "label");
		out[j].num_unit = str_at(r, l->num_unit, "label");
		/* As pprof reads it: a nonzero str makes a string label. */
		out[j].str = l->str ? str_at(r, l->str, "label") : NULL;
		out[j].num = l->num;
		if (!out[j].key || !out[j].num_unit || (l->str && !out[j].str))
			return -EBADMSG;
	}
	return 0;
}

static int resolve_sample(struct resolve *r, size_t i, const struct pprof_location_info ***locs,
			  struct pprof_label_info **labels)
{
	const Perftools__Profiles__Sample *in = r->m->sample[i];
	struct pprof_sample_info *out = &r->p->samples[i];

	if (in->n_value != r->m->n_sample_type)
		return fail(r->err, r->errlen, -EBADMSG,
			    "sample %zu has %zu values, but there are %zu sample types", i,
			    in->n_value, r->m->n_sample_type);
	out->nvalues = in->n_value;
	out->values = in->value;
	out->nlocations = in->n_location_id;
	out->locations = *locs;
	for (size_t j = 0; j < in->n_location_id; j++) {
		long li =
		    find_id(r, &r->location_ids, location_id_eq, in->location_id[j], "location");
		if (li < 0)
			return -EBADMSG;
		(*locs)[j] = &r->p->locations[li];
	}
	*locs += in->n_location_id;
	out->nlabels = in->n_label;
	out->labels = *labels;
	*labels += in->n_label;
	return resolve_labels(r, in, (struct pprof_label_info *)out->labels);
}

static int resolve_samples(struct resolve *r)
{
	struct pprof_profile *p = r->p;
	const struct pprof_location_info **locs;
	struct pprof_label_info *labels;
	size_t nlocs = 0, nlabels = 0;

	for (size_t i = 0; i < r->m->n_sample; i++)
		if (!add_count(&nlocs, r->m->sample[i]->n_location_id) ||
		    !add_count(&nlabels, r->m->sample[i]->n_label))
			return fail(r->err, r->errlen, -EBADMSG, "too many frames");
	p->samples = palloc(p, r->m->n_sample, sizeof(*p->samples));
	p->sample_locs = palloc(p, nlocs, sizeof(*p->sample_locs));
	p->labels = palloc(p, nlabels, sizeof(*p->labels));
	if (!p->samples || !p->sample_locs || !p->labels)
		return fail(r->err, r->errlen, -EFBIG, "profile exceeds the memory limit");
	locs = p->sample_locs;
	labels = p->labels;
	for (size_t i = 0; i < r->m->n_sample; i++) {
		int err = resolve_sample(r, i, &locs, &labels);
		if (err)
			return err;
	}
	p->nsamples = r->m->n_sample;
	return 0;
}

static int resolve_all(struct pprof_profile *p, char *err, size_t errlen)
{
	struct resolve r = {.p = p, .m = p->msg, .err = err, .errlen = errlen};
	int rc = resolve_header(&r);

	if (!rc)
		rc = resolve_mappings(&r);
	if (!rc)
		rc = resolve_functions(&r);
	if (!rc)
		rc = resolve_locations(&r);
	if (!rc)
		rc = resolve_samples(&r);
	htab_free(&r.mapping_ids);
	htab_free(&r.function_ids);
	htab_free(&r.location_ids);
	return rc;
}

/* ---- public ---- */

static void limits_or_defaults(const struct pprof_read_limits *in, struct pprof_read_limits *out)
{
	*out = in ? *in : (struct pprof_read_limits){0};
	if (!out->max_input)
		out->max_input = PPROF_DEFAULT_MAX_INPUT;
	if (!out->max_decoded)
		out->max_decoded = PPROF_DEFAULT_MAX_DECODED;
	if (!out->max_memory)
		out->max_memory = PPROF_DEFAULT_MAX_MEMORY;
}

/* Unpacks the decoded bytes into p->msg. */
static int unpack(struct pprof_profile *p, const unsigned char *data, size_t len, char *err,
		  size_t errlen)
{
	p->pb_alloc.alloc = budget_alloc;
	p->pb_alloc.free = budget_free;
	p->pb_alloc.allocator_data = &p->budget;
	p->msg = perftools__profiles__profile__unpack(&p->pb_alloc, len, data);
	if (p->msg)
		return 0;
	if (p->budget.exhausted)
		return fail(err, errlen, -EFBIG, "profile exceeds the memory limit");
	return fail(err, errlen, -EBADMSG, "not a profile (protobuf decoding failed)");
}

int pprof_profile_parse(const void *data, size_t len, const struct pprof_read_limits *limits,
			struct pprof_profile **out, char *err, size_t errlen)
{
	const unsigned char *in = data;
	struct gunzip_out plain = {0};
	struct pprof_read_limits lim;
	struct pprof_profile *p;
	int rc = 0;

	*out = NULL;
	limits_or_defaults(limits, &lim);
	if (len > UINT32_MAX) /* zlib counts input in 32 bits */
		return fail(err, errlen, -EFBIG, "profile larger than 4 GiB");
	if (len >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
		rc = gunzip(in, len, lim.max_decoded, &plain, err, errlen);
		if (rc) {
			free(plain.buf);
			return rc;
		}
		in = plain.buf;
		len = plain.len;
	} else if (len > lim.max_decoded) {
		return fail(err, errlen, -EFBIG, "profile larger than %zu bytes", lim.max_decoded);
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		free(plain.buf);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	p->budget.max = lim.max_memory;
	rc = unpack(p, in, len, err, errlen);
	free(plain.buf);
	if (!rc)
		rc = resolve_all(p, err, errlen);
	if (rc) {
		pprof_profile_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

/* Reads all of f, at most max bytes, into a malloc'd buffer. */
static int read_all(FILE *f, size_t max, unsigned char **buf, size_t *len)
{
	struct gunzip_out o = {0};

	for (;;) {
		size_t n;
		if (o.len == o.cap) {
			int rc = gunzip_grow(&o, max + 1);
			if (rc) {
				free(o.buf);
				return rc;
			}
		}
		n = fread(o.buf + o.len, 1, o.cap - o.len, f);
		o.len += n;
		if (o.len > max) {
			free(o.buf);
			return -EFBIG;
		}
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(o.buf);
		return -EIO;
	}
	*buf = o.buf;
	*len = o.len;
	return 0;
}

int pprof_profile_load(const char *path, const struct pprof_read_limits *limits,
		       struct pprof_profile **out, char *err, size_t errlen)
{
	struct pprof_read_limits lim;
	unsigned char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	*out = NULL;
	limits_or_defaults(limits, &lim);
	f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f)
		return fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
	rc = read_all(f, lim.max_input, &buf, &len);
	if (f != stdin)
		fclose(f);
	if (rc == -EFBIG)
		return fail(err, errlen, rc, "%s: larger than %zu bytes", path, lim.max_input);
	if (rc)
		return fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
	rc = pprof_profile_parse(buf, len, &lim, out, err, errlen);
	free(buf);
	return rc;
}

void pprof_profile_free(struct pprof_profile *p)
{
	void *own[] = {p ? p->mappings : NULL,	p ? p->functions : NULL,
		       p ? p->locations : NULL, p ? p->samples : NULL,
		       p ? p->types : NULL,	p ? (void *)p->comments : NULL,
		       p ? p->lines : NULL,	p ? (void *)p->sample_locs : NULL,
		       p ? p->labels : NULL};

	if (!p)
		return;
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		budget_free(&p->budget, own[i]);
	if (p->msg)
		perftools__profiles__profile__free_unpacked(p->msg, &p->pb_alloc);
	free(p);
}

const struct pprof_header_info *pprof_profile_header(const struct pprof_profile *p)
{
	return &p->header;
}

size_t pprof_profile_nsamples(const struct pprof_profile *p)
{
	return p->nsamples;
}

const struct pprof_sample_info *pprof_profile_sample(const struct pprof_profile *p, size_t i)
{
	return i < p->nsamples ? &p->samples[i] : NULL;
}

size_t pprof_profile_nlocations(const struct pprof_profile *p)
{
	return p->nlocations;
}

const struct pprof_location_info *pprof_profile_location(const struct pprof_profile *p, size_t i)
{
	return i < p->nlocations ? &p->locations[i] : NULL;
}

size_t pprof_profile_nfunctions(const struct pprof_profile *p)
{
	return p->nfunctions;
}

const struct pprof_function_info *pprof_profile_function(const struct pprof_profile *p, size_t i)
{
	return i < p->nfunctions ? &p->functions[i] : NULL;
}

size_t pprof_profile_nmappings(const struct pprof_profile *p)
{
	return p->nmappings;
}

const struct pprof_mapping_info *pprof_profile_mapping(const struct pprof_profile *p, size_t i)
{
	return i < p->nmappings ? &p->mappings[i] : NULL;
}

int pprof_profile_sample_index(const struct pprof_profile *p, const char *type)
{
	for (size_t i = 0; i < p->header.ntypes && i <= INT32_MAX; i++)
		if (!strcmp(p->header.sample_types[i].type, type))
			return (int)i;
	return -ENOENT;
}

int pprof_profile_default_index(const struct pprof_profile *p)
{
	int i;

	if (!p->header.ntypes)
		return -ENOENT;
	if (p->header.default_sample_type[0]) {
		i = pprof_profile_sample_index(p, p->header.default_sample_type);
		if (i >= 0)
			return i;
	}
	return p->header.ntypes - 1 > INT32_MAX ? -ENOENT : (int)(p->header.ntypes - 1);
}
