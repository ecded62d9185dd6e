/*
 * The live reader against bucket lists laid out in this process's own memory and read
 * back through /proc/self/mem: well-formed lists, and the hostile ones a buggy or
 * malicious program could hold (a cycle in allnext, an absurd nstk, a wrong type, a
 * pointer into unmapped memory).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "oomprof/source/live.h"
#include "tests/unit/testhelp.h"

struct fake_bucket {
	uint64_t next, allnext, typ, hash, size, nstk;
	uint64_t words[]; /* nstk PCs then 16 words of memRecord */
};

static struct fake_bucket *fake_new(uint64_t nstk, uint64_t size, uint64_t allocs)
{
	struct fake_bucket *b = calloc(1, sizeof(*b) + (nstk + 16) * 8);
	b->typ = 1;
	b->size = size;
	b->nstk = nstk;
	for (uint64_t i = 0; i < nstk; i++)
		b->words[i] = 0x401000 + i;
	b->words[nstk + 0] = allocs;	    /* active.allocs */
	b->words[nstk + 2] = allocs * size; /* active.alloc_bytes */
	b->words[nstk + 4] = 1;		    /* future[0].allocs */
	return b;
}

static uint64_t addr_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static int read_self(struct fake_bucket *head, struct raw_profile *p, uint32_t max_buckets)
{
	static struct fake_bucket *mbuckets;
	static int64_t rate = 512 * 1024;
	static uint32_t cycle = 7;
	struct live_target t = {addr_of(&mbuckets), addr_of(&rate), addr_of(&cycle)};
	struct live_limits lim = {.max_buckets = max_buckets};
	char err[256];

	mbuckets = head;
	memset(p, 0, sizeof(*p));
	return live_read(getpid(), &t, &lim, p, err, sizeof(err));
}

TEST(live_reads_well_formed_list)
{
	struct fake_bucket *a = fake_new(3, 64, 10), *b = fake_new(200, 16384, 2);
	struct raw_profile p;

	a->allnext = addr_of(b);
	REQUIRE(read_self(a, &p, 0) == 0);
	CHECK(p.status == RAW_COMPLETE);
	CHECK_EQ_U64(p.nbuckets, 2);
	CHECK_EQ_U64(p.mem_profile_rate, 512 * 1024);
	CHECK_EQ_U64(p.prof_cycle, 7);
	CHECK_EQ_U64(p.buckets[0].nstk, 3);
	CHECK_EQ_U64(p.buckets[0].pcs[2], 0x401002);
	CHECK_EQ_U64(p.buckets[0].active.alloc_bytes, 640);
	CHECK_EQ_U64(p.buckets[0].future[0].allocs, 1);
	/* a stack deeper than the speculative first read is read in full */
	CHECK_EQ_U64(p.buckets[1].nstk, 200);
	CHECK_EQ_U64(p.buckets[1].pcs[199], 0x401000 + 199);
	CHECK_EQ_U64(p.buckets[1].active.allocs, 2);
	raw_profile_free(&p);
	free(a);
	free(b);
}

TEST(live_detects_cycle)
{
	struct fake_bucket *a = fake_new(1, 8, 1), *b = fake_new(1, 8, 1);
	struct raw_profile p;

	a->allnext = addr_of(b);
	b->allnext = addr_of(a);
	REQUIRE(read_self(a, &p, 0) == 0);
	CHECK(p.status == RAW_CORRUPT);
	CHECK_EQ_U64(p.nbuckets, 2);
	CHECK(strstr(p.status_detail, "cycle") != NULL);
	raw_profile_free(&p);
	free(a);
	free(b);
}

TEST(live_rejects_absurd_nstk_and_wrong_type)
{
	struct fake_bucket *a = fake_new(1, 8, 1), *b = fake_new(1, 8, 1);
	struct raw_profile p;

	a->allnext = addr_of(b);
	b->nstk = 1ull << 60;
	REQUIRE(read_self(a, &p, 0) == 0);
	CHECK(p.status == RAW_CORRUPT);
	CHECK_EQ_U64(p.nbuckets, 1);
	raw_profile_free(&p);

	b->nstk = 1;
	b->typ = 2; /* a block-profile bucket has no place in mbuckets */
	REQUIRE(read_self(a, &p, 0) == 0);
	CHECK(p.status == RAW_CORRUPT);
	raw_profile_free(&p);
	free(a);
	free(b);
}

TEST(live_reports_unmapped_pointer_as_read_error)
{
	struct fake_bucket *a = fake_new(2, 8, 1);
	long page = sysconf(_SC_PAGESIZE);
	void *hole = mmap(NULL, (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct raw_profile p;

	REQUIRE(hole != MAP_FAILED);
	munmap(hole, (size_t)page);
	a->allnext = addr_of(hole);
	REQUIRE(read_self(a, &p, 0) == 0);
	CHECK(p.status == RAW_READ_ERROR);
	CHECK_EQ_U64(p.nbuckets, 1);
	raw_profile_free(&p);
	free(a);
}

TEST(live_stops_at_bucket_limit)
{
	enum { N = 50 };
	struct fake_bucket *b[N];
	struct raw_profile p;

	for (int i = 0; i < N; i++)
		b[i] = fake_new(1, 8, 1);
	for (int i = 0; i + 1 < N; i++)
		b[i]->allnext = addr_of(b[i + 1]);
	REQUIRE(read_self(b[0], &p, 20) == 0);
	CHECK(p.status == RAW_TRUNCATED);
	CHECK_EQ_U64(p.nbuckets, 20);
	raw_profile_free(&p);
	for (int i = 0; i < N; i++)
		free(b[i]);
}

TEST(live_no_such_process)
{
	struct live_target t = {0x1000, 0, 0};
	struct raw_profile p = {0};
	char err[256];

	CHECK(live_read(999999999, &t, NULL, &p, err, sizeof(err)) == -ESRCH);
	CHECK(strstr(err, "/proc/999999999/mem") != NULL);
}

TEST(live_write_sets_value_in_process_memory)
{
	static volatile int64_t rate = 0;

	REQUIRE(live_write_u64(getpid(), addr_of((const void *)&rate), 524288) == 0);
	CHECK_EQ_U64(rate, 524288);
	CHECK(live_write_u64(999999999, 0x1000, 1) == -ESRCH);
}
