/*
 * Go releases: the text base from moduledata when pcHeader.textStart is not stored
 * (Go 1.26+), and a binary of a release newer than the table (a fixture whose build
 * info says go1.28.0): it is still read, its layout is the newest row's, marked
 * unverified, profiles say so and are built only when the buckets fit that layout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gosym/gosym.h"
#include "oomprof/profile/heapprof.h"
#include "pprof/pprof.h"
#include "tests/unit/test_gosym_fixture.h"
#include "tests/unit/testhelp.h"

#define REQUIRE_MSG(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			unit_fail(__FILE__, __LINE__, __VA_ARGS__);                                \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static struct gosym *open_fx(const struct fixture_opts *o, struct fx_buf *b, char *err,
			     size_t errlen)
{
	struct gosym_opts go = {.errbuf = err, .errbuf_len = errlen, .no_dwarf = true};

	if (!fixture_build(o, b))
		return NULL;
	return gosym_open_mem(b->p, b->len, &go);
}

/* Go 1.26's pcHeader has no textStart: functions are placed by moduledata.text. */
TEST(releases_text_base_from_moduledata)
{
	struct fixture_opts o = {.version = "go1.26.11", .no_textstart = true};
	struct gosym_frame f[4];
	struct gosym_layout l;
	char err[256] = "";
	struct fx_buf b;
	struct gosym *g = open_fx(&o, &b, err, sizeof(err));
	uint64_t a;

	REQUIRE_MSG(g, "open: %s", err);
	CHECK_EQ_U64(gosym_info(g)->text_start, FX_TEXT);
	CHECK_EQ_U64(gosym_info(g)->text_end, FX_FUNC(FX_NFUNC));
	CHECK(gosym_layout(g, &l) == 0 && l.verified && l.release_minor == 26);
	CHECK(!gosym_newer_release(g, err, sizeof(err)));
	/* main.outer + 8 is inside the call of main.inner inlined into it */
	CHECK(gosym_lookup(g, FX_FUNC(FX_F_OUTER) + 8, 0, f, 4) == 2);
	CHECK_STR(f[0].name, FX_INNER);
	CHECK_STR(f[1].name, "main.outer");
	CHECK(gosym_global_by(g, GOSYM_MBUCKETS, GOSYM_BY_CODE, &a) == 0 && a == FX_MBUCKETS);
	gosym_close(g);
	free(b.p);
}

TEST(releases_newer_release_is_read_unverified)
{
	struct fixture_opts o = {.version = "go1.28.0", .no_textstart = true};
	struct gosym_layout l;
	char err[256] = "", msg[160] = "";
	struct fx_buf b;
	struct gosym *g = open_fx(&o, &b, err, sizeof(err));
	int first, last;

	REQUIRE_MSG(g, "open: %s", err);
	gosym_known_releases(&first, &last);
	CHECK(first == 19 && last == 27);
	CHECK(gosym_newer_release(g, msg, sizeof(msg)));
	CHECK_STR(msg, "Go 1.28.0 is newer than the releases this oomprof knows (1.19–1.27)");
	REQUIRE(gosym_layout(g, &l) == 0);
	CHECK(!l.verified);
	CHECK(l.release_minor == 27);
	CHECK(!l.cycle_has_bytes && l.memrecord_size == 64);
	/* moduledata read with the newest row's offsets: text and gofunc (inline tree) */
	CHECK_EQ_U64(gosym_info(g)->text_start, FX_TEXT);
	CHECK_EQ_U64(gosym_info(g)->gofunc, FX_GOFUNC);
	for (int i = 0; i < GOSYM_NGLOBALS; i++)
		CHECK_MSG(gosym_global_by(g, i, GOSYM_BY_CODE, NULL) == 0, "%s not decoded",
			  gosym_global_name(i));
	gosym_close(g);
	free(b.p);
}

/* An older release is not "newer", and one before the table has no layout. */
TEST(releases_older_release_has_no_layout)
{
	struct fixture_opts o = {.go118 = true, .version = "go1.18.10"};
	struct gosym_layout l;
	char err[256] = "";
	struct fx_buf b;
	struct gosym *g = open_fx(&o, &b, err, sizeof(err));

	REQUIRE_MSG(g, "open: %s", err);
	CHECK(gosym_layout(g, &l) == -ENOTSUP);
	CHECK(!gosym_newer_release(g, err, sizeof(err)));
	gosym_close(g);
	free(b.p);
}

/* A newer release whose pclntab format is unknown: a Go binary gosym cannot read. */
TEST(releases_newer_format_is_named_not_go)
{
	struct fixture_opts o = {.version = "go1.28.0", .no_textstart = true, .magic = 0xfffffff2};
	char err[256] = "";
	struct fx_buf b;
	struct gosym *g = open_fx(&o, &b, err, sizeof(err));

	CHECK(!g);
	CHECK(errno == ENOTSUP);
	CHECK_MSG(strstr(err, "go1.28.0") && strstr(err, "0xfffffff2") && !strstr(err, "not a Go"),
		  "message: %s", err);
	gosym_close(g);
	free(b.p);
}

/* One bucket in the runtime's words: 16 words as the sources read them. */
static void set_words(struct raw_bucket *rb, const uint64_t w[16])
{
	struct raw_cycle *c[4] = {&rb->active, &rb->future[0], &rb->future[1], &rb->future[2]};

	for (int i = 0; i < 4; i++)
		*c[i] = (struct raw_cycle){w[4 * i], w[4 * i + 1], w[4 * i + 2], w[4 * i + 3]};
}

/* Builds a profile of one bucket for the fixture binary; returns heapprof_build's result. */
static int build_one(const struct gosym *g, const uint64_t w[16], struct pprof_profile **out,
		     char *err, size_t errlen)
{
	uint64_t pcs[1] = {FX_FUNC(FX_F_OUTER) + 0x20};
	struct raw_bucket rb = {.size = 64, .nstk = 1, .pcs = pcs};
	struct raw_profile raw = {.pid = 1, .mem_profile_rate = 1, .buckets = &rb, .nbuckets = 1};
	struct heap_binary bin = {.sym = g};
	struct heap_meta meta = {.pid = 1, .comm = "fx", .mode = CYCLES_LATEST};
	struct pprof_builder *pb;
	void *buf;
	size_t len;
	int e;

	set_words(&rb, w);
	*out = NULL;
	if ((e = heapprof_build(&raw, &bin, &meta, &pb, err, errlen)))
		return e;
	e = pprof_write_mem(pb, &buf, &len);
	pprof_builder_free(pb);
	if (e)
		return e;
	e = pprof_profile_parse(buf, len, NULL, out, err, errlen);
	free(buf);
	return e;
}

static bool has_comment(const struct pprof_profile *p, const char *needle)
{
	const struct pprof_header_info *h = pprof_profile_header(p);

	for (size_t i = 0; i < h->ncomments; i++)
		if (strstr(h->comments[i], needle))
			return true;
	return false;
}

/*
 * Go 1.27's count-only cycles (allocs, frees): 3 allocations, 1 free of 64 bytes in
 * active, 2 more allocations pending. Bytes are counts times the size.
 */
TEST(releases_newer_release_profiles_with_note)
{
	static const uint64_t counts_only[16] = {3, 1, 0, 0, 2, 0, 0, 0};
	static const uint64_t with_bytes[16] = {3, 1, 192, 64, 0, 0, 0, 0, 2, 0, 128, 0};
	struct fixture_opts o = {.version = "go1.28.0", .no_textstart = true};
	struct pprof_profile *p = NULL;
	char err[512] = "";
	struct fx_buf b;
	struct gosym *g = open_fx(&o, &b, err, sizeof(err));
	const struct pprof_sample_info *s;

	REQUIRE_MSG(g, "open: %s", err);
	REQUIRE_MSG(build_one(g, counts_only, &p, err, sizeof(err)) == 0, "build: %s", err);
	CHECK(has_comment(p, "runtime layout not verified for go1.28.0"));
	CHECK(
	    has_comment(p, "Go 1.28.0 is newer than the releases this oomprof knows (1.19–1.27)"));
	REQUIRE(pprof_profile_nsamples(p) == 1);
	s = pprof_profile_sample(p, 0);
	REQUIRE(s->nvalues == 4);
	CHECK(s->values[0] == 5 && s->values[1] == 320 && s->values[2] == 4 && s->values[3] == 256);
	pprof_profile_free(p);
	/* Words in the Go 1.19–1.26 shape do not fit count-only cycles: no profile. */
	CHECK(build_one(g, with_bytes, &p, err, sizeof(err)) == -ENOTSUP);
	CHECK_MSG(strstr(err, "Go 1.28.0 is newer") && strstr(err, "do not fit"), "message: %s",
		  err);
	pprof_profile_free(p);
	gosym_close(g);
	free(b.p);
}

/* A known release's profile carries no such note. */
TEST(releases_known_release_has_no_note)
{
	static const uint64_t with_bytes[16] = {3, 1, 192, 64};
	struct fixture_opts o = {0};
	struct pprof_profile *p = NULL;
	char err[512] = "";
	struct fx_buf b;
	struct gosym *g = open_fx(&o, &b, err, sizeof(err));

	REQUIRE_MSG(g, "open: %s", err);
	REQUIRE_MSG(build_one(g, with_bytes, &p, err, sizeof(err)) == 0, "build: %s", err);
	CHECK(!has_comment(p, "not verified"));
	CHECK(pprof_profile_nsamples(p) == 1 && pprof_profile_sample(p, 0)->values[3] == 128);
	pprof_profile_free(p);
	gosym_close(g);
	free(b.p);
}
