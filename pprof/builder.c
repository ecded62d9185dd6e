/*
 * The profile builder. Everything is kept directly as protobuf-c messages so that
 * writing needs no copy: the writer points a Profile message at these arrays.
 * Strings, mappings, functions and locations are interned through hash tables.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "pprof/builder_int.h"

/* Bounds that keep size arithmetic far from overflow. */
#define MAX_STACK  (1u << 20)
#define MAX_VALUES (1u << 16)
#define MAX_LABELS (1u << 16)
#define MAX_LINES  (1u << 16)

static int ptrvec_push(struct ptrvec *pv, void *p)
{
	if (pv->n == pv->cap) {
		size_t cap = pv->cap ? pv->cap * 2 : 64;
		void **v;

		if (cap > SIZE_MAX / sizeof(*v) || pv->n >= HTAB_MAX_INDEX)
			return -E2BIG;
		v = realloc(pv->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		pv->v = v;
		pv->cap = cap;
	}
	pv->v[pv->n++] = p;
	return 0;
}

static void ptrvec_free(struct ptrvec *pv)
{
	for (size_t i = 0; i < pv->n; i++)
		free(pv->v[i]);
	free(pv->v);
	memset(pv, 0, sizeof(*pv));
}

/* A random seed makes hash collisions unpredictable to whoever chose the input. */
static uint64_t random_seed(void)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == sizeof(seed))
		return seed;
	return (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&seed;
}

struct pprof_builder *pprof_builder_new(void)
{
	struct pprof_builder *b = calloc(1, sizeof(*b));
	int64_t zero;

	if (!b)
		return NULL;
	b->seed = random_seed() | 1;
	perftools__profiles__value_type__init(&b->period_type);
	if (pprof_add_string(b, "", &zero) < 0) {
		pprof_builder_free(b);
		errno = ENOMEM;
		return NULL;
	}
	return b;
}

void pprof_builder_free(struct pprof_builder *b)
{
	if (!b)
		return;
	ptrvec_free(&b->strings);
	ptrvec_free(&b->mappings);
	ptrvec_free(&b->functions);
	ptrvec_free(&b->locations);
	free(b->sample_bytes.p);
	htab_free(&b->string_tab);
	htab_free(&b->mapping_tab);
	htab_free(&b->function_tab);
	htab_free(&b->location_tab);
	free(b->sample_types);
	free(b->sample_type_ptrs);
	free(b->comments);
	free(b);
}

/* ---- strings ---- */

static bool string_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct pprof_builder *b = ctx;
	return !strcmp(b->strings.v[idx], key);
}

int pprof_add_string(struct pprof_builder *b, const char *s, int64_t *index)
{
	uint32_t hash, idx;
	size_t slot, len;
	char *copy;
	int err;

	if (!s)
		s = "";
	len = strlen(s);
	hash = hash_finish(hash_bytes(b->seed, s, len));
	if (htab_find(&b->string_tab, hash, string_eq, b, s, &idx, &slot)) {
		*index = idx;
		return 0;
	}
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len + 1);
	err = ptrvec_push(&b->strings, copy);
	if (err) {
		free(copy);
		return err;
	}
	err = htab_insert(&b->string_tab, hash, slot, b->strings.n - 1);
	if (err) {
		free(b->strings.v[--b->strings.n]);
		return err;
	}
	*index = b->strings.n - 1;
	return 0;
}

/* Interns several strings; out[i] receives the index of in[i]. */
static int add_strings(struct pprof_builder *b, const char *const *in, int64_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int err = pprof_add_string(b, in[i], &out[i]);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Adds a freshly allocated message at the end of pv and to table t; on failure frees
 * it and leaves both as they were. The id of an entry is its position + 1.
 */
static int add_interned(struct ptrvec *pv, struct htab *t, uint32_t hash, size_t slot, void *msg,
			uint64_t *id)
{
	int err = ptrvec_push(pv, msg);

	if (!err) {
		err = htab_insert(t, hash, slot, pv->n - 1);
		if (err)
			pv->n--;
	}
	if (err) {
		free(msg);
		return err;
	}
	*id = pv->n;
	return 0;
}

/* ---- mappings ---- */

static uint32_t mapping_hash(const struct pprof_builder *b, const Perftools__Profiles__Mapping *m)
{
	uint64_t h = b->seed;
	uint64_t flags = m->has_functions | m->has_filenames << 1 | m->has_line_numbers << 2 |
			 (uint64_t)m->has_inline_frames << 3;

	h = hash_u64(h, m->memory_start);
	h = hash_u64(h, m->memory_limit);
	h = hash_u64(h, m->file_offset);
	h = hash_u64(h, (uint64_t)m->filename);
	h = hash_u64(h, (uint64_t)m->build_id);
	return hash_finish(hash_u64(h, flags));
}

static bool mapping_eq(const void *ctx, uint32_t idx, const void *key)
{
	const Perftools__Profiles__Mapping *a =
	    ((const struct pprof_builder *)ctx)->mappings.v[idx];
	const Perftools__Profiles__Mapping *k = key;

	return a->memory_start == k->memory_start && a->memory_limit == k->memory_limit &&
	       a->file_offset == k->file_offset && a->filename == k->filename &&
	       a->build_id == k->build_id && a->has_functions == k->has_functions &&
	       a->has_filenames == k->has_filenames && a->has_line_numbers == k->has_line_numbers &&
	       a->has_inline_frames == k->has_inline_frames;
}

int pprof_add_mapping(struct pprof_builder *b, const struct pprof_mapping *m, uint64_t *id)
{
	Perftools__Profiles__Mapping key = PERFTOOLS__PROFILES__MAPPING__INIT, *msg;
	const char *names[2] = {m->filename, m->build_id};
	int64_t idx[2];
	uint32_t hash, found;
	size_t slot;
	int err = add_strings(b, names, idx, 2);

	if (err)
		return err;
	key.memory_start = m->start;
	key.memory_limit = m->limit;
	key.file_offset = m->offset;
	key.filename = idx[0];
	key.build_id = idx[1];
	key.has_functions = m->has_functions;
	key.has_filenames = m->has_filenames;
	key.has_line_numbers = m->has_line_numbers;
	key.has_inline_frames = m->has_inline_frames;
	hash = mapping_hash(b, &key);
	if (htab_find(&b->mapping_tab, hash, mapping_eq, b, &key, &found, &slot)) {
		*id = found + 1;
		return 0;
	}
	msg = malloc(sizeof(*msg));
	if (!msg)
		return -ENOMEM;
	*msg = key;
	msg->id = b->mappings.n + 1;
	return add_interned(&b->mappings, &b->mapping_tab, hash, slot, msg, id);
}

/* ---- functions ---- */

static bool function_eq(const void *ctx, uint32_t idx, const void *key)
{
	const Perftools__Profiles__Function *a =
	    ((const struct pprof_builder *)ctx)->functions.v[idx];
	const Perftools__Profiles__Function *k = key;

	return a->name == k->name && a->system_name == k->system_name &&
	       a->filename == k->filename && a->start_line == k->start_line;
}

int pprof_add_function(struct pprof_builder *b, const struct pprof_function *f, uint64_t *id)
{
	Perftools__Profiles__Function key = PERFTOOLS__PROFILES__FUNCTION__INIT, *msg;
	const char *names[3] = {f->name, f->system_name, f->filename};
	int64_t idx[3];
	uint32_t hash, found;
	uint64_t h;
	size_t slot;
	int err = add_strings(b, names, idx, 3);

	if (err)
		return err;
	key.name = idx[0];
	key.system_name = idx[1];
	key.filename = idx[2];
	key.start_line = f->start_line;
	h = hash_bytes(b->seed, idx, sizeof(idx));
	hash = hash_finish(hash_u64(h, (uint64_t)f->start_line));
	if (htab_find(&b->function_tab, hash, function_eq, b, &key, &found, &slot)) {
		*id = found + 1;
		return 0;
	}
	msg = malloc(sizeof(*msg));
	if (!msg)
		return -ENOMEM;
	*msg = key;
	msg->id = b->functions.n + 1;
	return add_interned(&b->functions, &b->function_tab, hash, slot, msg, id);
}

/* ---- locations ---- */

struct location_key {
	uint64_t mapping_id, address;
	const struct pprof_line *lines;
	size_t nlines;
};

static bool location_eq(const void *ctx, uint32_t idx, const void *key)
{
	const Perftools__Profiles__Location *a =
	    ((const struct pprof_builder *)ctx)->locations.v[idx];
	const struct location_key *k = key;

	if (a->mapping_id != k->mapping_id || a->address != k->address || a->n_line != k->nlines)
		return false;
	for (size_t i = 0; i < k->nlines; i++)
		if (a->line[i]->function_id != k->lines[i].function_id ||
		    a->line[i]->line != k->lines[i].line)
			return false;
	return true;
}

static uint32_t location_hash(const struct pprof_builder *b, const struct location_key *k)
{
	uint64_t h = hash_u64(hash_u64(b->seed, k->mapping_id), k->address);

	for (size_t i = 0; i < k->nlines; i++) {
		h = hash_u64(h, k->lines[i].function_id);
		h = hash_u64(h, (uint64_t)k->lines[i].line);
	}
	return hash_finish(hash_u64(h, k->nlines));
}

/* One allocation: the Location, its array of Line pointers, then the Lines. */
static Perftools__Profiles__Location *location_alloc(const struct location_key *k, uint64_t id)
{
	Perftools__Profiles__Location *loc;
	Perftools__Profiles__Line *lines;
	size_t size = sizeof(*loc) + k->nlines * (sizeof(*loc->line) + sizeof(*lines));

	loc = malloc(size);
	if (!loc)
		return NULL;
	perftools__profiles__location__init(loc);
	loc->id = id;
	loc->mapping_id = k->mapping_id;
	loc->address = k->address;
	loc->n_line = k->nlines;
	loc->line = (Perftools__Profiles__Line **)(loc + 1);
	lines = (Perftools__Profiles__Line *)(loc->line + k->nlines);
	for (size_t i = 0; i < k->nlines; i++) {
		perftools__profiles__line__init(&lines[i]);
		lines[i].function_id = k->lines[i].function_id;
		lines[i].line = k->lines[i].line;
		loc->line[i] = &lines[i];
	}
	if (!k->nlines)
		loc->line = NULL;
	return loc;
}

int pprof_add_location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
		       const struct pprof_line *lines, size_t nlines, uint64_t *id)
{
	struct location_key key = {mapping_id, address, lines, nlines};
	Perftools__Profiles__Location *loc;
	uint32_t hash, found;
	size_t slot;

	if (mapping_id > b->mappings.n || nlines > MAX_LINES || (nlines && !lines))
		return -EINVAL;
	for (size_t i = 0; i < nlines; i++)
		if (!lines[i].function_id || lines[i].function_id > b->functions.n)
			return -EINVAL;
	hash = location_hash(b, &key);
	if (htab_find(&b->location_tab, hash, location_eq, b, &key, &found, &slot)) {
		*id = found + 1;
		return 0;
	}
	loc = location_alloc(&key, b->locations.n + 1);
	if (!loc)
		return -ENOMEM;
	return add_interned(&b->locations, &b->location_tab, hash, slot, loc, id);
}

/* ---- samples ---- */

/* Fills sample labels; strings are interned first so a failure allocates nothing. */
static int sample_labels(struct pprof_builder *b, Perftools__Profiles__Label *out,
			 const struct pprof_label *labels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		Perftools__Profiles__Label *l = &out[i];
		int err;

		perftools__profiles__label__init(l);
		err = pprof_add_string(b, labels[i].key, &l->key);
		if (!err && labels[i].str)
			err = pprof_add_string(b, labels[i].str, &l->str);
		if (!err && !labels[i].str && labels[i].num_unit)
			err = pprof_add_string(b, labels[i].num_unit, &l->num_unit);
		if (err)
			return err;
		if (!labels[i].str)
			l->num = labels[i].num;
	}
	return 0;
}

static int check_sample(const struct pprof_builder *b, const uint64_t *ids, size_t nids,
			const int64_t *values, size_t nvalues, const struct pprof_label *labels,
			size_t nlabels)
{
	if (!b->ntypes || nvalues != b->ntypes || nids > MAX_STACK || nlabels > MAX_LABELS)
		return -EINVAL;
	if ((nids && !ids) || !values || (nlabels && !labels))
		return -EINVAL;
	for (size_t i = 0; i < nids; i++)
		if (!ids[i] || ids[i] > b->locations.n)
			return -EINVAL;
	for (size_t i = 0; i < nlabels; i++)
		if (!labels[i].key)
			return -EINVAL;
	return 0;
}

/* ---- sample encoding (protobuf wire format) ---- */

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *put_tag(uint8_t *p, unsigned field, unsigned wire)
{
	return put_varint(p, (uint64_t)(field << 3 | wire));
}

/* An int64 field of a Label; proto3 leaves zero out. */
static size_t label_field_size(int64_t v)
{
	return v ? 1 + varint_size((uint64_t)v) : 0;
}

static uint8_t *put_label_field(uint8_t *p, unsigned field, int64_t v)
{
	return v ? put_varint(put_tag(p, field, WIRE_VARINT), (uint64_t)v) : p;
}

static size_t label_size(const Perftools__Profiles__Label *l)
{
	return label_field_size(l->key) + label_field_size(l->str) + label_field_size(l->num) +
	       label_field_size(l->num_unit);
}

static size_t packed_size(const uint64_t *v, size_t n)
{
	size_t size = 0;

	for (size_t i = 0; i < n; i++)
		size += varint_size(v[i]);
	return size;
}

/* Size of a Sample message body. */
static size_t sample_size(const uint64_t *ids, size_t nids, const int64_t *values, size_t nvalues,
			  const Perftools__Profiles__Label *labels, size_t nlabels)
{
	size_t ids_len = packed_size(ids, nids),
	       values_len = packed_size((const uint64_t *)values, nvalues);
	size_t size = 0;

	if (nids)
		size += 1 + varint_size(ids_len) + ids_len;
	if (nvalues)
		size += 1 + varint_size(values_len) + values_len;
	for (size_t i = 0; i < nlabels; i++)
		size += 1 + varint_size(label_size(&labels[i])) + label_size(&labels[i]);
	return size;
}

static uint8_t *put_packed(uint8_t *p, unsigned field, const uint64_t *v, size_t n)
{
	if (!n)
		return p;
	p = put_varint(put_tag(p, field, WIRE_LEN), packed_size(v, n));
	for (size_t i = 0; i < n; i++)
		p = put_varint(p, v[i]);
	return p;
}

static int bytebuf_reserve(struct bytebuf *buf, size_t more)
{
	if (buf->len + more > buf->cap) {
		size_t cap = buf->cap ? buf->cap : 64 * 1024;
		uint8_t *grown;

		while (cap < buf->len + more)
			cap *= 2;
		grown = realloc(buf->p, cap);
		if (!grown)
			return -ENOMEM;
		buf->p = grown;
		buf->cap = cap;
	}
	return 0;
}

int pprof_add_sample(struct pprof_builder *b, const uint64_t *location_ids, size_t nlocations,
		     const int64_t *values, size_t nvalues, const struct pprof_label *labels,
		     size_t nlabels)
{
	Perftools__Profiles__Label small[8], *lab = small;
	size_t body, total;
	uint8_t *p;
	int err = check_sample(b, location_ids, nlocations, values, nvalues, labels, nlabels);

	if (err)
		return err;
	if (nlabels > 8 && !(lab = calloc(nlabels, sizeof(*lab))))
		return -ENOMEM;
	err = sample_labels(b, lab, labels, nlabels);
	body = sample_size(location_ids, nlocations, values, nvalues, lab, nlabels);
	total = 1 + varint_size(body) + body;
	if (!err)
		err = bytebuf_reserve(&b->sample_bytes, total);
	if (err) {
		if (lab != small)
			free(lab);
		return err;
	}
	p = b->sample_bytes.p + b->sample_bytes.len;
	p = put_varint(put_tag(p, 2, WIRE_LEN), body); /* Profile.sample = 2 */
	p = put_packed(p, 1, location_ids, nlocations);
	p = put_packed(p, 2, (const uint64_t *)values, nvalues);
	for (size_t i = 0; i < nlabels; i++) {
		p = put_varint(put_tag(p, 3, WIRE_LEN), label_size(&lab[i]));
		p = put_label_field(p, 1, lab[i].key);
		p = put_label_field(p, 2, lab[i].str);
		p = put_label_field(p, 3, lab[i].num);
		p = put_label_field(p, 4, lab[i].num_unit);
	}
	if (lab != small)
		free(lab);
	b->sample_bytes.len += total;
	b->nsamples++;
	return 0;
}

/* ---- profile-wide fields ---- */

int pprof_set_sample_types(struct pprof_builder *b, const struct pprof_value_type *types, size_t n)
{
	Perftools__Profiles__ValueType *vt;
	Perftools__Profiles__ValueType **ptrs;

	if (b->ntypes || !n || n > MAX_VALUES || !types)
		return -EINVAL;
	vt = calloc(n, sizeof(*vt));
	ptrs = calloc(n, sizeof(*ptrs));
	if (!vt || !ptrs) {
		free(vt);
		free(ptrs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const char *names[2] = {types[i].type, types[i].unit};
		int64_t idx[2];
		int err = add_strings(b, names, idx, 2);

		if (err) {
			free(vt);
			free(ptrs);
			return err;
		}
		perftools__profiles__value_type__init(&vt[i]);
		vt[i].type = idx[0];
		vt[i].unit = idx[1];
		ptrs[i] = &vt[i];
	}
	b->sample_types = vt;
	b->sample_type_ptrs = ptrs;
	b->ntypes = n;
	return 0;
}

int pprof_set_period(struct pprof_builder *b, const struct pprof_value_type *type, int64_t period)
{
	int64_t t, u;
	int err = pprof_add_string(b, type->type, &t);

	if (!err)
		err = pprof_add_string(b, type->unit, &u);
	if (err)
		return err;
	b->period_type.type = t;
	b->period_type.unit = u;
	b->period = period;
	return 0;
}

void pprof_set_time(struct pprof_builder *b, int64_t time_nanos, int64_t duration_nanos)
{
	b->time_nanos = time_nanos;
	b->duration_nanos = duration_nanos;
}

int pprof_set_default_sample_type(struct pprof_builder *b, const char *type)
{
	for (size_t i = 0; type && i < b->ntypes; i++) {
		if (!strcmp(b->strings.v[b->sample_types[i].type], type)) {
			b->default_sample_type = b->sample_types[i].type;
			return 0;
		}
	}
	return -EINVAL;
}

int pprof_add_comment(struct pprof_builder *b, const char *text)
{
	int64_t idx;
	int err;

	if (!text)
		return -EINVAL;
	if (b->ncomments == b->capcomments) {
		size_t cap = b->capcomments ? b->capcomments * 2 : 4;
		int64_t *c;

		if (cap > MAX_VALUES)
			return -E2BIG;
		c = realloc(b->comments, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		b->comments = c;
		b->capcomments = cap;
	}
	err = pprof_add_string(b, text, &idx);
	if (err)
		return err;
	b->comments[b->ncomments++] = idx;
	return 0;
}

int pprof_set_drop_frames(struct pprof_builder *b, const char *regexp)
{
	return regexp ? pprof_add_string(b, regexp, &b->drop_frames) : (b->drop_frames = 0);
}

int pprof_set_keep_frames(struct pprof_builder *b, const char *regexp)
{
	return regexp ? pprof_add_string(b, regexp, &b->keep_frames) : (b->keep_frames = 0);
}

size_t pprof_builder_nsamples(const struct pprof_builder *b)
{
	return b->nsamples;
}

size_t pprof_builder_nlocations(const struct pprof_builder *b)
{
	return b->locations.n;
}

size_t pprof_builder_nfunctions(const struct pprof_builder *b)
{
	return b->functions.n;
}

size_t pprof_builder_nmappings(const struct pprof_builder *b)
{
	return b->mappings.n;
}

size_t pprof_builder_nstrings(const struct pprof_builder *b)
{
	return b->strings.n;
}
