/*
 * Every fact oomprof relies on that changes from one Go release to the next, in one
 * table: one row per release, read from that release's runtime, linker and
 * debug/buildinfo sources (/usr/share/go-1.NN/src) and confirmed on binaries built
 * with its toolchain by the tests each row names. Nothing else in oomprof branches on
 * the Go version. Supporting a new release is one row here plus its toolchain in
 * scripts/deps.sh (the test matrix takes every installed toolchain).
 *
 * A binary built by a release newer than the last row gets the last row's facts,
 * marked unverified: whoever uses them checks them against what they find (pclntab
 * magic, moduledata, decoded globals, the live process's own buckets) and says so.
 */
#include <stdio.h>

#include "gosym/internal.h"

/* Tests that confirm each row on that release's binaries (tests/run.sh names). */
#define CHECKED_BY                                                                                 \
	"unit/gosym_layout_matches_dwarf, e2e/gosym_cli, e2e/gosym_symbolize, "                    \
	"e2e/snapshot, e2e/watch"

/*
 * The memory-profile shapes (runtime/mprof.go): the 48-byte bucket header is the same
 * in every release; memRecordCycle held counts and bytes up to 1.26 and only counts
 * from 1.27 (bytes = count * bucket size, as runtime.memProfileInternal computes them).
 */
#define CYCLE_BYTES  .cycle_words = 4
#define CYCLE_COUNTS .cycle_words = 2

/* g (amd64) offsets, runtime/runtime2.go. */
#define G_119 .g_sched_bp = 104, .g_atomicstatus = 144, .g_goid = 152, .g_waitreason = 176
#define G_123 .g_sched_bp = 104, .g_atomicstatus = 152, .g_goid = 160, .g_waitreason = 184
#define G_125 .g_sched_bp = 96, .g_atomicstatus = 144, .g_goid = 152, .g_waitreason = 176

/* One row per release; a field's meaning is in struct gs_release (gosym/internal.h). */
/* clang-format off */
static const struct gs_release releases[] = {
    /* 1.19: pclntab 0xfffffff0 (40-byte _func, 20-byte inline entries); no coverage
     * counters in moduledata; MemProfileRate's default is set in runtime.init. */
    {.minor = 19, .pcln_magic = 0xfffffff0, .md_text = 176, .md_gofunc = 304,
     .rate_code = GS_RATE_IN_INIT, CYCLE_BYTES, .stack_depth = 32, .stack_limit = 32,
     G_119, .g_gopc = 296, .checked_by = CHECKED_BY},
    /* 1.20: pclntab 0xfffffff1 (startLine in _func, 16-byte inline entries),
     * moduledata.covctrs; schedinit zeroes MemProfileRate. No Debian toolchain. */
    {.minor = 20, .pcln_magic = 0xfffffff1, .md_text = 176, .md_gofunc = 320,
     .rate_code = GS_RATE_IN_SCHEDINIT, CYCLE_BYTES, .stack_depth = 32, .stack_limit = 32,
     G_119, .g_gopc = 296, .checked_by = "none: no Go 1.20 in Debian; read in its source"},
    {.minor = 21, .pcln_magic = 0xfffffff1, .md_text = 176, .md_gofunc = 320,
     .rate_code = GS_RATE_IN_SCHEDINIT, CYCLE_BYTES, .stack_depth = 32, .stack_limit = 32,
     G_119, .g_gopc = 280, .checked_by = CHECKED_BY},
    {.minor = 22, .pcln_magic = 0xfffffff1, .md_text = 176, .md_gofunc = 320,
     .rate_code = GS_RATE_IN_SCHEDINIT, CYCLE_BYTES, .stack_depth = 32, .stack_limit = 32,
     G_119, .g_gopc = 280, .checked_by = CHECKED_BY},
    /* 1.23: GODEBUG=profstackdepth (default 128, at most 1024). */
    {.minor = 23, .pcln_magic = 0xfffffff1, .md_text = 176, .md_gofunc = 320,
     .rate_code = GS_RATE_IN_SCHEDINIT, CYCLE_BYTES, .stack_depth = 128, .stack_limit = 1024,
     G_123, .g_gopc = 288, .checked_by = CHECKED_BY},
    /* 1.24: disableMemoryProfiling set in .noptrdata (read the same way); runtime/pprof
     * hides leading internal/runtime/ frames (the new maps) like runtime.* ones. */
    {.minor = 24, .pcln_magic = 0xfffffff1, .md_text = 176, .md_gofunc = 320,
     .rate_code = GS_RATE_IN_SCHEDINIT, CYCLE_BYTES, .stack_depth = 128, .stack_limit = 1024,
     G_123, .g_gopc = 288, .pprof_hides_internal = true,
     .checked_by = CHECKED_BY},
    /* 1.25: g loses 8 bytes before sched.bp. */
    {.minor = 25, .pcln_magic = 0xfffffff1, .md_text = 176, .md_gofunc = 320,
     .rate_code = GS_RATE_IN_SCHEDINIT, CYCLE_BYTES, .stack_depth = 128, .stack_limit = 1024,
     G_125, .g_gopc = 280, .pprof_hides_internal = true,
     .checked_by = CHECKED_BY},
    /* 1.26: pcHeader.textStart no longer stored (0): the text base is moduledata.text,
     * as it is for every row; moduledata gains epclntab after gofunc; g gains
     * fipsOnlyBypass, ditWanted and secret before gopc. */
    {.minor = 26, .pcln_magic = 0xfffffff1, .md_text = 176, .md_gofunc = 320,
     .rate_code = GS_RATE_IN_SCHEDINIT, CYCLE_BYTES, .stack_depth = 128, .stack_limit = 1024,
     G_125, .g_gopc = 288, .pprof_hides_internal = true,
     .checked_by = CHECKED_BY},
    /* 1.27: moduledata gains typedesclen, itaboffset and itabsize before gofunc;
     * memRecordCycle holds counts only (16 bytes, memRecord 64). */
    {.minor = 27, .pcln_magic = 0xfffffff1, .md_text = 176, .md_gofunc = 344,
     .rate_code = GS_RATE_IN_SCHEDINIT, CYCLE_COUNTS, .stack_depth = 128, .stack_limit = 1024,
     G_125, .g_gopc = 288, .pprof_hides_internal = true,
     .checked_by = CHECKED_BY},
};
/* clang-format on */

#define NRELEASES (sizeof(releases) / sizeof(releases[0]))

const struct gs_release *gs_release_at(size_t i)
{
	return i < NRELEASES ? &releases[i] : NULL;
}

/*
 * The row for Go 1.minor. A release newer than the last row gets the last row, with
 * *verified false; an older or unknown one gets NULL.
 */
const struct gs_release *gs_release_for(int major, int minor, bool *verified)
{
	*verified = false;
	if (major != 1 || minor < releases[0].minor)
		return NULL;
	for (size_t i = 0; i < NRELEASES; i++) {
		if (releases[i].minor == minor) {
			*verified = true;
			return &releases[i];
		}
	}
	return minor > releases[NRELEASES - 1].minor ? &releases[NRELEASES - 1] : NULL;
}

/*
 * The row for this binary: by its build info, or, when it has none, the newest row
 * of its pclntab format (unverified).
 */
const struct gs_release *gs_release(const struct gosym *g, bool *verified)
{
	const struct gs_release *r = gs_release_for(g->info.go_major, g->info.go_minor, verified);

	if (r || g->info.go_minor)
		return r;
	for (size_t i = NRELEASES; i-- > 0;)
		if (releases[i].pcln_magic == g->pcln.magic)
			return &releases[i];
	return NULL;
}

void gosym_known_releases(int *first_minor, int *last_minor)
{
	*first_minor = releases[0].minor;
	*last_minor = releases[NRELEASES - 1].minor;
}

int gosym_release_minor(size_t i, const char **checked_by)
{
	if (i >= NRELEASES)
		return -1;
	if (checked_by)
		*checked_by = releases[i].checked_by;
	return releases[i].minor;
}

bool gosym_magic_known(uint32_t magic)
{
	for (size_t i = 0; i < NRELEASES; i++)
		if (releases[i].pcln_magic == magic)
			return true;
	return false;
}

bool gosym_newer_release(const struct gosym *g, char *buf, size_t len)
{
	const char *v = g ? g->info.go_version : "";
	bool verified;

	if (!gs_release_for(g ? g->info.go_major : 0, g ? g->info.go_minor : 0, &verified) ||
	    verified)
		return false;
	snprintf(buf, len, "Go %s is newer than the releases this oomprof knows (1.%d–1.%d)",
		 strncmp(v, "go", 2) ? v : v + 2, releases[0].minor, releases[NRELEASES - 1].minor);
	return true;
}
