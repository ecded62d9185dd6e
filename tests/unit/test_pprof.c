/* Unit tests of pprof/: builder interning, writing, reading back, rejecting bad input. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "pprof/pprof.h"
#include "pprof/profile.pb-c.h"
#include "tests/unit/testhelp.h"

static const struct pprof_value_type heap_types[] = {
    {"alloc_objects", "count"},
    {"alloc_space", "bytes"},
    {"inuse_objects", "count"},
    {"inuse_space", "bytes"},
};

TEST(pprof_strings_interned)
{
	struct pprof_builder *b = pprof_builder_new();
	int64_t a, bb, a2, e, n;

	REQUIRE(b);
	CHECK(!pprof_add_string(b, "alpha", &a));
	CHECK(!pprof_add_string(b, "beta", &bb));
	CHECK(!pprof_add_string(b, "alpha", &a2));
	CHECK(!pprof_add_string(b, "", &e));
	CHECK(!pprof_add_string(b, NULL, &n));
	CHECK_EQ_U64(a, 1);
	CHECK_EQ_U64(bb, 2);
	CHECK_EQ_U64(a2, 1);
	CHECK_EQ_U64(e, 0);
	CHECK_EQ_U64(n, 0);
	CHECK_EQ_U64(pprof_builder_nstrings(b), 3);
	pprof_builder_free(b);
}

TEST(pprof_interning_gives_sequential_ids)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_mapping m1 = {0x1000, 0x2000, 0, "/bin/a", "id", true, true, true, true};
	struct pprof_mapping m2 = m1;
	struct pprof_function f = {"main.f", "main.f", "f.go", 1}, g = {"main.g", NULL, "g.go", 9};
	uint64_t mid1, mid2, mid3, fid1, fid2, fid3, l1, l2, l3, l4;

	REQUIRE(b);
	m2.has_inline_frames = false; /* any field makes a different mapping */
	CHECK(!pprof_add_mapping(b, &m1, &mid1));
	CHECK(!pprof_add_mapping(b, &m2, &mid2));
	CHECK(!pprof_add_mapping(b, &m1, &mid3));
	CHECK_EQ_U64(mid1, 1);
	CHECK_EQ_U64(mid2, 2);
	CHECK_EQ_U64(mid3, 1);
	CHECK(!pprof_add_function(b, &f, &fid1));
	CHECK(!pprof_add_function(b, &g, &fid2));
	CHECK(!pprof_add_function(b, &f, &fid3));
	CHECK_EQ_U64(fid1, 1);
	CHECK_EQ_U64(fid2, 2);
	CHECK_EQ_U64(fid3, 1);
	{
		struct pprof_line inl[] = {{fid2, 5}, {fid1, 7}}, one[] = {{fid1, 7}};
		CHECK(!pprof_add_location(b, mid1, 0x1100, inl, 2, &l1));
		CHECK(!pprof_add_location(b, mid1, 0x1100, one, 1, &l2)); /* other lines */
		CHECK(!pprof_add_location(b, mid1, 0x1100, inl, 2, &l3));
		CHECK(!pprof_add_location(b, 0, 0x1100, inl, 2, &l4)); /* no mapping */
	}
	CHECK_EQ_U64(l1, 1);
	CHECK_EQ_U64(l2, 2);
	CHECK_EQ_U64(l3, 1);
	CHECK_EQ_U64(l4, 3);
	CHECK_EQ_U64(pprof_builder_nmappings(b), 2);
	CHECK_EQ_U64(pprof_builder_nfunctions(b), 2);
	CHECK_EQ_U64(pprof_builder_nlocations(b), 3);
	pprof_builder_free(b);
}

/* Many distinct entries: the tables must grow and keep finding old ones. */
TEST(pprof_interning_scales)
{
	struct pprof_builder *b = pprof_builder_new();
	char name[32];
	uint64_t id;
	int ok = 1;

	REQUIRE(b);
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < 20000 && ok; i++) {
			struct pprof_function f = {name, NULL, "x.go", i};
			snprintf(name, sizeof(name), "pkg.F%d", i);
			ok = !pprof_add_function(b, &f, &id) && id == (uint64_t)i + 1;
		}
	}
	CHECK(ok);
	CHECK_EQ_U64(pprof_builder_nfunctions(b), 20000);
	CHECK_EQ_U64(pprof_builder_nstrings(b), 20002);
	pprof_builder_free(b);
}

TEST(pprof_builder_rejects_bad_references)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_function f = {"f", NULL, NULL, 0};
	struct pprof_line bad = {7, 1};
	uint64_t fid, loc, none = 99;
	int64_t v4[4] = {1, 2, 3, 4};

	REQUIRE(b);
	REQUIRE(!pprof_add_function(b, &f, &fid));
	CHECK_EQ_U64(pprof_add_location(b, 0, 1, &bad, 1, &loc), (uint64_t)-EINVAL);
	CHECK_EQ_U64(pprof_add_location(b, 3, 1, NULL, 0, &loc), (uint64_t)-EINVAL);
	REQUIRE(!pprof_add_location(b, 0, 1, &(struct pprof_line){fid, 1}, 1, &loc));
	/* Samples need sample types first, and exactly one value per type. */
	CHECK_EQ_U64(pprof_add_sample(b, &loc, 1, v4, 4, NULL, 0), (uint64_t)-EINVAL);
	REQUIRE(!pprof_set_sample_types(b, heap_types, 4));
	CHECK_EQ_U64(pprof_set_sample_types(b, heap_types, 4), (uint64_t)-EINVAL);
	CHECK_EQ_U64(pprof_add_sample(b, &loc, 1, v4, 3, NULL, 0), (uint64_t)-EINVAL);
	CHECK_EQ_U64(pprof_add_sample(b, &none, 1, v4, 4, NULL, 0), (uint64_t)-EINVAL);
	CHECK_EQ_U64(pprof_set_default_sample_type(b, "cpu"), (uint64_t)-EINVAL);
	CHECK(!pprof_set_default_sample_type(b, "alloc_space"));
	CHECK(!pprof_add_sample(b, &loc, 1, v4, 4, NULL, 0));
	CHECK_EQ_U64(pprof_builder_nsamples(b), 1);
	pprof_builder_free(b);
}

/* A small heap profile: two inlined frames, a duplicate sample, labels, comments. */
static struct pprof_builder *sample_profile(void)
{
	struct pprof_builder *b = pprof_builder_new();
	struct pprof_mapping m = {0x400000, 0x500000, 0, "/bin/app", "bid", true, true, true, true};
	const struct pprof_value_type period = {"space", "bytes"};
	struct pprof_label labels[] = {{.key = "bytes", .num = 64, .num_unit = "bytes"},
				       {.key = "kind", .str = "small"}};
	uint64_t mid, fa, fb, fc, l1, l2, s[2];
	int err = 0;

	if (!b)
		return NULL;
	err |= pprof_set_sample_types(b, heap_types, 4);
	err |= pprof_set_period(b, &period, 524288);
	pprof_set_time(b, 123456789, 1000);
	err |= pprof_add_comment(b, "hello");
	err |= pprof_set_default_sample_type(b, "inuse_objects");
	err |= pprof_add_mapping(b, &m, &mid);
	err |= pprof_add_function(b, &(struct pprof_function){"a.leaf", "a.leaf", "a.go", 3}, &fa);
	err |= pprof_add_function(b, &(struct pprof_function){"a.mid", "a.mid", "a.go", 9}, &fb);
	err |= pprof_add_function(b, &(struct pprof_function){"a.main", NULL, "a.go", 20}, &fc);
	if (err) {
		pprof_builder_free(b);
		return NULL;
	}
	err |=
	    pprof_add_location(b, mid, 0x401000, (struct pprof_line[]){{fa, 4}, {fb, 11}}, 2, &l1);
	err |= pprof_add_location(b, mid, 0x402000, (struct pprof_line[]){{fc, 22}}, 1, &l2);
	s[0] = l1;
	s[1] = l2;
	err |= pprof_add_sample(b, s, 2, (int64_t[]){4, 256, 2, 128}, 4, labels, 2);
	err |= pprof_add_sample(b, s, 2, (int64_t[]){4, 256, 2, 128}, 4, labels, 2);
	err |= pprof_add_sample(b, &l2, 1, (int64_t[]){1, 1000, 1, 1000}, 4, NULL, 0);
	if (err) {
		pprof_builder_free(b);
		return NULL;
	}
	return b;
}

static struct pprof_profile *parse_or_null(const void *buf, size_t len, char *err, size_t n)
{
	struct pprof_profile *p = NULL;
	return pprof_profile_parse(buf, len, NULL, &p, err, n) ? NULL : p;
}

TEST(pprof_round_trip)
{
	struct pprof_builder *b = sample_profile();
	struct pprof_profile *p = NULL;
	const struct pprof_header_info *h;
	const struct pprof_sample_info *s;
	char err[256] = "";
	void *buf = NULL;
	size_t len;

	REQUIRE(b);
	REQUIRE_GOTO(!pprof_write_mem(b, &buf, &len), out);
	REQUIRE_GOTO(len > 20 && ((unsigned char *)buf)[0] == 0x1f, out);
	p = parse_or_null(buf, len, err, sizeof(err));
	CHECK_MSG(p, "parse: %s", err);
	REQUIRE_GOTO(p, out);
	h = pprof_profile_header(p);
	CHECK_EQ_U64(h->ntypes, 4);
	CHECK_STR(h->sample_types[3].type, "inuse_space");
	CHECK_STR(h->sample_types[3].unit, "bytes");
	CHECK_STR(h->period_type.type, "space");
	CHECK_EQ_U64(h->period, 524288);
	CHECK_EQ_U64(h->time_nanos, 123456789);
	CHECK_EQ_U64(h->duration_nanos, 1000);
	CHECK_EQ_U64(h->ncomments, 1);
	CHECK_STR(h->comments[0], "hello");
	CHECK_STR(h->default_sample_type, "inuse_objects");
	CHECK_EQ_U64(pprof_profile_default_index(p), 2);
	CHECK_EQ_U64(pprof_profile_sample_index(p, "alloc_space"), 1);
	CHECK_EQ_U64(pprof_profile_sample_index(p, "cpu"), (uint64_t)-ENOENT);
	/* Identical samples stay separate. */
	CHECK_EQ_U64(pprof_profile_nsamples(p), 3);
	CHECK_EQ_U64(pprof_profile_nlocations(p), 2);
	CHECK_EQ_U64(pprof_profile_nfunctions(p), 3);
	CHECK_EQ_U64(pprof_profile_nmappings(p), 1);
	s = pprof_profile_sample(p, 1);
	REQUIRE_GOTO(s && s->nlocations == 2 && s->nvalues == 4, out);
	CHECK_EQ_U64(s->values[1], 256);
	CHECK_EQ_U64(s->locations[0]->nlines, 2);
	CHECK_STR(s->locations[0]->lines[0].function->name, "a.leaf");
	CHECK_EQ_U64(s->locations[0]->lines[0].line, 4);
	CHECK_STR(s->locations[0]->lines[1].function->name, "a.mid");
	CHECK_STR(s->locations[1]->lines[0].function->name, "a.main");
	CHECK_STR(s->locations[1]->lines[0].function->system_name, "");
	CHECK_EQ_U64(s->locations[0]->address, 0x401000);
	CHECK_STR(s->locations[0]->mapping->filename, "/bin/app");
	CHECK_STR(s->locations[0]->mapping->build_id, "bid");
	CHECK(s->locations[0]->mapping->has_inline_frames);
	REQUIRE_GOTO(s->nlabels == 2, out);
	CHECK_STR(s->labels[0].key, "bytes");
	CHECK(s->labels[0].str == NULL);
	CHECK_EQ_U64(s->labels[0].num, 64);
	CHECK_STR(s->labels[0].num_unit, "bytes");
	CHECK_STR(s->labels[1].str, "small");
	CHECK(pprof_profile_sample(p, 3) == NULL);
out:
	pprof_profile_free(p);
	free(buf);
	pprof_builder_free(b);
}

/* Gunzips buf into a new buffer (the reader must also take plain protobuf). */
static unsigned char *gunzip_all(const void *buf, size_t len, size_t *out_len)
{
	size_t cap = 1 << 20;
	unsigned char *out = malloc(cap);
	z_stream z = {0};

	if (!out || inflateInit2(&z, 15 + 16) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (unsigned char *)buf;
	z.avail_in = len;
	z.next_out = out;
	z.avail_out = cap;
	if (inflate(&z, Z_FINISH) != Z_STREAM_END) {
		free(out);
		out = NULL;
	}
	*out_len = z.total_out;
	inflateEnd(&z);
	return out;
}

TEST(pprof_reads_plain_and_rejects_damaged)
{
	struct pprof_builder *b = sample_profile();
	struct pprof_profile *p = NULL;
	unsigned char *plain = NULL, *gz = NULL;
	struct pprof_read_limits small = {.max_decoded = 100};
	struct pprof_read_limits tiny_mem = {.max_memory = 512};
	size_t len, plen;
	char err[256];

	REQUIRE(b);
	REQUIRE_GOTO(!pprof_write_mem(b, (void **)&gz, &len), out);
	plain = gunzip_all(gz, len, &plen);
	REQUIRE_GOTO(plain, out);
	p = parse_or_null(plain, plen, err, sizeof(err));
	CHECK_MSG(p && pprof_profile_nsamples(p) == 3, "plain: %s", err);
	pprof_profile_free(p);
	p = NULL;
	CHECK_EQ_U64(pprof_profile_parse(gz, len - 9, NULL, &p, err, sizeof(err)),
		     (uint64_t)-EBADMSG);
	CHECK_MSG(strstr(err, "pprof: truncated gzip"), "%s", err);
	CHECK_EQ_U64(pprof_profile_parse("hello world", 11, NULL, &p, err, sizeof(err)),
		     (uint64_t)-EBADMSG);
	CHECK_EQ_U64(pprof_profile_parse("", 0, NULL, &p, err, sizeof(err)), (uint64_t)-EBADMSG);
	CHECK_EQ_U64(pprof_profile_parse(gz, len, &small, &p, err, sizeof(err)), (uint64_t)-EFBIG);
	CHECK_EQ_U64(pprof_profile_parse(plain, plen, &tiny_mem, &p, err, sizeof(err)),
		     (uint64_t)-EFBIG);
	CHECK(p == NULL);
out:
	free(plain);
	free(gz);
	pprof_builder_free(b);
}

/* Packs a hand-made message and returns what the reader makes of it. */
static int parse_message(const Perftools__Profiles__Profile *m, char *err, size_t errlen)
{
	size_t len = perftools__profiles__profile__get_packed_size(m);
	uint8_t *buf = malloc(len + 1);
	struct pprof_profile *p = NULL;
	int rc;

	if (!buf)
		return -ENOMEM;
	perftools__profiles__profile__pack(m, buf);
	rc = pprof_profile_parse(buf, len, NULL, &p, err, errlen);
	pprof_profile_free(p);
	free(buf);
	return rc;
}

TEST(pprof_reader_checks_references)
{
	Perftools__Profiles__Profile m = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT, *vtp = &vt;
	Perftools__Profiles__Function f1 = PERFTOOLS__PROFILES__FUNCTION__INIT, *fp[2];
	Perftools__Profiles__Function f2 = PERFTOOLS__PROFILES__FUNCTION__INIT;
	Perftools__Profiles__Line ln = PERFTOOLS__PROFILES__LINE__INIT, *lnp = &ln;
	Perftools__Profiles__Location loc = PERFTOOLS__PROFILES__LOCATION__INIT, *locp = &loc;
	Perftools__Profiles__Sample s = PERFTOOLS__PROFILES__SAMPLE__INIT, *sp = &s;
	char *strings[] = {"", "space", "bytes", "main.f"};
	uint64_t ids[] = {5};
	int64_t vals[] = {42, 43};
	char err[256];

	m.n_string_table = 4;
	m.string_table = strings;
	vt.type = 1;
	vt.unit = 2;
	m.n_sample_type = 1;
	m.sample_type = &vtp;
	f1.id = 10;
	f1.name = 3;
	f2.id = 11;
	fp[0] = &f1;
	fp[1] = &f2;
	m.n_function = 2;
	m.function = fp;
	ln.function_id = 10;
	loc.id = 5;
	loc.n_line = 1;
	loc.line = &lnp;
	m.n_location = 1;
	m.location = &locp;
	s.n_location_id = 1;
	s.location_id = ids;
	s.n_value = 1;
	s.value = vals;
	m.n_sample = 1;
	m.sample = &sp;
	/* Sparse, non-sequential ids are fine. */
	CHECK_MSG(parse_message(&m, err, sizeof(err)) == 0, "%s", err);

	f1.name = 4; /* string index out of range */
	CHECK_EQ_U64(parse_message(&m, err, sizeof(err)), (uint64_t)-EBADMSG);
	CHECK_MSG(strstr(err, "string index 4"), "%s", err);
	f1.name = 3;
	f2.id = 10; /* duplicate function id */
	CHECK_EQ_U64(parse_message(&m, err, sizeof(err)), (uint64_t)-EBADMSG);
	CHECK_MSG(strstr(err, "duplicate function id"), "%s", err);
	f2.id = 11;
	ln.function_id = 12; /* unknown function */
	CHECK_EQ_U64(parse_message(&m, err, sizeof(err)), (uint64_t)-EBADMSG);
	ln.function_id = 10;
	loc.mapping_id = 1; /* no mappings at all */
	CHECK_EQ_U64(parse_message(&m, err, sizeof(err)), (uint64_t)-EBADMSG);
	loc.mapping_id = 0;
	ids[0] = 6; /* unknown location */
	CHECK_EQ_U64(parse_message(&m, err, sizeof(err)), (uint64_t)-EBADMSG);
	ids[0] = 5;
	s.n_value = 2; /* two values, one sample type */
	CHECK_EQ_U64(parse_message(&m, err, sizeof(err)), (uint64_t)-EBADMSG);
	s.n_value = 1;
	strings[0] = "x"; /* string 0 must be "" */
	CHECK_EQ_U64(parse_message(&m, err, sizeof(err)), (uint64_t)-EBADMSG);
	strings[0] = "";
	loc.id = 0; /* id 0 is reserved */
	CHECK_EQ_U64(parse_message(&m, err, sizeof(err)), (uint64_t)-EBADMSG);
	loc.id = 5;
	m.default_sample_type = -1;
	CHECK_EQ_U64(parse_message(&m, err, sizeof(err)), (uint64_t)-EBADMSG);
}

static int read_file(const char *path, unsigned char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return -errno;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	*buf = malloc(n > 0 ? n : 1);
	*len = *buf ? fread(*buf, 1, n, f) : 0;
	fclose(f);
	return *buf && *len == (size_t)n ? 0 : -EIO;
}

/* Counts entries of dir whose names contain part. */
static int count_entries(const char *dir, const char *part)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += strstr(de->d_name, part) != NULL;
	if (d)
		closedir(d);
	return n;
}

TEST(pprof_write_atomic)
{
	struct pprof_builder *b = sample_profile();
	char dir[] = "/tmp/pprof-test-XXXXXX", path[128], sub[128];
	unsigned char *file = NULL;
	void *mem = NULL;
	size_t flen, mlen;
	struct stat st;

	REQUIRE(b);
	REQUIRE_GOTO(mkdtemp(dir), out);
	snprintf(path, sizeof(path), "%s/heap.pb.gz", dir);
	CHECK(!pprof_write_atomic(b, path, 0640));
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
	/* The same bytes as written to memory: the gzip stream is deterministic. */
	CHECK(!read_file(path, &file, &flen));
	CHECK(!pprof_write_mem(b, &mem, &mlen));
	CHECK(file && mem && flen == mlen && !memcmp(file, mem, flen));
	/* Over an existing directory: fails, and no temporary file is left. */
	snprintf(sub, sizeof(sub), "%s/taken", dir);
	CHECK(mkdir(sub, 0700) == 0);
	CHECK(pprof_write_atomic(b, sub, 0600) < 0);
	CHECK_EQ_U64(count_entries(dir, ".tmp."), 0);
	CHECK_EQ_U64(count_entries(dir, ""), 4); /* ., .., heap.pb.gz, taken */
	/* Into a directory that does not exist. */
	snprintf(sub, sizeof(sub), "%s/missing/x.pb.gz", dir);
	CHECK_EQ_U64(pprof_write_atomic(b, sub, 0600), (uint64_t)-ENOENT);
	rmdir(strcat(strcpy(sub, dir), "/taken"));
	unlink(path);
	rmdir(dir);
out:
	free(file);
	free(mem);
	pprof_builder_free(b);
}

/* A sink that fails after some bytes: the error comes back, nothing crashes. */
static int failing_sink(void *ctx, const void *data, size_t len)
{
	size_t *left = ctx;
	(void)data;
	if (len > *left)
		return -ENOSPC;
	*left -= len;
	return 0;
}

TEST(pprof_write_reports_sink_errors)
{
	struct pprof_builder *b = sample_profile();
	size_t left = 10;

	REQUIRE(b);
	CHECK_EQ_U64(pprof_write(b, failing_sink, &left), (uint64_t)-ENOSPC);
	pprof_builder_free(b);
}

TEST(pprof_top_flat_and_cum)
{
	struct pprof_builder *b = sample_profile();
	struct pprof_profile *p = NULL;
	struct pprof_top t = {0};
	void *buf = NULL;
	size_t len;
	char err[256];

	REQUIRE(b);
	REQUIRE_GOTO(!pprof_write_mem(b, &buf, &len), out);
	REQUIRE_GOTO((p = parse_or_null(buf, len, err, sizeof(err))), out);
	REQUIRE_GOTO(!pprof_top_compute(p, 1, &t), out); /* alloc_space */
	CHECK_EQ_U64(t.total, 1512);
	REQUIRE_GOTO(t.n == 3, out);
	/* main has 1000 flat; leaf (innermost line) gets 2 × 256; mid only cum. */
	CHECK_STR(t.entries[0].name, "a.main");
	CHECK_EQ_U64(t.entries[0].flat, 1000);
	CHECK_EQ_U64(t.entries[0].cum, 1512);
	CHECK_STR(t.entries[0].inline_label, "");
	CHECK_STR(t.entries[1].name, "a.leaf");
	CHECK_EQ_U64(t.entries[1].flat, 512);
	CHECK_STR(t.entries[1].inline_label, "(inline)");
	CHECK_STR(t.entries[2].name, "a.mid");
	CHECK_EQ_U64(t.entries[2].flat, 0);
	CHECK_EQ_U64(t.entries[2].cum, 512);
	pprof_top_free(&t);
	CHECK_EQ_U64(pprof_top_compute(p, 4, &t), (uint64_t)-EINVAL);
out:
	pprof_top_free(&t);
	pprof_profile_free(p);
	free(buf);
	pprof_builder_free(b);
}

TEST(pprof_format_like_pprof)
{
	char buf[64];

	pprof_format_value(100, "bytes", NULL, buf, sizeof(buf));
	CHECK_STR(buf, "100B");
	pprof_format_value(1536, "bytes", NULL, buf, sizeof(buf));
	CHECK_STR(buf, "1.50kB");
	pprof_format_value(1048576, "bytes", NULL, buf, sizeof(buf));
	CHECK_STR(buf, "1MB");
	pprof_format_value(100, "bytes", "kB", buf, sizeof(buf));
	CHECK_STR(buf, "0.10kB");
	pprof_format_value(0, "bytes", "kB", buf, sizeof(buf));
	CHECK_STR(buf, "0");
	pprof_format_value(-2048, "bytes", NULL, buf, sizeof(buf));
	CHECK_STR(buf, "-2kB");
	pprof_format_value(12345, "count", NULL, buf, sizeof(buf));
	CHECK_STR(buf, "12345");
	pprof_format_value(1500000, "nanoseconds", NULL, buf, sizeof(buf));
	CHECK_STR(buf, "1.50ms");
	pprof_format_percent(50, 100, buf, sizeof(buf));
	CHECK_STR(buf, "50.00%");
	pprof_format_percent(100, 100, buf, sizeof(buf));
	CHECK_STR(buf, "  100%");
	pprof_format_percent(1, 10000, buf, sizeof(buf));
	CHECK_STR(buf, " 0.01%");
}
