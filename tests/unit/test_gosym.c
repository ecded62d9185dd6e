/*
 * gosym unit tests on the hand-built fixture (every answer known by construction),
 * malformed inputs (truncation, corrupt headers, absurd counts), and the per-version
 * layout checked against the DWARF of real testdata binaries.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gosym/gosym.h"
#include "gosym/internal.h"
#include "tests/unit/test_gosym_fixture.h"
#include "tests/unit/testhelp.h"

static struct gosym *fx_open(const struct fixture_opts *o, struct fx_buf *b)
{
	char err[256] = "";
	struct gosym_opts go = {.errbuf = err, .errbuf_len = sizeof(err), .no_dwarf = true};
	struct gosym *g;

	if (!fixture_build(o, b))
		return NULL;
	g = gosym_open_mem(b->p, b->len, &go);
	if (!g)
		fprintf(stderr, "fixture open: %s\n", err);
	return g;
}

TEST(gosym_fixture_info)
{
	struct fixture_opts o = {0};
	struct fx_buf b;
	struct gosym *g = fx_open(&o, &b);
	const struct gosym_info *in;

	REQUIRE(g);
	in = gosym_info(g);
	CHECK_STR(in->go_version, "go1.23.1");
	CHECK_EQ_U64(in->go_minor, 23);
	CHECK_STR(in->main_module, "example.com/m");
	CHECK_STR(in->go_build_id, FX_GO_BUILDID);
	CHECK_STR(in->gnu_build_id, "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3");
	CHECK(!in->is_pie);
	CHECK(in->is_stripped);
	CHECK_EQ_U64(in->pcln_format, GOSYM_PCLN_GO120);
	CHECK_EQ_U64(in->pcln_magic, 0xfffffff1);
	CHECK_STR(in->pclntab_where, ".gopclntab");
	CHECK_EQ_U64(in->nfunc, FX_NFUNC);
	CHECK_EQ_U64(in->text_start, FX_TEXT);
	CHECK_EQ_U64(in->text_end, FX_FUNC(FX_NFUNC));
	CHECK_EQ_U64(in->gofunc, FX_GOFUNC);
	CHECK_EQ_U64(in->moduledata_addr, FX_NOPTRDATA);
	CHECK_EQ_U64(in->lowest_load_vaddr, FX_BASE);
	CHECK_EQ_U64(gosym_load_bias(g, 0x7f0000400000ULL), 0x7f0000000000ULL);
	CHECK_EQ_U64(in->profiling_disabled, 0);
	gosym_close(g);
	free(b.p);
}

static void check_globals(const struct fixture_opts *o, enum gosym_method want)
{
	struct fx_buf b;
	struct gosym *g = fx_open(o, &b);
	const uint64_t addrs[GOSYM_NGLOBALS] = {
	    FX_MBUCKETS,   FX_RATE,    o->disabled ? FX_DISABLE_DISABLED : FX_DISABLE_ENABLED,
	    FX_MPROFCYCLE, FX_ALLGLEN, FX_ALLGPTR};

	REQUIRE(g);
	for (int i = 0; i < GOSYM_NGLOBALS; i++) {
		uint64_t a = 0, c = 0;
		enum gosym_method how;
		CHECK_MSG(gosym_global(g, i, &a, &how) == 0, "%s not found", gosym_global_name(i));
		CHECK_EQ_U64(a, addrs[i]);
		CHECK_EQ_U64(how, want);
		/* The decoder finds every global on its own, symtab or not. */
		CHECK_MSG(gosym_global_by(g, i, GOSYM_BY_CODE, &c) == 0 && c == addrs[i],
			  "%s by code: 0x%llx", gosym_global_name(i), (unsigned long long)c);
	}
	CHECK_EQ_U64(gosym_info(g)->profiling_disabled, o->disabled ? 1 : 0);
	gosym_close(g);
	free(b.p);
}

TEST(gosym_globals_by_code)
{
	struct fixture_opts o = {0};
	check_globals(&o, GOSYM_BY_CODE);
}

TEST(gosym_globals_by_symtab)
{
	struct fixture_opts o = {.symtab = true};
	check_globals(&o, GOSYM_BY_SYMTAB);
}

TEST(gosym_profiling_disabled)
{
	struct fixture_opts o = {.disabled = true, .symtab = true};
	check_globals(&o, GOSYM_BY_SYMTAB);
}

TEST(gosym_global_bad_args)
{
	struct fixture_opts o = {0};
	struct fx_buf b;
	struct gosym *g = fx_open(&o, &b);
	uint64_t a;

	REQUIRE(g);
	CHECK(gosym_global(g, GOSYM_NGLOBALS, &a, NULL) == -EINVAL);
	CHECK(gosym_global_by(g, GOSYM_MBUCKETS, GOSYM_BY_SYMTAB, &a) == -ENOENT);
	CHECK(gosym_global_name(GOSYM_NGLOBALS) == NULL);
	gosym_close(g);
	free(b.p);
}

static void check_lookups(bool go118)
{
	struct fixture_opts o = {.go118 = go118, .pie = go118};
	struct fx_buf b;
	struct gosym *g = fx_open(&o, &b);
	struct gosym_frame fr[8];
	uint64_t outer = FX_FUNC(FX_F_OUTER);
	int n;

	REQUIRE(g);
	CHECK(gosym_info(g)->is_pie == go118);
	/* every function entry: its name, file, and line */
	for (int i = 0; i < FX_NFUNC; i++) {
		n = gosym_lookup(g, FX_FUNC(i), 0, fr, 8);
		REQUIRE(n == 1);
		CHECK_STR(fr[0].raw_name, fx_names[i]);
		CHECK_STR(fr[0].file, FX_FILE);
		CHECK_EQ_U64(fr[0].entry, FX_FUNC(i));
		CHECK_EQ_U64(fr[0].func_id, fx_ids[i]);
		if (i != FX_F_OUTER) {
			CHECK_EQ_U64(fr[0].line, FX_LINE(i));
			CHECK_EQ_U64(fr[0].start_line, go118 ? 0 : FX_START(i));
		}
	}
	/* the inlined range: inner first, then outer at the call site */
	n = gosym_lookup(g, outer + 10, 0, fr, 8);
	REQUIRE(n == 2);
	CHECK_STR(fr[0].name, FX_INNER);
	CHECK(fr[0].inlined);
	CHECK_EQ_U64(fr[0].line, FX_INNER_LINE);
	CHECK_EQ_U64(fr[0].start_line, go118 ? 0 : FX_INNER_START);
	CHECK_EQ_U64(fr[0].entry, outer);
	CHECK_STR(fr[0].func_name, "main.outer");
	CHECK_STR(fr[1].name, "main.outer");
	CHECK(!fr[1].inlined);
	CHECK_EQ_U64(fr[1].pc, outer + FX_PARENT_PC);
	CHECK_EQ_U64(fr[1].line, FX_OUTER_LINE_A);
	CHECK(gosym_lookup(g, outer + 10, 0, fr, 1) == -ENOSPC);
	/* outside the inlined range and outside text */
	n = gosym_lookup(g, outer + 20, 0, fr, 8);
	CHECK(n == 1 && fr[0].line == FX_OUTER_LINE_B);
	CHECK(gosym_lookup(g, FX_TEXT - 1, 0, fr, 8) == -ENOENT);
	CHECK(gosym_lookup(g, FX_FUNC(FX_NFUNC), 0, fr, 8) == -ENOENT);
	/* a return PC is looked up at pc-1, but never before the entry */
	REQUIRE(gosym_pc(g, outer + 8, &fr[0]) == 0);
	CHECK_STR(fr[0].name, "main.outer");
	CHECK_EQ_U64(fr[0].pc, outer + 7);
	REQUIRE(gosym_pc(g, outer + 9, &fr[0]) == 0);
	CHECK_STR(fr[0].name, FX_INNER);
	REQUIRE(gosym_pc(g, outer, &fr[0]) == 0);
	CHECK_EQ_U64(fr[0].pc, outer);
	/* generic names: raw, print, and what runtime.Frame.Function holds */
	REQUIRE(gosym_pc(g, FX_FUNC(FX_F_GEN) + 1, &fr[0]) == 0);
	CHECK_STR(fr[0].raw_name, "main.gen[go.shape.int]");
	CHECK_STR(fr[0].name, "main.gen[...]");
	CHECK_STR(fr[0].function, go118 ? "main.gen[go.shape.int]" : "main.gen[...]");
	gosym_close(g);
	free(b.p);
}

TEST(gosym_lookup_go120)
{
	check_lookups(false);
}

TEST(gosym_lookup_go118)
{
	check_lookups(true);
}

TEST(gosym_stack_like_callersframes)
{
	struct fixture_opts o = {0};
	struct fx_buf b;
	struct gosym *g = fx_open(&o, &b);
	struct gosym_frame fr[8];
	uint64_t outer = FX_FUNC(FX_F_OUTER), gen = FX_FUNC(FX_F_GEN);
	uint64_t with_virtual[] = {outer + 11, outer + FX_PARENT_PC + 1, gen + 5};
	uint64_t without_virtual[] = {outer + 11, gen + 5};
	uint64_t with_unknown[] = {0x1234, outer + 20};
	int n;

	REQUIRE(g);
	/* one frame per PC when the inlined caller's virtual PC is present */
	n = gosym_stack(g, with_virtual, 3, 0, fr, 8);
	REQUIRE(n == 3);
	CHECK_STR(fr[0].name, FX_INNER);
	CHECK_STR(fr[1].name, "main.outer");
	CHECK_EQ_U64(fr[1].line, FX_OUTER_LINE_A);
	CHECK_EQ_U64(fr[1].index, 1);
	CHECK_STR(fr[2].function, "main.gen[...]");
	/* Go 1.23 re-inserts the missing caller frame (same input index) */
	n = gosym_stack(g, without_virtual, 2, 0, fr, 8);
	REQUIRE(n == 3);
	CHECK_STR(fr[1].name, "main.outer");
	CHECK_EQ_U64(fr[1].pc, outer + FX_PARENT_PC);
	CHECK_EQ_U64(fr[1].index, 0);
	CHECK_EQ_U64(fr[2].index, 1);
	/* ...but not for the last PC of a stack */
	CHECK(gosym_stack(g, without_virtual, 1, 0, fr, 8) == 1);
	/* unknown PCs are skipped like CallersFrames, or kept on request */
	CHECK(gosym_stack(g, with_unknown, 2, 0, fr, 8) == 1);
	n = gosym_stack(g, with_unknown, 2, GOSYM_STACK_KEEP_UNKNOWN, fr, 8);
	REQUIRE(n == 2);
	CHECK_EQ_U64(fr[0].kind, GOSYM_FRAME_UNKNOWN);
	CHECK(gosym_stack(g, with_virtual, 3, 0, fr, 2) == -ENOSPC);
	gosym_close(g);
	free(b.p);
}

TEST(gosym_pclntab_found_by_scan)
{
	struct fixture_opts o = {.no_pcln_name = true};
	struct fx_buf b;
	struct gosym *g = fx_open(&o, &b);
	struct gosym_frame fr[4];

	REQUIRE(g);
	CHECK_STR(gosym_info(g)->pclntab_where, "scan");
	CHECK_EQ_U64(gosym_info(g)->pclntab_addr, FX_PCLN);
	CHECK(gosym_lookup(g, FX_FUNC(FX_F_FLUSH), 0, fr, 4) == 1);
	gosym_close(g);
	free(b.p);
}

TEST(gosym_func_by_name)
{
	struct fixture_opts o = {0};
	struct fx_buf b;
	struct gosym *g = fx_open(&o, &b);
	uint64_t entry, end;

	REQUIRE(g);
	CHECK(gosym_func_by_name(g, "runtime.mProf_Flush", &entry, &end) == 0);
	CHECK_EQ_U64(entry, FX_FUNC(FX_F_FLUSH));
	CHECK_EQ_U64(end, FX_FUNC(FX_F_FLUSH + 1));
	CHECK(gosym_func_by_name(g, "nope", &entry, &end) == -ENOENT);
	gosym_close(g);
	free(b.p);
}

/* Opens b, expecting failure with errno err and a "gosym:" message. */
static void expect_fail(const void *buf, size_t len, int err, const char *what)
{
	char msg[256] = "";
	struct gosym_opts go = {.errbuf = msg, .errbuf_len = sizeof(msg), .no_dwarf = true};
	struct gosym *g = gosym_open_mem(buf, len, &go);

	CHECK_MSG(!g, "%s: opened", what);
	if (g) {
		gosym_close(g);
		return;
	}
	CHECK_MSG(errno == err, "%s: errno %d, want %d (%s)", what, errno, err, msg);
	CHECK_MSG(!strncmp(msg, "gosym: ", 7), "%s: message '%s'", what, msg);
}

TEST(gosym_rejects_bad_input)
{
	struct fixture_opts o = {0};
	struct fx_buf b;
	uint8_t *p;
	size_t pcl = FX_PCLN - FX_BASE;

	REQUIRE(fixture_build(&o, &b));
	p = b.p;
	expect_fail("hello", 5, ENOEXEC, "not ELF");
	p[EI_CLASS] = ELFCLASS32;
	expect_fail(p, b.len, ENOTSUP, "32-bit");
	p[EI_CLASS] = ELFCLASS64;
	fx_put32(p + pcl, 0xfffffffa);
	expect_fail(p, b.len, ENOTSUP, "Go 1.16 pclntab");
	fx_put32(p + pcl, 0x12345678);
	/* build info says Go: a Go binary in a format gosym does not read, never "not Go" */
	expect_fail(p, b.len, ENOTSUP, "unknown magic");
	fx_put32(p + pcl, 0xfffffff1);
	fx_put64(p + pcl + 8, 1ULL << 60); /* absurd nfunc */
	expect_fail(p, b.len, EINVAL, "absurd nfunc");
	fx_put64(p + pcl + 8, FX_NFUNC);
	fx_put64(p + pcl + 64, 1ULL << 40); /* table offset outside */
	expect_fail(p, b.len, EINVAL, "bad table offset");
	free(b.p);
}

/* Every truncation and a sweep of single-byte corruptions: never a crash (ASan). */
TEST(gosym_survives_truncation_and_corruption)
{
	struct fixture_opts o = {.symtab = true};
	struct fx_buf b;
	struct gosym_opts go = {.no_dwarf = true};
	int opened = 0;

	REQUIRE(fixture_build(&o, &b));
	for (size_t len = 0; len <= b.len; len += 7) {
		struct gosym *g = gosym_open_mem(b.p, len, &go);
		opened += g != NULL;
		if (g) {
			struct gosym_frame fr[8];
			for (uint64_t pc = FX_TEXT; pc < FX_FUNC(FX_NFUNC); pc += 3)
				gosym_lookup(g, pc, GOSYM_RETURN_PC, fr, 8);
		}
		gosym_close(g);
	}
	CHECK(opened > 0); /* the full file at least */
	for (size_t off = 0; off < b.len; off += 3) {
		uint8_t save = b.p[off];
		b.p[off] ^= 0xa5;
		struct gosym *g = gosym_open_mem(b.p, b.len, &go);
		if (g) {
			struct gosym_frame fr[8];
			uint64_t pcs[4] = {FX_FUNC(FX_F_OUTER) + 11, FX_FUNC(FX_F_OUTER) + 5,
					   FX_FUNC(FX_F_GEN) + 1, 7};
			for (uint64_t pc = FX_TEXT; pc < FX_FUNC(FX_NFUNC); pc += 5)
				gosym_lookup(g, pc, 0, fr, 8);
			gosym_stack(g, pcs, 4, GOSYM_STACK_KEEP_UNKNOWN, fr, 8);
		}
		gosym_close(g);
		b.p[off] = save;
	}
	free(b.p);
}

TEST(gosym_buildinfo_formats)
{
	uint8_t bi[128] = "\xff Go buildinf:";
	char v[64], m[64];

	bi[14] = 8, bi[15] = 2;
	bi[32] = 6;
	memcpy(bi + 33, "go1.22", 6);
	bi[39] = 0; /* no module info */
	CHECK(gs_buildinfo_parse(bi, sizeof(bi), NULL, v, sizeof(v), m, sizeof(m)) == 0);
	CHECK_STR(v, "go1.22");
	CHECK_STR(m, "");
	bi[32] = 200; /* length beyond the data */
	CHECK(gs_buildinfo_parse(bi, sizeof(bi), NULL, v, sizeof(v), m, sizeof(m)) == -EINVAL);
	bi[15] = 0; /* pointer format needs the ELF to follow pointers */
	CHECK(gs_buildinfo_parse(bi, sizeof(bi), NULL, v, sizeof(v), m, sizeof(m)) == -EINVAL);
	CHECK(gs_buildinfo_parse(bi, 10, NULL, v, sizeof(v), m, sizeof(m)) == -ENOENT);
}

/* Byte offset of member `member` of struct `type` in a binary's DWARF, or -1. */
struct dw_query {
	const char *type, *member;
	long off;
};

static long member_offset(Dwarf_Die *st, const char *member)
{
	Dwarf_Die child;
	if (dwarf_child(st, &child) != 0)
		return -1;
	do {
		Dwarf_Attribute a;
		Dwarf_Word w;
		const char *n = dwarf_diename(&child);
		if (n && !strcmp(n, member) && dwarf_attr(&child, DW_AT_data_member_location, &a) &&
		    !dwarf_formudata(&a, &w))
			return (long)w;
	} while (dwarf_siblingof(&child, &child) == 0);
	return -1;
}

static void dwarf_offsets(const char *path, struct dw_query *q, int nq)
{
	int fd = open(path, O_RDONLY);
	Dwarf *dw = fd >= 0 ? dwarf_begin(fd, DWARF_C_READ) : NULL;
	Dwarf_Off off = 0, next;
	size_t hsize;

	for (int i = 0; i < nq; i++)
		q[i].off = -1;
	while (dw && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, die;
		if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_child(&cu, &die) == 0) {
			do {
				const char *n = dwarf_diename(&die);
				if (dwarf_tag(&die) != DW_TAG_structure_type || !n)
					continue;
				for (int i = 0; i < nq; i++)
					if (q[i].off < 0 && !strcmp(n, q[i].type))
						q[i].off = member_offset(&die, q[i].member);
			} while (dwarf_siblingof(&die, &die) == 0);
		}
		off = next;
	}
	if (dw)
		dwarf_end(dw);
	if (fd >= 0)
		close(fd);
}

/* The layout descriptor against the runtime's own DWARF, for every toolchain built. */
TEST(gosym_layout_matches_dwarf)
{
	const char *td = unit_env("TESTDATA", "build/testdata");
	int checked = 0, minor;

	/* Every row of the release table whose toolchain built the testdata. */
	for (size_t v = 0; (minor = gosym_release_minor(v, NULL)) >= 0; v++) {
		char path[512];
		struct gosym_layout l;
		struct gosym *g;
		snprintf(path, sizeof(path), "%s/go1.%d/default/leaker", td, minor);
		if (access(path, R_OK))
			continue;
		g = gosym_open(path, NULL);
		REQUIRE(g);
		REQUIRE(gosym_layout(g, &l) == 0);
		CHECK(l.verified && l.release_minor == minor);
		struct dw_query q[] = {
		    {"runtime.bucket", "allnext", l.bucket_allnext},
		    {"runtime.bucket", "typ", l.bucket_typ},
		    {"runtime.bucket", "size", l.bucket_size_field},
		    {"runtime.bucket", "nstk", l.bucket_nstk},
		    {"runtime.memRecord", "future", l.memrecord_future},
		    {"runtime.memRecordCycle", "frees", l.cycle_frees},
		    /* absent (-1) where a cycle holds counts only (1.27+) */
		    {"runtime.memRecordCycle", "alloc_bytes",
		     l.cycle_has_bytes ? (long)l.cycle_alloc_bytes : -1},
		    {"runtime.memRecordCycle", "free_bytes",
		     l.cycle_has_bytes ? (long)l.cycle_free_bytes : -1},
		    {"runtime.moduledata", "text", l.moduledata_text},
		    {"runtime.moduledata", "gofunc", l.moduledata_gofunc},
		    {"runtime.g", "sched", 56}, /* gobuf: sp 0, pc 8, bp 48 */
		    {"runtime.gobuf", "bp", l.g_sched_bp - 56},
		    {"runtime.g", "atomicstatus", l.g_atomicstatus},
		    {"runtime.g", "goid", l.g_goid},
		    {"runtime.g", "waitreason", l.g_waitreason},
		    {"runtime.g", "gopc", l.g_gopc},
		};
		long want[sizeof(q) / sizeof(q[0])];
		int nq = (int)(sizeof(q) / sizeof(q[0]));
		for (int i = 0; i < nq; i++)
			want[i] = q[i].off;
		dwarf_offsets(path, q, nq);
		for (int i = 0; i < nq; i++)
			CHECK_MSG(q[i].off == want[i], "go1.%d %s.%s: DWARF %ld, layout %ld", minor,
				  q[i].type, q[i].member, q[i].off, want[i]);
		gosym_close(g);
		checked++;
	}
	if (!checked)
		unit_skip("no testdata under %s (run make testdata)", td);
}
