/* Reassembly of kill-time capture records (oomprof/source/capture.c) without a kernel:
 * hand-made record streams, interleaved victims, truncated streams, absurd counts. */
#include <linux/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/oomprof.h"
#include "oomprof/source/capture.h"
#include "tests/unit/testhelp.h"

#define MAXP 8

struct got {
	int nprof, nvictim, nexec, nexit;
	struct raw_profile prof[MAXP];
	struct capture_meta meta[MAXP];
	struct capture_victim victim;
	pid_t exec_pid, exit_tgid;
	char filename[64];
};

static void on_profile(const struct raw_profile *p, const struct capture_meta *m, void *ctx)
{
	struct got *g = ctx;
	struct raw_profile *c;

	if (g->nprof >= MAXP)
		return;
	c = &g->prof[g->nprof];
	memset(c, 0, sizeof(*c));
	c->pid = p->pid;
	c->mem_profile_rate = p->mem_profile_rate;
	c->prof_cycle = p->prof_cycle;
	c->status = p->status;
	memcpy(c->status_detail, p->status_detail, sizeof(c->status_detail));
	for (size_t i = 0; i < p->nbuckets; i++)
		raw_profile_add(c, &p->buckets[i]);
	g->meta[g->nprof++] = *m;
}

static void on_victim(const struct capture_victim *v, void *ctx)
{
	struct got *g = ctx;

	g->nvictim++;
	g->victim = *v;
}

static void on_exec(pid_t pid, pid_t old_pid, const char *comm, const char *filename, void *ctx)
{
	struct got *g = ctx;

	(void)old_pid;
	(void)comm;
	g->nexec++;
	g->exec_pid = pid;
	snprintf(g->filename, sizeof(g->filename), "%s", filename);
}

static void on_exit_cb(pid_t tgid, uint64_t start_ticks, void *ctx)
{
	struct got *g = ctx;

	(void)start_ticks;
	g->nexit++;
	g->exit_tgid = tgid;
}

static struct capture *open_offline(struct got *g)
{
	struct capture_opts o = {0};

	memset(g, 0, sizeof(*g));
	o.no_bpf = true;
	o.cb = (struct capture_callbacks){.on_profile = on_profile,
					  .on_victim = on_victim,
					  .on_exec = on_exec,
					  .on_exit = on_exit_cb,
					  .ctx = g};
	return capture_open(&o);
}

static void free_got(struct got *g)
{
	for (int i = 0; i < g->nprof; i++)
		raw_profile_free(&g->prof[i]);
}

static int victim(struct capture *c, uint32_t tgid, uint64_t id, uint16_t flags)
{
	struct op_rec_victim r = {0};

	r.hdr.type = OP_REC_VICTIM;
	r.hdr.flags = flags;
	r.hdr.tgid = tgid;
	r.hdr.id = id;
	r.pid = tgid;
	r.anon_rss_kb = 1000;
	strcpy(r.comm, "leaker");
	return capture_feed(c, &r, sizeof(r));
}

static int begin(struct capture *c, uint32_t tgid, uint64_t id, int64_t rate)
{
	struct op_rec_begin r = {0};

	r.hdr.type = OP_REC_BEGIN;
	r.hdr.tgid = tgid;
	r.hdr.id = id;
	r.mem_profile_rate = rate;
	r.prof_cycle = 7;
	return capture_feed(c, &r, sizeof(r));
}

/* A bucket whose stack is pcs[0..npcs) with the last `shared` taken from the previous
 * bucket: only npcs - shared PCs are sent, as the kernel does. */
static int bucket_ex(struct capture *c, uint32_t tgid, uint64_t id, uint32_t index, uint64_t addr,
		     const uint64_t *pcs, uint32_t npcs, uint32_t shared, uint64_t bytes,
		     size_t len_adjust)
{
	static uint8_t buf[sizeof(struct op_rec_bucket) + 8 * (16 + OP_MAX_DEPTH)];
	struct op_rec_bucket *b = (void *)buf;
	uint32_t nsent = npcs >= shared ? npcs - shared : 0, k = 0;
	uint64_t mem[16] = {0};

	mem[0] = bytes / 64; /* active.allocs */
	mem[2] = bytes;	     /* active.alloc_bytes */
	mem[4 + 2] = 128;    /* future[0].alloc_bytes */
	mem[4 + 4 + 3] = 64; /* future[1].free_bytes */
	memset(buf, 0, sizeof(*b));
	b->hdr.type = OP_REC_BUCKET;
	b->hdr.tgid = tgid;
	b->hdr.id = id;
	b->addr = addr;
	b->size = 64;
	b->index = index;
	b->nstk = npcs;
	b->npcs = npcs;
	b->shared = shared;
	for (int i = 0; i < 16; i++) {
		if (mem[i]) {
			b->data[k++] = mem[i];
			b->mem_mask |= 1u << i;
		}
	}
	if (nsent <= OP_MAX_DEPTH)
		memcpy(&b->data[k], pcs, nsent * 8);
	return capture_feed(
	    c, buf, sizeof(*b) + (k + (nsent <= OP_MAX_DEPTH ? nsent : 0)) * 8 + len_adjust);
}

static int bucket(struct capture *c, uint32_t tgid, uint64_t id, uint32_t index, uint64_t addr,
		  const uint64_t *pcs, uint32_t npcs, uint32_t shared)
{
	return bucket_ex(c, tgid, id, index, addr, pcs, npcs, shared, 6400, 0);
}

static int end(struct capture *c, uint32_t tgid, uint64_t id, uint32_t status, uint32_t n)
{
	struct op_rec_end r = {0};

	r.hdr.type = OP_REC_END;
	r.hdr.tgid = tgid;
	r.hdr.id = id;
	r.status = status;
	r.nbuckets = n;
	r.walk_ns = 1000;
	return capture_feed(c, &r, sizeof(r));
}

static int exit_rec(struct capture *c, uint32_t tgid)
{
	struct op_rec_exit r = {0};

	r.hdr.type = OP_REC_EXIT;
	r.hdr.tgid = tgid;
	return capture_feed(c, &r, sizeof(r));
}

static const struct capture_meta *meta_of(struct got *g, pid_t tgid, struct raw_profile **p)
{
	for (int i = 0; i < g->nprof; i++) {
		if (g->prof[i].pid == tgid) {
			*p = &g->prof[i];
			return &g->meta[i];
		}
	}
	*p = NULL;
	return NULL;
}

TEST(capture_interleaved_victims)
{
	struct got g;
	struct capture *c = open_offline(&g);
	uint64_t a0[] = {0xa1, 0xa2, 0x900, 0x901}, a1[] = {0xb1, 0x900, 0x901};
	uint64_t b0[] = {0x51, 0x52};
	const struct capture_meta *m;
	struct raw_profile *p;

	REQUIRE(c);
	CHECK(!victim(c, 100, 1000, OP_F_REGISTERED));
	CHECK(!victim(c, 200, 2000, OP_F_REGISTERED));
	CHECK(!begin(c, 100, 1000, 512 * 1024));
	CHECK(!bucket(c, 100, 1000, 0, 0x10000, a0, 4, 0));
	CHECK(!begin(c, 200, 2000, 1));
	CHECK(!bucket(c, 200, 2000, 0, 0x20000, b0, 2, 0));
	/* a1 shares its two outer frames with a0: only 0xb1 travels */
	CHECK(!bucket(c, 100, 1000, 1, 0x10100, a1, 3, 2));
	CHECK(!end(c, 200, 2000, OP_ST_COMPLETE, 1));
	CHECK(!end(c, 100, 1000, OP_ST_COMPLETE, 2));
	CHECK_EQ_U64(capture_flush(c, false, 0), 2);
	CHECK_EQ_U64(capture_flush(c, false, 0), 0); /* exactly once */
	CHECK_EQ_U64(g.nvictim, 2);
	REQUIRE(g.nprof == 2);

	m = meta_of(&g, 100, &p);
	REQUIRE(m && p);
	CHECK_EQ_U64(p->status, RAW_COMPLETE);
	CHECK_EQ_U64(p->nbuckets, 2);
	CHECK_EQ_U64(p->mem_profile_rate, 512 * 1024);
	CHECK_EQ_U64(p->prof_cycle, 7);
	CHECK(m->have_victim && !strcmp(m->victim.comm, "leaker"));
	CHECK_EQ_U64(p->buckets[0].nstk, 4);
	CHECK(!memcmp(p->buckets[0].pcs, a0, sizeof(a0)));
	CHECK_EQ_U64(p->buckets[1].nstk, 3);
	CHECK(!memcmp(p->buckets[1].pcs, a1, sizeof(a1)));
	CHECK_EQ_U64(p->buckets[0].active.alloc_bytes, 6400);
	CHECK_EQ_U64(p->buckets[0].active.allocs, 100);
	CHECK_EQ_U64(p->buckets[0].future[0].alloc_bytes, 128);
	CHECK_EQ_U64(p->buckets[0].future[1].free_bytes, 64);

	m = meta_of(&g, 200, &p);
	REQUIRE(m && p);
	CHECK_EQ_U64(p->status, RAW_COMPLETE);
	CHECK_EQ_U64(p->nbuckets, 1);
	CHECK(!memcmp(p->buckets[0].pcs, b0, sizeof(b0)));
	free_got(&g);
	capture_close(c);
}

TEST(capture_process_gone_without_end)
{
	struct got g;
	struct capture *c = open_offline(&g);
	uint64_t pcs[] = {1, 2, 3};
	struct raw_profile *p;

	REQUIRE(c);
	CHECK(!victim(c, 100, 5, OP_F_REGISTERED));
	CHECK(!begin(c, 100, 5, 1));
	CHECK(!bucket(c, 100, 5, 0, 0x1000, pcs, 3, 0));
	CHECK(!bucket(c, 100, 5, 1, 0x2000, pcs, 3, 3));
	CHECK_EQ_U64(capture_flush(c, false, 0), 0); /* still in progress */
	CHECK(!exit_rec(c, 100));
	CHECK_EQ_U64(g.nexit, 1);
	CHECK_EQ_U64(g.exit_tgid, 100);
	CHECK_EQ_U64(capture_flush(c, false, 0), 1);
	REQUIRE(g.nprof == 1);
	meta_of(&g, 100, &p);
	REQUIRE(p);
	CHECK_EQ_U64(p->status, RAW_TRUNCATED);
	CHECK_EQ_U64(p->nbuckets, 2); /* nothing received is lost */
	CHECK(!memcmp(p->buckets[1].pcs, pcs, sizeof(pcs)));
	CHECK(g.meta[0].process_gone && !g.meta[0].have_end);
	free_got(&g);
	capture_close(c);
}

TEST(capture_stale_stream)
{
	struct got g;
	struct capture *c = open_offline(&g);
	uint64_t pcs[] = {1};

	REQUIRE(c);
	CHECK(!begin(c, 300, 9, 1));
	CHECK(!bucket(c, 300, 9, 0, 0x1000, pcs, 1, 0));
	CHECK_EQ_U64(capture_flush(c, false, 0), 0);
	CHECK_EQ_U64(capture_flush(c, false, UINT64_MAX / 2), 1);
	REQUIRE(g.nprof == 1);
	CHECK_EQ_U64(g.prof[0].status, RAW_TRUNCATED);
	CHECK(g.meta[0].stale);
	free_got(&g);
	capture_close(c);
}

TEST(capture_absurd_counts)
{
	struct got g;
	struct capture *c = open_offline(&g);
	uint64_t pcs[4] = {1, 2, 3, 4};
	struct op_rec_bucket b = {0};
	uint8_t junk[8] = {0};
	struct raw_profile *p;

	REQUIRE(c);
	CHECK(!begin(c, 100, 1, 1));
	CHECK(!bucket(c, 100, 1, 0, 0x1000, pcs, 4, 0));
	/* npcs beyond any Go depth, with no PCs behind it */
	b.hdr.type = OP_REC_BUCKET;
	b.hdr.tgid = 100;
	b.hdr.id = 1;
	b.index = 1;
	b.nstk = 1u << 30;
	b.npcs = 0xffff;
	CHECK(capture_feed(c, &b, sizeof(b)) == -EINVAL);
	/* claims 4 PCs, carries 2 */
	CHECK(bucket_ex(c, 100, 1, 1, 0x2000, pcs, 4, 0, 64, -16) == -EINVAL);
	/* shares more than it has */
	b.npcs = b.nstk = 2;
	b.shared = 3;
	CHECK(capture_feed(c, &b, sizeof(b) + 16) == -EINVAL);
	/* short and unknown records */
	CHECK(capture_feed(c, junk, sizeof(junk)) == -EINVAL);
	junk[0] = 99;
	CHECK(capture_feed(c, junk, sizeof(junk)) == -EINVAL);
	{
		struct op_hdr h = {.type = OP_REC_END, .tgid = 100, .id = 1};

		CHECK(capture_feed(c, &h, sizeof(h)) == -EINVAL);
	}
	/* index 5 after 0: four lost; then an END that claims 100 */
	CHECK(!bucket(c, 100, 1, 5, 0x3000, pcs, 4, 0));
	/* a repeat of an index already seen */
	CHECK(bucket(c, 100, 1, 5, 0x4000, pcs, 4, 0) == -EINVAL);
	CHECK(!end(c, 100, 1, OP_ST_COMPLETE, 100));
	CHECK_EQ_U64(capture_flush(c, false, 0), 1);
	REQUIRE(g.nprof == 1);
	meta_of(&g, 100, &p);
	REQUIRE(p);
	CHECK_EQ_U64(p->status, RAW_TRUNCATED);
	CHECK_EQ_U64(p->nbuckets, 2);
	CHECK_EQ_U64(g.meta[0].missing, 4 + 94);
	CHECK(g.meta[0].rejected >= 3);
	free_got(&g);
	capture_close(c);
}

TEST(capture_shared_frames_of_a_lost_bucket)
{
	struct got g;
	struct capture *c = open_offline(&g);
	uint64_t pcs[] = {1, 2, 3};

	REQUIRE(c);
	CHECK(!begin(c, 100, 1, 1));
	CHECK(!bucket(c, 100, 1, 0, 0x1000, pcs, 3, 0));
	/* index 1 lost; index 2 refers to it */
	CHECK(!bucket(c, 100, 1, 2, 0x3000, pcs, 3, 2));
	CHECK(!end(c, 100, 1, OP_ST_COMPLETE, 3));
	CHECK_EQ_U64(capture_flush(c, false, 0), 1);
	REQUIRE(g.nprof == 1);
	CHECK_EQ_U64(g.prof[0].nbuckets, 1);
	CHECK_EQ_U64(g.prof[0].status, RAW_TRUNCATED);
	CHECK_EQ_U64(g.meta[0].missing, 2);
	free_got(&g);
	capture_close(c);
}

TEST(capture_cycle_is_corrupt)
{
	struct got g;
	struct capture *c = open_offline(&g);
	uint64_t pcs[] = {1, 2};

	REQUIRE(c);
	CHECK(!begin(c, 100, 1, 1));
	for (uint32_t i = 0; i < 10; i++)
		CHECK(!bucket(c, 100, 1, i, 0x1000 + 0x100 * (i % 3), pcs, 2, 0));
	CHECK(!end(c, 100, 1, OP_ST_TRUNCATED, 10));
	CHECK_EQ_U64(capture_flush(c, false, 0), 1);
	REQUIRE(g.nprof == 1);
	CHECK_EQ_U64(g.prof[0].status, RAW_CORRUPT);
	CHECK_EQ_U64(g.prof[0].nbuckets, 3);
	CHECK_EQ_U64(g.meta[0].duplicates, 7);
	free_got(&g);
	capture_close(c);
}

TEST(capture_kernel_status)
{
	struct got g;
	struct capture *c = open_offline(&g);

	REQUIRE(c);
	CHECK(!begin(c, 100, 1, 1));
	CHECK(!end(c, 100, 1, OP_ST_READ_ERROR, 0));
	CHECK(!begin(c, 101, 2, 1));
	CHECK(!end(c, 101, 2, 77, 0)); /* unknown status */
	CHECK_EQ_U64(capture_flush(c, false, 0), 2);
	REQUIRE(g.nprof == 2);
	CHECK_EQ_U64(g.prof[0].status, RAW_READ_ERROR);
	CHECK_EQ_U64(g.prof[1].status, RAW_CORRUPT);
	free_got(&g);
	capture_close(c);
}

TEST(capture_classic_victim_tgid_from_begin)
{
	struct got g;
	struct capture *c = open_offline(&g);

	REQUIRE(c);
	/* thread 123 of process 120 was chosen; only BEGIN knows the tgid */
	CHECK(!victim(c, 123, 42, OP_F_TGID_UNKNOWN));
	CHECK_EQ_U64(g.nvictim, 1);
	CHECK(!g.victim.tgid_known);
	CHECK_EQ_U64(capture_flush(c, true, 0), 0); /* no capture for it (yet) */
	CHECK(!begin(c, 120, 42, 1));
	CHECK(!end(c, 120, 42, OP_ST_COMPLETE, 0));
	CHECK_EQ_U64(capture_flush(c, false, 0), 1);
	REQUIRE(g.nprof == 1);
	CHECK(g.meta[0].have_victim);
	CHECK_EQ_U64(g.meta[0].victim.tgid, 120);
	CHECK_EQ_U64(g.meta[0].victim.pid, 123);
	CHECK_EQ_U64(g.prof[0].status, RAW_COMPLETE);
	free_got(&g);
	capture_close(c);
}

TEST(capture_exec_event)
{
	struct got g;
	struct capture *c = open_offline(&g);
	struct op_rec_exec r = {0};

	REQUIRE(c);
	r.hdr.type = OP_REC_EXEC;
	r.pid = 77;
	memset(r.filename, 'x', sizeof(r.filename)); /* unterminated */
	memcpy(r.comm, "0123456789abcdefXX", sizeof(r.comm));
	CHECK(!capture_feed(c, &r, sizeof(r)));
	CHECK_EQ_U64(g.nexec, 1);
	CHECK_EQ_U64(g.exec_pid, 77);
	CHECK(capture_feed(c, &r, sizeof(r) - 1) == -EINVAL);
	capture_close(c);
}

TEST(capture_many_captures_at_once)
{
	struct got g;
	struct capture *c = open_offline(&g);
	uint64_t pcs[] = {1};
	struct capture_stats st;

	REQUIRE(c);
	/* more captures than can be in flight: the excess is counted, not crashed on */
	for (uint32_t i = 0; i < 100; i++)
		bucket(c, 1000 + i, 1 + i, 0, 0x1000, pcs, 1, 0);
	CHECK(!capture_stats(c, &st));
	CHECK(st.c[CAPTURE_C_OVERFLOW] > 0);
	CHECK(capture_flush(c, true, 0) > 0);
	CHECK_EQ_U64(capture_flush(c, true, 0), 0);
	free_got(&g);
	capture_close(c);
}

/* TIF_MEMDIE is per thread: a second mark of a dying process joins its capture (the
 * kernel sends it with the first mark's id and OP_F_REPEAT): one profile, and the
 * victim facts of the first mark. */
TEST(capture_repeat_mark_joins)
{
	struct got g;
	struct capture *c = open_offline(&g);
	uint64_t pcs[] = {0xa1, 0x900};
	struct raw_profile *p;
	const struct capture_meta *m;

	CHECK(c);
	CHECK(victim(c, 300, 1000, OP_F_REGISTERED) == 0);
	CHECK(begin(c, 300, 1000, 512 * 1024) == 0);
	CHECK(bucket(c, 300, 1000, 0, 0x7000, pcs, 2, 0) == 0);
	CHECK(victim(c, 300, 1000, OP_F_REGISTERED | OP_F_REPEAT) == 0);
	CHECK(end(c, 300, 1000, OP_ST_COMPLETE, 1) == 0);
	CHECK(victim(c, 300, 1000, OP_F_REGISTERED | OP_F_REPEAT) == 0); /* after END */
	CHECK(exit_rec(c, 300) == 0);
	capture_flush(c, false, 0);
	capture_flush(c, true, 0);
	CHECK(g.nvictim == 3);
	CHECK(g.victim.repeat);
	CHECK(g.nprof == 1);
	m = meta_of(&g, 300, &p);
	CHECK(m && p && p->status == RAW_COMPLETE && p->nbuckets == 1);
	CHECK(m->have_victim && !m->victim.repeat);
	free_got(&g);
	capture_close(c);
}

/* A MemProfileRate the kernel could not read is -1 (unknown), not 0 (sampling off). */
TEST(capture_rate_unreadable_is_unknown)
{
	struct got g;
	struct capture *c = open_offline(&g);
	struct op_rec_begin r = {0};
	struct raw_profile *p;

	CHECK(c);
	CHECK(victim(c, 301, 2000, OP_F_REGISTERED) == 0);
	r.hdr.type = OP_REC_BEGIN;
	r.hdr.flags = OP_F_RATE_UNREADABLE;
	r.hdr.tgid = 301;
	r.hdr.id = 2000;
	CHECK(capture_feed(c, &r, sizeof(r)) == 0);
	CHECK(end(c, 301, 2000, OP_ST_COMPLETE, 0) == 0);
	capture_flush(c, true, 0);
	CHECK(meta_of(&g, 301, &p) && p->mem_profile_rate == -1);
	free_got(&g);
	capture_close(c);
}
