/*
 * Kill-time capture: the userspace half of bpf/oomprof.bpf.c. See capture.h.
 *
 * Reassembly is keyed by capture id (the kernel time of the victim's mark), carried by
 * every BEGIN, BUCKET and END record. Records of several victims interleave freely;
 * BUCKET records of one capture come in walk order (one walker at a time, by claim)
 * and carry their index, so a lost record shows as a gap.
 */
#include <linux/types.h>

#include "oomprof/source/capture.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bpf/oomprof.h"
#include "oomprof/base/log.h"
#include "oomprof.skel.h"

_Static_assert(sizeof(struct op_hdr) == 16, "op_hdr");
_Static_assert(sizeof(struct op_rec_victim) == 88, "op_rec_victim");
_Static_assert(sizeof(struct op_rec_begin) == 88, "op_rec_begin");
_Static_assert(sizeof(struct op_rec_bucket) == 48, "op_rec_bucket");
_Static_assert(offsetof(struct op_rec_bucket, mem_mask) == 44, "op_rec_bucket.mem_mask");
_Static_assert(offsetof(struct op_rec_bucket, data) == 48, "op_rec_bucket.data");
_Static_assert(sizeof(struct op_rec_end) == 72, "op_rec_end");
_Static_assert(sizeof(struct op_rec_exec) == 16 + 8 + 16 + 256, "op_rec_exec");
_Static_assert(sizeof(struct op_rec_exit) == 32, "op_rec_exit");
_Static_assert(sizeof(struct op_proc) == 32, "op_proc");
_Static_assert(sizeof(struct op_victim) == 112, "op_victim");
_Static_assert(offsetof(struct op_victim, proc) == 80, "op_victim.proc");
_Static_assert((int)CAPTURE_C_KERNEL_MAX == (int)OP_M_MAX, "counters mirror op_metric");
_Static_assert((int)OP_ST_CORRUPT == (int)RAW_CORRUPT &&
		   (int)OP_ST_READ_ERROR == (int)RAW_READ_ERROR &&
		   (int)OP_ST_TRUNCATED == (int)RAW_TRUNCATED,
	       "status numbering");

#define MAX_INFLIGHT	    64 /* captures being reassembled at once */
#define DEFAULT_MAX_BUCKETS (1u << 20)
#define RECENT_VICTIMS	    16 /* victim records kept for a capture that may follow */
/* Real-time busy draining allowed while captures are pending, before blocking waits
 * at normal priority: a 50,000-bucket capture drains in well under that. */
#define SPIN_BUDGET_NS (300 * 1000000ull)

struct addrset {
	uint64_t *slot; /* 0 = empty (bucket addresses are never 0) */
	size_t cap, n;
};

struct inflight {
	bool used;
	bool ready; /* finished, waiting for the rings to be drained once more */
	struct capture_meta meta;
	struct raw_profile prof;
	struct addrset seen;
	uint32_t next_index;
	uint8_t *arena; /* bucket records as received, in order */
	size_t alen, acap;
	uint32_t nstored;
	uint64_t last_ms; /* last record, CLOCK_MONOTONIC ms */
	bool overflow;	  /* more buckets than max_buckets, or out of memory */
};

struct capture {
	struct capture_opts opts;
	struct oomprof_bpf *skel;
	struct ring_buffer *rb;
	const char *variant;
	char description[512]; /* kernel, program chosen per hook and why */
	struct inflight fl[MAX_INFLIGHT];
	struct capture_victim recent[RECENT_VICTIMS];
	unsigned recent_next;
	uint64_t now_ms; /* refreshed per poll / feed of a control record */
	/* Real-time spinning for the captures now pending; when the budget is spent,
	 * blocking waits (spin_limited) at normal priority (rt_left: the policy to
	 * return to in rt_policy, rt_param). */
	uint64_t spun_ns;
	bool spin_limited, rt_left;
	int rt_policy;
	struct sched_param rt_param;
	uint64_t user[CAPTURE_C_MAX];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- address set (cycle detection) ------------------------------------------------ */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* 1 if added, 0 if already present, -ENOMEM. */
static int addrset_add(struct addrset *s, uint64_t a)
{
	size_t i;

	if (!a)
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1024;
		uint64_t *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		for (size_t j = 0; j < s->cap; j++) {
			if (!s->slot[j])
				continue;
			for (i = mix(s->slot[j]) & (ncap - 1); ns[i]; i = (i + 1) & (ncap - 1))
				;
			ns[i] = s->slot[j];
		}
		free(s->slot);
		s->slot = ns;
		s->cap = ncap;
	}
	for (i = mix(a) & (s->cap - 1); s->slot[i]; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == a)
			return 0;
	s->slot[i] = a;
	s->n++;
	return 1;
}

static void addrset_free(struct addrset *s)
{
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

/* ---- reassembly ------------------------------------------------------------------- */

static struct inflight *find_inflight(struct capture *cap, uint64_t id)
{
	for (int i = 0; i < MAX_INFLIGHT; i++)
		if (cap->fl[i].used && cap->fl[i].meta.id == id)
			return &cap->fl[i];
	return NULL;
}

static struct inflight *get_inflight(struct capture *cap, uint64_t id, pid_t tgid)
{
	struct inflight *f = find_inflight(cap, id);

	if (f)
		return f;
	for (int i = 0; i < MAX_INFLIGHT; i++) {
		f = &cap->fl[i];
		if (f->used)
			continue;
		memset(f, 0, sizeof(*f));
		f->used = true;
		f->meta.id = id;
		f->meta.tgid = tgid;
		f->prof.pid = tgid;
		f->last_ms = cap->now_ms;
		return f;
	}
	cap->user[CAPTURE_C_OVERFLOW]++;
	return NULL;
}

static void set_detail(struct raw_profile *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_detail(struct raw_profile *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->status_detail, sizeof(p->status_detail), fmt, ap);
	va_end(ap);
}

static const char *reason_name(uint32_t r)
{
	switch (r) {
	case OP_END_LIST_END:
		return "end of bucket list";
	case OP_END_MAX_BUCKETS:
		return "bucket limit reached";
	case OP_END_READ_HEAD:
		return "runtime.mbuckets unreadable";
	case OP_END_READ_BUCKET:
		return "bucket unreadable";
	case OP_END_BAD_TYPE:
		return "bucket type is not memory";
	case OP_END_BAD_NSTK:
		return "absurd stack depth";
	case OP_END_SELF_LOOP:
		return "bucket links to itself";
	case OP_END_PROCESS_GONE:
		return "process exited before the walk finished";
	}
	return "unknown reason";
}

static void build_profile(struct inflight *f);

/* Decides the status from what arrived, hands the profile over, frees it. */
static void deliver(struct capture *cap, struct inflight *f)
{
	struct capture_meta *m = &f->meta;
	struct raw_profile *p = &f->prof;

	build_profile(f);
	/* Records after the last one received that END says were sent. */
	if (m->have_end && m->kernel_nbuckets > f->next_index)
		m->missing += m->kernel_nbuckets - f->next_index;

	if (m->duplicates) {
		p->status = RAW_CORRUPT;
		set_detail(p, "bucket list loops (%u repeated addresses)", m->duplicates);
	} else if (m->have_end && m->kernel_status <= OP_ST_CORRUPT &&
		   m->kernel_status != OP_ST_COMPLETE) {
		p->status = (enum raw_status)m->kernel_status;
		set_detail(p, "%s after %u buckets", reason_name(m->kernel_reason),
			   m->kernel_nbuckets);
	} else if (m->have_end && m->kernel_status > OP_ST_CORRUPT) {
		p->status = RAW_CORRUPT;
		set_detail(p, "unknown kernel status %u", m->kernel_status);
	} else if (!m->have_end) {
		p->status = RAW_TRUNCATED;
		set_detail(p, "%s",
			   m->process_gone ? "process gone before the walk ended"
					   : "records stopped arriving");
	} else if (m->missing || f->overflow || m->rejected) {
		p->status = RAW_TRUNCATED;
		set_detail(p, "%u bucket records lost, %u rejected%s", m->missing, m->rejected,
			   f->overflow ? ", limit reached" : "");
	} else {
		p->status = RAW_COMPLETE;
		p->status_detail[0] = 0;
	}
	m->delivered_ktime = mono_ns();
	cap->user[CAPTURE_C_PROFILES]++;
	if (cap->opts.cb.on_profile)
		cap->opts.cb.on_profile(p, m, cap->opts.cb.ctx);
	raw_profile_free(p);
	addrset_free(&f->seen);
	free(f->arena);
	memset(f, 0, sizeof(*f));
}

static void victim_from_rec(struct capture_victim *v, const struct op_rec_victim *r)
{
	memset(v, 0, sizeof(*v));
	v->pid = r->pid;
	v->tgid = r->hdr.tgid;
	v->tgid_known = !(r->hdr.flags & OP_F_TGID_UNKNOWN);
	v->registered = r->hdr.flags & OP_F_REGISTERED;
	v->repeat = r->hdr.flags & OP_F_REPEAT;
	memcpy(v->comm, r->comm, sizeof(v->comm));
	v->comm[sizeof(v->comm) - 1] = 0;
	v->uid = r->uid;
	v->oom_score_adj = r->oom_score_adj;
	v->total_vm_kb = r->total_vm_kb;
	v->anon_rss_kb = r->anon_rss_kb;
	v->file_rss_kb = r->file_rss_kb;
	v->shmem_rss_kb = r->shmem_rss_kb;
	v->pgtables_kb = r->pgtables_kb;
	v->ktime_ns = r->hdr.id;
}

/* Bytes a bucket record needs: header, nonzero memRecord words, PCs sent. */
static size_t bucket_len(const struct op_rec_bucket *b)
{
	return sizeof(*b) + ((size_t)__builtin_popcount(b->mem_mask) +
			     (b->npcs >= b->shared ? b->npcs - b->shared : 0)) *
				sizeof(uint64_t);
}

/*
 * While the victim is being walked the rings must drain fast, so a bucket record is
 * only validated and appended, as it came (stack compressed), to the capture's
 * arena; full stacks are rebuilt at delivery.
 */
static int feed_bucket(struct capture *cap, const struct op_rec_bucket *b, size_t len)
{
	uint32_t max = cap->opts.max_buckets ? cap->opts.max_buckets : DEFAULT_MAX_BUCKETS;
	struct inflight *f;
	size_t need;

	if (b->npcs > OP_MAX_DEPTH || b->npcs > b->nstk || b->shared > b->npcs ||
	    len < bucket_len(b)) {
		f = find_inflight(cap, b->hdr.id);
		if (f)
			f->meta.rejected++;
		return -EINVAL;
	}
	f = get_inflight(cap, b->hdr.id, b->hdr.tgid);
	if (!f)
		return 0;
	f->last_ms = cap->now_ms;
	if (f->meta.tgid != (pid_t)b->hdr.tgid || b->index < f->next_index) {
		/* A repeat or reordering: never produced by one walker. */
		f->meta.rejected++;
		return -EINVAL;
	}
	f->meta.missing += b->index - f->next_index;
	f->next_index = b->index + 1;
	if (f->overflow)
		return 0;
	if (f->nstored >= max) {
		f->overflow = true;
		return 0;
	}
	need = bucket_len(b);
	if (f->alen + need > f->acap) {
		size_t ncap = f->acap ? f->acap * 2 : 1 << 20;
		uint8_t *na;

		while (ncap < f->alen + need)
			ncap *= 2;
		na = realloc(f->arena, ncap);
		if (!na) {
			f->overflow = true;
			return 0;
		}
		f->arena = na;
		f->acap = ncap;
	}
	memcpy(f->arena + f->alen, b, need);
	f->alen += need;
	f->nstored++;
	return 0;
}

/* Rebuilds the buckets of the arena into f->prof: full stacks, cycle detection. */
static void build_profile(struct inflight *f)
{
	uint64_t pcs[OP_MAX_DEPTH];
	bool have_last = false;
	uint32_t last_index = 0;
	size_t off = 0;

	while (off + sizeof(struct op_rec_bucket) <= f->alen) {
		struct op_rec_bucket b;
		const uint64_t *sent;
		uint32_t nsent;
		struct raw_bucket rb;
		int r;

		uint64_t mem[OP_MEMRECORD_WORDS] = {0};
		const uint64_t *data;
		uint32_t nmem = 0;

		memcpy(&b, f->arena + off, sizeof(b));
		nsent = b.npcs - b.shared; /* validated in feed_bucket */
		data = (const uint64_t *)(f->arena + off + sizeof(b));
		for (int i = 0; i < OP_MEMRECORD_WORDS; i++)
			if (b.mem_mask & (1u << i))
				mem[i] = data[nmem++];
		sent = data + nmem;
		off += bucket_len(&b);

		memcpy(pcs, sent, nsent * sizeof(uint64_t));
		if (b.shared) {
			/* The outer frames come from the bucket just before, which must
			 * be the last one kept. */
			const struct raw_bucket *prev =
			    f->prof.nbuckets ? &f->prof.buckets[f->prof.nbuckets - 1] : NULL;

			if (!prev || !have_last || last_index + 1 != b.index ||
			    prev->nstk < b.shared) {
				f->meta.missing++;
				have_last = false;
				continue;
			}
			memcpy(pcs + nsent, prev->pcs + (prev->nstk - b.shared),
			       b.shared * sizeof(uint64_t));
		}
		have_last = false;
		r = addrset_add(&f->seen, b.addr);
		if (r == 0) {
			f->meta.duplicates++;
			continue;
		}
		if (r < 0) {
			f->overflow = true;
			break;
		}
		memset(&rb, 0, sizeof(rb));
		rb.size = b.size;
		rb.nstk = b.npcs;
		rb.pcs = pcs;
		memcpy(&rb.active, &mem[0], sizeof(rb.active));
		for (int i = 0; i < 3; i++)
			memcpy(&rb.future[i], &mem[4 + 4 * i], sizeof(rb.future[i]));
		if (raw_profile_add(&f->prof, &rb)) {
			f->overflow = true;
			break;
		}
		have_last = true;
		last_index = b.index;
	}
	free(f->arena);
	f->arena = NULL;
	f->alen = f->acap = 0;
}

int capture_feed(struct capture *cap, const void *rec, size_t len)
{
	const struct op_hdr *h = rec;
	struct inflight *f;

	if (!cap || !rec || len < sizeof(*h))
		goto bad;
	if (h->type != OP_REC_BUCKET || !cap->now_ms)
		cap->now_ms = mono_ns() / 1000000;
	switch (h->type) {
	case OP_REC_VICTIM: {
		const struct op_rec_victim *r = rec;
		struct capture_victim v;

		if (len < sizeof(*r))
			goto bad;
		victim_from_rec(&v, r);
		if (cap->opts.cb.on_victim)
			cap->opts.cb.on_victim(&v, cap->opts.cb.ctx);
		if (v.repeat) /* one death, one profile: the first mark's capture goes on */
			return 0;
		/* Kept for the capture that may follow (with the classic tracepoint,
		 * only the BEGIN record tells whether one does). */
		cap->recent[cap->recent_next++ % RECENT_VICTIMS] = v;
		f = (r->hdr.flags & OP_F_REGISTERED) ? get_inflight(cap, h->id, h->tgid)
						     : find_inflight(cap, h->id);
		if (f) {
			f->meta.have_victim = true;
			f->meta.victim = v;
		}
		return 0;
	}
	case OP_REC_BEGIN: {
		const struct op_rec_begin *r = rec;

		if (len < sizeof(*r))
			goto bad;
		f = get_inflight(cap, h->id, h->tgid);
		if (!f)
			return 0;
		f->meta.tgid = h->tgid;
		f->prof.pid = h->tgid;
		f->meta.have_begin = true;
		for (int i = 0; !f->meta.have_victim && i < RECENT_VICTIMS; i++) {
			if (cap->recent[i].ktime_ns == h->id) {
				f->meta.have_victim = true;
				f->meta.victim = cap->recent[i];
				f->meta.victim.tgid = h->tgid;
			}
		}
		f->meta.begin_ktime = r->ktime;
		f->meta.walk_rss =
		    (struct capture_rss){r->rss.total_vm_kb, r->rss.anon_rss_kb, r->rss.file_rss_kb,
					 r->rss.shmem_rss_kb, r->rss.pgtables_kb};
		/* -1: unreadable, not "sampling off" (0) */
		f->prof.mem_profile_rate =
		    (h->flags & OP_F_RATE_UNREADABLE) ? -1 : r->mem_profile_rate;
		f->prof.prof_cycle = r->prof_cycle;
		f->last_ms = cap->now_ms;
		return 0;
	}
	case OP_REC_BUCKET:
		if (len < sizeof(struct op_rec_bucket))
			goto bad;
		if (feed_bucket(cap, rec, len))
			goto bad;
		return 0;
	case OP_REC_END: {
		const struct op_rec_end *r = rec;

		if (len < sizeof(*r))
			goto bad;
		f = get_inflight(cap, h->id, h->tgid);
		if (!f)
			return 0;
		if (f->meta.tgid != (pid_t)h->tgid || f->meta.have_end) {
			f->meta.rejected++;
			goto bad;
		}
		f->meta.have_end = true;
		f->meta.kernel_status = r->status;
		f->meta.kernel_reason = r->reason;
		f->meta.kernel_nbuckets = r->nbuckets;
		f->meta.invocations = r->invocations;
		f->meta.ringbuf_full = r->ringbuf_full;
		f->meta.walk_ns = r->walk_ns;
		f->meta.wait_ns = r->wait_ns;
		f->meta.end_ktime = r->ktime;
		f->last_ms = cap->now_ms;
		return 0;
	}
	case OP_REC_EXEC: {
		const struct op_rec_exec *r = rec;
		char comm[OP_COMM_LEN], file[OP_FILENAME_LEN];

		if (len < sizeof(*r))
			goto bad;
		memcpy(comm, r->comm, sizeof(comm));
		comm[sizeof(comm) - 1] = 0;
		memcpy(file, r->filename, sizeof(file));
		file[sizeof(file) - 1] = 0;
		if (cap->opts.cb.on_exec)
			cap->opts.cb.on_exec(r->pid, r->old_pid, comm, file, cap->opts.cb.ctx);
		return 0;
	}
	case OP_REC_EXIT: {
		const struct op_rec_exit *r = rec;

		if (len < sizeof(*r))
			goto bad;
		for (int i = 0; i < MAX_INFLIGHT; i++)
			if (cap->fl[i].used && cap->fl[i].meta.tgid == (pid_t)h->tgid)
				cap->fl[i].meta.process_gone = true;
		if (cap->opts.cb.on_exit)
			cap->opts.cb.on_exit(h->tgid, r->start_ticks, cap->opts.cb.ctx);
		return 0;
	}
	}
bad:
	if (cap)
		cap->user[CAPTURE_C_REJECTED]++;
	return -EINVAL;
}

/*
 * Two passes: a finished capture is first marked ready, and delivered by the next
 * flush, after the caller has drained the rings once more (the END record travels in
 * the events ring, its buckets in the profile ring). capture_poll does both steps.
 */
static int flush(struct capture *cap, bool all, uint64_t now_ms, bool two_step)
{
	uint32_t stale = cap->opts.stale_ms ? cap->opts.stale_ms : 10000;
	int n = 0;

	if (!now_ms)
		now_ms = mono_ns() / 1000000;
	for (int i = 0; i < MAX_INFLIGHT; i++) {
		struct inflight *f = &cap->fl[i];
		bool finished;

		if (!f->used)
			continue;
		finished = f->meta.have_end || f->meta.process_gone;
		if (!finished && now_ms > f->last_ms + stale) {
			f->meta.stale = true;
			finished = true;
		}
		if (all || (finished && (f->ready || !two_step))) {
			deliver(cap, f);
			n++;
		} else if (finished) {
			f->ready = true;
		}
	}
	return n;
}

int capture_flush(struct capture *cap, bool all, uint64_t now_ms)
{
	if (!cap)
		return -EINVAL;
	return flush(cap, all, now_ms, false);
}

/* ---- kernel side ------------------------------------------------------------------ */

static int on_ring_record(void *ctx, void *data, size_t len)
{
	capture_feed(ctx, data, len);
	return 0;
}

/* bcc's probe_tp_btf, in spirit: load and attach a two-instruction tp_btf program. */
static bool probe_tp_btf(const char *tp)
{
	struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP);
	char name[128];
	struct btf *btf;
	int id, fd, lfd;

	btf = btf__load_vmlinux_btf();
	if (!btf)
		return false;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	btf__free(btf);
	if (id <= 0)
		return false;
	opts.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &opts);
	if (fd < 0)
		return false;
	lfd = bpf_raw_tracepoint_open(NULL, fd);
	close(fd);
	if (lfd < 0)
		return false;
	close(lfd);
	return true;
}

/* libbpf attaches classic tracepoints through tracefs: mount it where it is missing. */
static int ensure_tracefs(void)
{
	if (!access("/sys/kernel/tracing/events", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events", F_OK))
		return 0;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) && errno != EBUSY)
		return -errno;
	return access("/sys/kernel/tracing/events", F_OK) ? -ENOENT : 0;
}

static uint32_t ring_size(uint32_t want, uint32_t dflt)
{
	uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE), sz = page;

	if (!want)
		return dflt;
	while (sz < want && sz < (1u << 30))
		sz <<= 1;
	return sz;
}

/* The exit program runs itself again once a late mark came (see await_mark). */
static int set_exit_again(struct oomprof_bpf *skel)
{
	__u32 key = 0;
	int fd = bpf_program__fd(skel->progs.sched_process_exit);

	if (bpf_map_update_elem(bpf_map__fd(skel->maps.exit_again), &key, &fd, BPF_ANY))
		return -errno;
	return 0;
}

/* ---- probing the running kernel ---------------------------------------------------- */

/* Which program serves each hook, and why the others do not. */
struct variant {
	bool mv_btf;  /* mark_victim: tp_btf (task and uid) instead of the classic tracepoint */
	bool sd_btf;  /* signal_deliver: tp_btf instead of the classic tracepoint */
	bool bounded; /* walks without bpf_loop (bounded loops, tail calls) */
	char why_mv[96], why_sd[96], why_walk[96];
};

/* True when tracepoint tp's BTF prototype passes a struct task_struct * first (mark_victim
 * does from 6.9; before, only an int pid). */
static bool tp_btf_first_arg_is_task(const char *tp)
{
	const struct btf_type *t;
	const struct btf_param *p;
	struct btf *btf = btf__load_vmlinux_btf();
	char name[128];
	bool ok = false;
	int id;

	if (!btf)
		return false;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	if (t)
		t = btf__type_by_id(btf, t->type); /* pointer */
	if (t && btf_is_ptr(t))
		t = btf__type_by_id(btf, t->type); /* func_proto (void *, args...) */
	if (t && btf_is_func_proto(t) && btf_vlen(t) >= 2) {
		p = btf_params(t) + 1;
		t = btf__type_by_id(btf, p->type);
		while (t && (btf_is_mod(t) || btf_is_typedef(t)))
			t = btf__type_by_id(btf, t->type);
		if (t && btf_is_ptr(t)) {
			t = btf__type_by_id(btf, t->type);
			ok = t && btf_is_struct(t) &&
			     !strcmp(btf__name_by_offset(btf, t->name_off), "task_struct");
		}
	}
	btf__free(btf);
	return ok;
}

static void choose_variant(const struct capture_opts *o, struct variant *v)
{
	memset(v, 0, sizeof(*v));
	v->bounded = o->force_bounded ||
		     libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop, NULL) != 1;
	if (o->force_bounded)
		snprintf(v->why_walk, sizeof(v->why_walk), "bounded loops (asked for)");
	else if (v->bounded)
		snprintf(v->why_walk, sizeof(v->why_walk),
			 "bounded loops and tail calls (no bpf_loop before 5.17)");
	else
		snprintf(v->why_walk, sizeof(v->why_walk), "bpf_loop");

	if (o->force_classic) {
		snprintf(v->why_mv, sizeof(v->why_mv), "classic tracepoint (asked for)");
	} else if (!probe_tp_btf("mark_victim")) {
		snprintf(v->why_mv, sizeof(v->why_mv), "classic tracepoint (tp_btf refused)");
	} else if (!tp_btf_first_arg_is_task("mark_victim")) {
		snprintf(v->why_mv, sizeof(v->why_mv),
			 "classic tracepoint (tp_btf passes only a pid before 6.9)");
	} else {
		v->mv_btf = true;
		snprintf(v->why_mv, sizeof(v->why_mv), "tp_btf");
	}

	if (o->force_classic) {
		snprintf(v->why_sd, sizeof(v->why_sd), "classic tracepoint (asked for)");
	} else if (v->bounded) {
		snprintf(v->why_sd, sizeof(v->why_sd),
			 "classic tracepoint (the bounded walk continues by tail calls)");
	} else if (!probe_tp_btf("signal_deliver")) {
		snprintf(v->why_sd, sizeof(v->why_sd), "classic tracepoint (tp_btf refused)");
	} else {
		v->sd_btf = true;
		snprintf(v->why_sd, sizeof(v->why_sd), "tp_btf");
	}
}

/* libbpf's messages (verifier logs of a refused variant among them) go to the debug
 * log: a refusal the loader recovers from is not an error. */
static int libbpf_to_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *text = NULL, *line, *save = NULL;

	(void)level;
	if (!log_enabled(LOG_DEBUG) || vasprintf(&text, fmt, ap) < 0)
		return 0;
	/* A verifier log comes as one message: one log line per line of it. */
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_debug("libbpf: %s", line);
	free(text);
	return 0;
}

static void configure(struct oomprof_bpf *skel, const struct capture_opts *o,
		      const struct variant *v)
{
	uint32_t depth = o->max_depth ? o->max_depth : OP_MAX_DEPTH;

	if (depth > OP_MAX_DEPTH)
		depth = OP_MAX_DEPTH;
	skel->rodata->cfg_max_depth = depth;
	if (o->max_buckets)
		skel->rodata->cfg_max_buckets = o->max_buckets;
	if (o->budget)
		skel->rodata->cfg_budget = o->budget;
	if (o->wait_ms == (uint32_t)-1)
		skel->rodata->cfg_wait_ns = 0;
	else if (o->wait_ms)
		skel->rodata->cfg_wait_ns = (uint64_t)o->wait_ms * 1000000;
	if (o->total_wait_ms)
		skel->rodata->cfg_total_wait_ns = (uint64_t)o->total_wait_ms * 1000000;
	skel->rodata->cfg_exit_walk = !o->no_exit_walk;
	skel->rodata->cfg_classic_victim = !v->mv_btf;

	bpf_map__set_max_entries(skel->maps.profile, ring_size(o->profile_ringbuf_bytes, 8u << 20));
	bpf_map__set_max_entries(skel->maps.events, ring_size(o->events_ringbuf_bytes, 256u << 10));
	if (o->max_procs)
		bpf_map__set_max_entries(skel->maps.procs, o->max_procs);
	if (o->max_victims) {
		bpf_map__set_max_entries(skel->maps.victims, o->max_victims);
		bpf_map__set_max_entries(skel->maps.bounded_claims, o->max_victims);
	}

	bpf_program__set_autoload(skel->progs.mark_victim_btf, v->mv_btf);
	bpf_program__set_autoload(skel->progs.mark_victim_tp, !v->mv_btf);
	bpf_program__set_autoload(skel->progs.signal_deliver_btf, !v->bounded && v->sd_btf);
	bpf_program__set_autoload(skel->progs.signal_deliver_tp, !v->bounded && !v->sd_btf);
	bpf_program__set_autoload(skel->progs.sched_process_exit, !v->bounded);
	bpf_program__set_autoload(skel->progs.signal_deliver_bounded, v->bounded);
	bpf_program__set_autoload(skel->progs.walk_bounded_tail, v->bounded);
	bpf_program__set_autoload(skel->progs.sched_process_exit_bounded, v->bounded);
	bpf_program__set_autoattach(skel->progs.walk_bounded_tail, false);
}

static struct oomprof_bpf *open_and_load(const struct capture_opts *o, const struct variant *v,
					 int *err)
{
	struct oomprof_bpf *skel = oomprof_bpf__open();
	__u32 slot = 0;
	int fd;

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	configure(skel, o, v);
	*err = oomprof_bpf__load(skel);
	if (!*err && v->bounded) {
		fd = bpf_program__fd(skel->progs.walk_bounded_tail);
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.bounded_next), &slot, &fd, BPF_ANY))
			*err = -errno;
	}
	if (!*err && !v->bounded)
		*err = set_exit_again(skel);
	if (*err) {
		oomprof_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* Loads the variant probing chose; when the kernel still refuses it, the next safer
 * one: classic tracepoints, then also the bounded walk. */
static struct oomprof_bpf *load_best(const struct capture_opts *o, struct variant *v, int *err)
{
	struct oomprof_bpf *skel = open_and_load(o, v, err);

	if (!skel && (v->mv_btf || v->sd_btf)) {
		log_debug("BPF programs refused (%s); trying classic tracepoints", strerror(-*err));
		v->mv_btf = v->sd_btf = false;
		snprintf(v->why_mv, sizeof(v->why_mv), "classic tracepoint (tp_btf refused: %s)",
			 strerror(-*err));
		snprintf(v->why_sd, sizeof(v->why_sd), "%s", v->why_mv);
		skel = open_and_load(o, v, err);
	}
	if (!skel && !v->bounded) {
		log_debug("BPF programs refused (%s); trying the bounded walk", strerror(-*err));
		v->bounded = true;
		snprintf(v->why_walk, sizeof(v->why_walk),
			 "bounded loops (bpf_loop walk refused: %s)", strerror(-*err));
		skel = open_and_load(o, v, err);
	}
	return skel;
}

static void describe(struct capture *cap, const struct variant *v)
{
	struct utsname u;

	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");
	snprintf(cap->description, sizeof(cap->description),
		 "kernel %s; mark_victim: %s; signal_deliver: %s; walk: %s", u.release, v->why_mv,
		 v->why_sd, v->why_walk);
	if (v->mv_btf && v->sd_btf)
		cap->variant = v->bounded ? "tp_btf-bounded" : "tp_btf";
	else if (!v->mv_btf && !v->sd_btf)
		cap->variant = v->bounded ? "classic-bounded" : "classic";
	else
		cap->variant = v->bounded ? "mixed-bounded" : "mixed";
}

struct capture *capture_open(const struct capture_opts *opts)
{
	struct capture *cap = calloc(1, sizeof(*cap));
	struct variant v;
	int err = 0;

	if (!cap)
		return NULL;
	if (opts)
		cap->opts = *opts;
	if (cap->opts.no_bpf) {
		cap->variant = "none";
		return cap;
	}

	libbpf_set_print(libbpf_to_log);
	err = ensure_tracefs();
	if (err)
		goto fail;
	choose_variant(&cap->opts, &v);
	cap->skel = load_best(&cap->opts, &v, &err);
	if (!cap->skel)
		goto fail;
	describe(cap, &v);

	err = oomprof_bpf__attach(cap->skel);
	if (err)
		goto fail;
	cap->rb = ring_buffer__new(bpf_map__fd(cap->skel->maps.events), on_ring_record, cap, NULL);
	if (!cap->rb) {
		err = -errno;
		goto fail;
	}
	err = ring_buffer__add(cap->rb, bpf_map__fd(cap->skel->maps.profile), on_ring_record, cap);
	if (err)
		goto fail;
	return cap;
fail:
	capture_close(cap);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

void capture_close(struct capture *cap)
{
	if (!cap)
		return;
	ring_buffer__free(cap->rb);
	oomprof_bpf__destroy(cap->skel);
	for (int i = 0; i < MAX_INFLIGHT; i++) {
		raw_profile_free(&cap->fl[i].prof);
		addrset_free(&cap->fl[i].seen);
		free(cap->fl[i].arena);
	}
	free(cap);
}

int capture_add_process(struct capture *cap, pid_t tgid, const struct capture_target *t)
{
	struct op_proc p = {};
	__u32 key = tgid;

	if (!cap || !t || tgid <= 0)
		return -EINVAL;
	if (!cap->skel)
		return 0;
	p.mbuckets_addr = t->mbuckets_addr;
	p.mem_profile_rate_addr = t->mem_profile_rate_addr;
	p.prof_cycle_addr = t->prof_cycle_addr;
	p.start_ticks = t->start_ticks;
	if (bpf_map_update_elem(bpf_map__fd(cap->skel->maps.procs), &key, &p, BPF_ANY))
		return errno == ENOMEM ? -E2BIG : -errno;
	return 0;
}

int capture_remove_process(struct capture *cap, pid_t tgid)
{
	__u32 key = tgid;

	if (!cap || tgid <= 0)
		return -EINVAL;
	if (!cap->skel)
		return 0;
	if (bpf_map_delete_elem(bpf_map__fd(cap->skel->maps.procs), &key))
		return -errno;
	return 0;
}

/*
 * A victim is being walked and its thread may be waiting for ring space: stay on the
 * CPU and drain (no wakeup, no scheduling delay), until records come or timeout_ms
 * (at most the spin budget left) passes. Only spinning that found nothing counts
 * against the budget. Returns records consumed or -errno.
 */
static int spin_drain(struct capture *cap, int timeout_ms)
{
	uint64_t t0 = mono_ns(), t = t0, left = SPIN_BUDGET_NS - cap->spun_ns;
	uint64_t wait = (uint64_t)(timeout_ms < 0 || timeout_ms > 1000 ? 1000 : timeout_ms);
	uint64_t until = t0 + (wait * 1000000 < left ? wait * 1000000 : left);
	int n = 0, m;

	do {
		uint64_t before = t;

		m = ring_buffer__consume(cap->rb);
		if (m < 0)
			return m;
		n += m;
		t = mono_ns();
		if (!m)
			cap->spun_ns += t - before;
	} while (!n && t < until);
	return n;
}

/* The spin budget is spent and a capture is still unfinished (its END and EXIT may
 * both be lost): no more real-time spinning; normal priority, blocking waits. */
static void leave_realtime(struct capture *cap)
{
	struct sched_param normal = {0};
	int policy = sched_getscheduler(0);

	if (cap->rt_left || cap->spin_limited)
		return;
	cap->spin_limited = true;
	cap->user[CAPTURE_C_SPIN_LIMITED]++;
	if (policy < 0 || ((policy & ~SCHED_RESET_ON_FORK) != SCHED_FIFO &&
			   (policy & ~SCHED_RESET_ON_FORK) != SCHED_RR))
		return;
	if (sched_getparam(0, &cap->rt_param) || sched_setscheduler(0, SCHED_OTHER, &normal))
		return;
	cap->rt_policy = policy;
	cap->rt_left = true;
}

/* Nothing pending: a fresh budget for the next capture, and the priority back. */
static void end_spinning(struct capture *cap)
{
	cap->spun_ns = 0;
	cap->spin_limited = false;
	if (!cap->rt_left)
		return;
	cap->rt_left = false;
	sched_setscheduler(0, cap->rt_policy, &cap->rt_param);
}

int capture_poll(struct capture *cap, int timeout_ms)
{
	bool pending = false;
	int n, m;

	if (!cap)
		return -EINVAL;
	if (!cap->rb)
		return flush(cap, false, 0, false);
	for (int i = 0; i < MAX_INFLIGHT; i++)
		if (cap->fl[i].used && !cap->fl[i].meta.have_end && !cap->fl[i].meta.process_gone)
			pending = true;
	if (!pending)
		end_spinning(cap);
	if (pending && cap->spun_ns < SPIN_BUDGET_NS) {
		n = spin_drain(cap, timeout_ms);
		if (n < 0)
			return n;
	} else {
		if (pending)
			leave_realtime(cap);
		n = ring_buffer__poll(cap->rb, timeout_ms);
		if (n < 0)
			return n;
	}
	cap->now_ms = mono_ns() / 1000000;
	/* Mark finished captures, drain everything written before their END or EXIT,
	 * then deliver them. */
	for (int round = 0; round < 4; round++) {
		flush(cap, false, 0, true);
		m = 0;
		for (int i = 0; i < MAX_INFLIGHT; i++)
			if (cap->fl[i].used && cap->fl[i].ready)
				m++;
		if (!m)
			break;
		m = ring_buffer__consume(cap->rb);
		if (m > 0)
			n += m;
	}
	return n;
}

int capture_fd(const struct capture *cap)
{
	if (!cap || !cap->rb)
		return -1;
	return ring_buffer__epoll_fd(cap->rb);
}

const char *capture_variant(const struct capture *cap)
{
	return cap ? cap->variant : "none";
}

const char *capture_description(const struct capture *cap)
{
	return cap && cap->description[0] ? cap->description : capture_variant(cap);
}

static const char *const counter_names[CAPTURE_C_MAX] = {
    [CAPTURE_C_VICTIMS] = "victims",
    [CAPTURE_C_VICTIMS_GO] = "victims_go",
    [CAPTURE_C_EVENTS_DROPPED] = "events_dropped",
    [CAPTURE_C_PROFILE_FULL] = "profile_ring_full",
    [CAPTURE_C_READ_ERRORS] = "read_errors",
    [CAPTURE_C_BUCKETS] = "buckets",
    [CAPTURE_C_WALKS] = "walks",
    [CAPTURE_C_CLAIM_BUSY] = "claim_busy",
    [CAPTURE_C_SIGKILL_UNMARKED] = "sigkill_unmarked",
    [CAPTURE_C_EXIT_WALKS] = "exit_walks",
    [CAPTURE_C_EXIT_NO_MM] = "exit_no_mm",
    [CAPTURE_C_VICTIM_MAP_FULL] = "victim_map_full",
    [CAPTURE_C_CORRUPT] = "corrupt",
    [CAPTURE_C_SPIN_TIMEOUTS] = "wait_timeouts",
    [CAPTURE_C_PROCS_PRUNED] = "procs_pruned",
    [CAPTURE_C_EXITS_TRUNCATED] = "exits_truncated",
    [CAPTURE_C_REMARKS] = "remarks",
    [CAPTURE_C_MARK_WAITS] = "mark_waits",
    [CAPTURE_C_MARK_WAIT_MISSES] = "mark_wait_misses",
    [CAPTURE_C_REJECTED] = "rejected",
    [CAPTURE_C_ORPHANS] = "orphans",
    [CAPTURE_C_PROFILES] = "profiles",
    [CAPTURE_C_OVERFLOW] = "overflow",
    [CAPTURE_C_SPIN_LIMITED] = "spin_budget_spent",
};

const char *capture_counter_name(enum capture_counter c)
{
	return (unsigned)c < CAPTURE_C_MAX && counter_names[c] ? counter_names[c] : "?";
}

/* The "memlock:" line of a map fd's fdinfo: the kernel's own accounting. */
static uint64_t map_memlock(int fd)
{
	char path[64], line[128];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lu", &v) == 1)
			break;
	fclose(f);
	return v;
}

int capture_stats(struct capture *cap, struct capture_stats *st)
{
	struct bpf_map *map;
	int ncpu, fd;

	if (!cap || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	for (int i = CAPTURE_C_KERNEL_MAX; i < CAPTURE_C_MAX; i++)
		st->c[i] = cap->user[i];
	if (!cap->skel)
		return 0;
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	{
		uint64_t vals[ncpu];

		fd = bpf_map__fd(cap->skel->maps.metrics);
		for (__u32 k = 0; k < OP_M_MAX; k++) {
			if (bpf_map_lookup_elem(fd, &k, vals))
				continue;
			for (int c = 0; c < ncpu; c++)
				st->c[k] += vals[c];
		}
	}
	bpf_object__for_each_map(map, cap->skel->obj)
	{
		fd = bpf_map__fd(map);
		if (fd >= 0)
			st->maps_kernel_bytes += map_memlock(fd);
	}
	return 0;
}
