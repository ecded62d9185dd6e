// SPDX-License-Identifier: GPL-2.0
/*
 * oomprof kernel side: capture a Go process's memory-profile buckets when the OOM
 * killer chooses it.
 *
 *   oom/mark_victim         (allocating task's context) mark the victim by tgid,
 *                           emit a VICTIM record for every victim
 *   signal/signal_deliver   (victim's threads, SIGKILL only) walk runtime.mbuckets with
 *                           bpf_loop, stream BEGIN, BUCKET..., END
 *   sched/sched_process_exit (each exiting thread; before exit_mm on 6.16+) continue an
 *                           unfinished walk; on the last thread: end the capture, prune
 *                           the process entry, emit EXIT
 *   sched/sched_process_exec emit EXEC for discovery
 *
 * tp_btf variants are preferred (tgid of the victim, cheaper SIGURG fast path); the
 * loader switches them off for classic tracepoints when the kernel refuses them.
 * Everything read from the process is hostile: every read checked, every loop bounded.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "oomprof.h"

char LICENSE[] SEC("license") = "GPL";

#define SIGKILL	      9
#define PAGE_SHIFT    12
#define NSEC_PER_TICK 10000000ULL /* USER_HZ = 100: /proc/PID/stat starttime unit */

#define EEXIST	  17
#define PAGE_SIZE (1ULL << PAGE_SHIFT)

/* Tunables, set by the loader between open and load. */
const volatile __u32 cfg_max_depth = OP_MAX_DEPTH;   /* PCs kept per bucket */
const volatile __u32 cfg_max_buckets = 1 << 20;	     /* per capture; bounds cycles */
const volatile __u32 cfg_budget = 1 << 16;	     /* buckets per invocation */
const volatile __u64 cfg_wait_ns = 50000000;	     /* ring-space wait per invocation */
const volatile __u64 cfg_total_wait_ns = 1000000000; /* ... per victim */
const volatile __u64 cfg_claim_wait_ns = 60000000;   /* last thread waiting for a walker */
const volatile bool cfg_classic_victim = false;	     /* mark_victim keyed by tid */
const volatile bool cfg_exit_walk = true;	     /* continue walks at process exit */
const volatile __u64 cfg_mark_wait_ns = 10000000;    /* last thread waiting for the mark */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct op_proc);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct op_victim);
} victims SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} profile SEC(".maps");

/* A bucket as read from the process. */
struct wbucket {
	__u64 mem[OP_MEMRECORD_WORDS];
	__u64 pcs[OP_MAX_DEPTH];
};

#define OUT_SIZE (sizeof(struct op_rec_bucket) + (OP_MEMRECORD_WORDS + OP_MAX_DEPTH) * 8)

/* Two read buffers per CPU, used alternately: the previous bucket's stack stays
 * available to find the outer frames the next one shares with it; and the record
 * being sent. */
struct scratch {
	struct wbucket w[2];
	__u64 out[OUT_SIZE / 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* sched_process_exit itself, set by the loader: run again once a late mark came. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} exit_again SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OP_M_MAX);
	__type(key, __u32);
	__type(value, __u64);
} metrics SEC(".maps");

static __always_inline void count(__u32 m)
{
	__u64 *v = bpf_map_lookup_elem(&metrics, &m);

	if (v)
		*v += 1;
}

static __always_inline __u64 start_ticks(struct task_struct *task)
{
	return BPF_CORE_READ(task, group_leader, start_boottime) / NSEC_PER_TICK;
}

/* The registered process tgid, unless the entry belongs to an earlier process of
 * the same pid (start time differs). */
static __always_inline struct op_proc *lookup_proc(__u32 tgid, __u64 ticks)
{
	struct op_proc *p = bpf_map_lookup_elem(&procs, &tgid);

	if (p && p->start_ticks && ticks && p->start_ticks != ticks)
		return NULL;
	return p;
}

/* ---- mark_victim ---------------------------------------------------------------- */

/* ---- one death, one capture (claim / join) ---- */

/* Starts the capture of a registered process. 0, or -EEXIST when another CPU marked
 * the same process first (the caller joins that capture). */
static __always_inline long mark_registered(__u32 tgid, __u64 id, struct op_proc *p)
{
	struct op_victim v = {};
	long err;

	v.id = id;
	v.tgid = tgid;
	v.state = OP_VS_MARKED;
	v.proc = *p;
	err = bpf_map_update_elem(&victims, &tgid, &v, BPF_NOEXIST);
	if (err && err != -EEXIST)
		count(OP_M_VICTIM_MAP_FULL);
	if (!err)
		count(OP_M_VICTIMS_GO);
	return err;
}

/* The capture under way (or done) for this very process, or NULL. An entry left by an
 * earlier process of the same pid (start time differs) is dropped. */
static __always_inline struct op_victim *capture_of(__u32 tgid, __u64 ticks)
{
	struct op_victim *v = bpf_map_lookup_elem(&victims, &tgid);

	if (!v || (v->flags & OP_VF_BY_TID))
		return NULL;
	if (v->proc.start_ticks && ticks && v->proc.start_ticks != ticks) {
		bpf_map_delete_elem(&victims, &tgid);
		return NULL;
	}
	return v;
}

/*
 * A mark of process tgid: TIF_MEMDIE is per thread, so the OOM killer can mark
 * several threads of one dying process (an exiting thread that allocates is marked
 * itself). The first mark starts the capture; every later one joins it: *id becomes
 * the first mark's id and OP_F_REPEAT is returned with OP_F_REGISTERED. Returns the
 * VICTIM record's flags (0: not a registered process).
 */
static __always_inline __u16 claim_death(__u32 tgid, __u64 ticks, __u64 *id)
{
	struct op_victim *v = capture_of(tgid, ticks);
	struct op_proc *p;

	if (!v) {
		p = lookup_proc(tgid, ticks);
		if (!p)
			return 0;
		if (mark_registered(tgid, *id, p) != -EEXIST)
			return OP_F_REGISTERED;
		v = capture_of(tgid, ticks);
		if (!v)
			return OP_F_REGISTERED;
	}
	*id = v->id;
	count(OP_M_REMARKS);
	return OP_F_REGISTERED | OP_F_REPEAT;
}

/* mm_struct before 6.2: rss_stat was a struct of atomic_long_t (no percpu_counter). */
struct mm_rss_stat___old {
	atomic_long_t count[NR_MM_COUNTERS];
} __attribute__((preserve_access_index));

struct mm_struct___old {
	struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

static __always_inline __u64 pages_kb(__s64 pages)
{
	return (__u64)(pages > 0 ? pages : 0) << (PAGE_SHIFT - 10);
}

/* The same figures the classic tracepoint computes (kB), with the mm layout of the
 * running kernel: percpu_counter[] from 6.2 (its approximate total, as
 * get_mm_counter reads it), struct mm_rss_stat before. */
static __always_inline void read_rss(struct op_rss *r, struct mm_struct *mm)
{
	if (bpf_core_type_exists(struct mm_rss_stat___old)) {
		struct mm_struct___old *old = (void *)mm;

		r->anon_rss_kb = pages_kb(BPF_CORE_READ(old, rss_stat.count[MM_ANONPAGES].counter));
		r->file_rss_kb = pages_kb(BPF_CORE_READ(old, rss_stat.count[MM_FILEPAGES].counter));
		r->shmem_rss_kb =
		    pages_kb(BPF_CORE_READ(old, rss_stat.count[MM_SHMEMPAGES].counter));
	} else {
		r->anon_rss_kb = pages_kb(BPF_CORE_READ(mm, rss_stat[MM_ANONPAGES].count));
		r->file_rss_kb = pages_kb(BPF_CORE_READ(mm, rss_stat[MM_FILEPAGES].count));
		r->shmem_rss_kb = pages_kb(BPF_CORE_READ(mm, rss_stat[MM_SHMEMPAGES].count));
	}
	r->total_vm_kb = BPF_CORE_READ(mm, total_vm) << (PAGE_SHIFT - 10);
	r->pgtables_kb = BPF_CORE_READ(mm, pgtables_bytes.counter) >> 10;
}

/* tp_btf: only on kernels whose mark_victim passes the task (6.9+; before, only a pid):
 * the loader checks the tracepoint's BTF before choosing this program. */
SEC("tp_btf/mark_victim")
int BPF_PROG(mark_victim_btf, struct task_struct *task, uid_t uid)
{
	struct op_rec_victim *r;
	struct mm_struct *mm;
	__u32 tgid = task->tgid;
	__u64 id = bpf_ktime_get_ns();
	__u16 flags;

	count(OP_M_VICTIMS);
	flags = claim_death(tgid, start_ticks(task), &id);

	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(OP_M_EVENTS_DROPPED);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->hdr.type = OP_REC_VICTIM;
	r->hdr.flags = flags;
	r->hdr.tgid = tgid;
	r->hdr.id = id;
	r->pid = task->pid;
	r->uid = uid;
	mm = task->mm;
	if (mm) {
		struct op_rss rss = {};

		read_rss(&rss, mm);
		r->total_vm_kb = rss.total_vm_kb;
		r->anon_rss_kb = rss.anon_rss_kb;
		r->file_rss_kb = rss.file_rss_kb;
		r->shmem_rss_kb = rss.shmem_rss_kb;
		r->pgtables_kb = rss.pgtables_kb;
	}
	r->oom_score_adj = task->signal->oom_score_adj;
	bpf_probe_read_kernel_str(r->comm, sizeof(r->comm), task->comm);
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* The classic tracepoint had only pid until 6.9 (some stable kernels carry the
 * backport): every other field is read only where the running kernel has it. */
static __always_inline void read_classic_fields(struct op_rec_victim *r,
						struct trace_event_raw_mark_victim *ctx)
{
	if (bpf_core_field_exists(ctx->uid))
		r->uid = BPF_CORE_READ(ctx, uid);
	if (bpf_core_field_exists(ctx->total_vm))
		r->total_vm_kb = BPF_CORE_READ(ctx, total_vm);
	if (bpf_core_field_exists(ctx->anon_rss))
		r->anon_rss_kb = BPF_CORE_READ(ctx, anon_rss);
	if (bpf_core_field_exists(ctx->file_rss))
		r->file_rss_kb = BPF_CORE_READ(ctx, file_rss);
	if (bpf_core_field_exists(ctx->shmem_rss))
		r->shmem_rss_kb = BPF_CORE_READ(ctx, shmem_rss);
	if (bpf_core_field_exists(ctx->pgtables))
		r->pgtables_kb = BPF_CORE_READ(ctx, pgtables);
	if (bpf_core_field_exists(ctx->oom_score_adj))
		r->oom_score_adj = BPF_CORE_READ(ctx, oom_score_adj);
	if (bpf_core_field_exists(ctx->__data_loc_comm)) {
		__u32 off = BPF_CORE_READ(ctx, __data_loc_comm) & 0xffff;

		bpf_probe_read_kernel_str(r->comm, sizeof(r->comm), (void *)ctx + off);
	}
}

/* Classic fallback: only the (thread) pid of the victim is known here, so the entry
 * is keyed by it and re-keyed by tgid when that thread takes its SIGKILL. */
SEC("tracepoint/oom/mark_victim")
int mark_victim_tp(struct trace_event_raw_mark_victim *ctx)
{
	struct op_rec_victim *r;
	struct op_victim v = {};
	__u32 pid = ctx->pid;
	__u64 id = bpf_ktime_get_ns();

	count(OP_M_VICTIMS);
	v.id = id;
	v.tgid = pid;
	v.flags = OP_VF_BY_TID;
	v.state = OP_VS_MARKED;
	if (bpf_map_update_elem(&victims, &pid, &v, BPF_NOEXIST))
		count(OP_M_VICTIM_MAP_FULL);

	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(OP_M_EVENTS_DROPPED);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->hdr.type = OP_REC_VICTIM;
	r->hdr.flags = OP_F_TGID_UNKNOWN;
	r->hdr.tgid = pid;
	r->hdr.id = id;
	r->pid = pid;
	read_classic_fields(r, ctx);
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* ---- the walk -------------------------------------------------------------------- */

struct walk {
	__u64 id;
	__u64 addr;	/* next bucket */
	__u64 deadline; /* ring-space waits stop here */
	__u64 wait_ns;
	__u32 tgid;
	__u32 n;      /* buckets sent in this capture */
	__u32 full;   /* ring-full events */
	__u32 done;   /* the walk has ended (status, reason valid) */
	__u32 paused; /* stopped early, cursor valid */
	__u32 status;
	__u32 reason;
	__u32 need;	 /* bytes the waiting record needs */
	__u32 parity;	 /* scratch buffer of the next bucket */
	__u32 prev_npcs; /* PCs of the previous bucket sent in this invocation, 0: none */
};

struct cmp {
	__u64 *cur, *prev;
	__u32 ncur, nprev;
	__u32 shared;
};

#define CMP_BLOCK 8

/* bpf_loop callback: count the outer PCs two stacks have in common, comparing a
 * block of CMP_BLOCK PCs per iteration (iterations cost more than compares). */
static long cmp_block(__u32 i, struct cmp *c)
{
	__u32 done = i * CMP_BLOCK, lim = c->ncur < c->nprev ? c->ncur : c->nprev;

#pragma unroll
	for (int k = 0; k < CMP_BLOCK; k++) {
		__u32 a = c->ncur - 1 - done - k, b = c->nprev - 1 - done - k;

		if (done + k >= lim || a >= OP_MAX_DEPTH || b >= OP_MAX_DEPTH)
			return 1;
		if (c->cur[a] != c->prev[b])
			return 1;
		c->shared = done + k + 1;
	}
	return 0;
}

static __always_inline long finish(struct walk *w, __u32 status, __u32 reason)
{
	w->done = 1;
	w->status = status;
	w->reason = reason;
	return 1;
}

/* bpf_loop callback: spin until the profile ring has room for w->need bytes or the
 * deadline passes. */
static long wait_space(__u32 i, struct walk *w)
{
	__u64 size = bpf_ringbuf_query(&profile, BPF_RB_RING_SIZE);
	__u64 used = bpf_ringbuf_query(&profile, BPF_RB_AVAIL_DATA);

	if (used + w->need + 64 <= size)
		return 1;
	if (bpf_ktime_get_ns() >= w->deadline)
		return 1;
	return 0;
}

/*
 * Reads a bucket's memRecord (at src) into mem. The runtime writes only the cycles it
 * counts into, in memory persistentalloc took fresh from mmap: the record of the
 * newest bucket can cross into a page nothing has touched yet, which is not mapped,
 * and a non-faulting read of the whole record fails although its content is zero.
 * So the part before the page boundary and the rest are read separately; a failed
 * second read leaves zeros (bpf_probe_read_user clears its buffer on failure), which
 * is what an untouched page holds. Branch-free, so that the verifier sees one path.
 * 0, or the first read's error.
 */
static __always_inline long read_memrecord(__u64 *mem, __u64 src)
{
	__u64 head = PAGE_SIZE - (src & (PAGE_SIZE - 1)); /* bytes before the next page */
	__s64 over = (__s64)(OP_MEMRECORD_WORDS * 8) - (__s64)head;
	__u64 first, rest;

	asm volatile("" : "+r"(over));
	first = head + (over & (over >> 63)); /* min(head, record size) */
	first &= 255;			      /* bounds for the verifier: first <= 128 */
	rest = (OP_MEMRECORD_WORDS * 8 - first) & 255;
	if (bpf_probe_read_user(mem, first, (void *)src))
		return -1;
	bpf_probe_read_user((char *)mem + first, rest, (void *)(src + first));
	return 0;
}

/* Outer PCs shared by two stacks, without bpf_loop (kernels before 5.17): branch-free
 * over the outermost SHARED_MAX frames, so the verifier sees one path. Counting fewer
 * shared frames than there are only sends more PCs. */
#define SHARED_MAX 128

static __always_inline __u32 shared_bounded(const __u64 *cur, const __u64 *prev, __u32 ncur,
					    __u32 nprev)
{
	__u64 lim = ncur < nprev ? ncur : nprev, shared = 0, eq = 1;

	for (__u32 k = 0; k < SHARED_MAX; k++) {
		__u32 a = (ncur - 1 - k) & (OP_MAX_DEPTH - 1),
		      b = (nprev - 1 - k) & (OP_MAX_DEPTH - 1);
		__u64 in = k - lim, diff = cur[a] ^ prev[b];

		/* in: 1 while k < lim (the difference is negative); same: 1 when diff is 0.
		 * The empty asm keeps clang from turning either back into a branch. */
		asm volatile("" : "+r"(in), "+r"(diff));
		in >>= 63;
		diff = (diff | -diff) >> 63;
		eq &= in & (diff ^ 1);
		shared += eq;
	}
	return shared;
}

/* shared_bounded on this CPU's scratch buffers (cur = w[parity], prev = the other): a
 * global function, so that the verifier checks its loop once, not once per path into
 * it. */
__noinline int bounded_shared(__u32 parity, __u32 ncur, __u32 nprev)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);

	if (!s || ncur > OP_MAX_DEPTH || nprev > OP_MAX_DEPTH || !ncur || !nprev)
		return 0;
	return shared_bounded(s->w[parity & 1].pcs, s->w[(parity & 1) ^ 1].pcs, ncur, nprev);
}

/* Read and send one bucket; returns 1 to stop. bounded: no bpf_loop anywhere (the
 * caller's program must load on kernels without it), and no waiting for ring space: a
 * full ring pauses the walk, which the victim's next invocation continues. */
static __always_inline long walk_bucket(struct walk *w, bool bounded)
{
	__u64 h[OP_BUCKET_HDR_SIZE / 8];
	struct op_rec_bucket *o;
	struct wbucket *cur;
	struct scratch *s;
	__u32 zero = 0, npcs, nsend, shared = 0, size, k = 0;
	__u64 nstk, addr = w->addr;
	__u16 mask = 0;

	if (!addr)
		return finish(w, OP_ST_COMPLETE, OP_END_LIST_END);
	if (w->n >= cfg_max_buckets)
		return finish(w, OP_ST_TRUNCATED, OP_END_MAX_BUCKETS);
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 1;
	cur = &s->w[w->parity & 1];
	o = (void *)s->out;

	if (bpf_probe_read_user(h, sizeof(h), (void *)addr)) {
		count(OP_M_READ_ERRORS);
		return finish(w, OP_ST_READ_ERROR, OP_END_READ_BUCKET);
	}
	if (h[2] != OP_GO_BUCKET_MEMORY)
		return finish(w, OP_ST_CORRUPT, OP_END_BAD_TYPE);
	nstk = h[5];
	if (nstk > OP_MAX_DEPTH)
		return finish(w, OP_ST_CORRUPT, OP_END_BAD_NSTK);
	npcs = nstk < cfg_max_depth ? nstk : cfg_max_depth;
	if (npcs > OP_MAX_DEPTH) /* for the verifier */
		npcs = OP_MAX_DEPTH;
	if (bpf_probe_read_user(cur->pcs, npcs * sizeof(__u64),
				(void *)(addr + OP_BUCKET_HDR_SIZE)) ||
	    read_memrecord(cur->mem, addr + OP_BUCKET_HDR_SIZE + nstk * sizeof(__u64))) {
		count(OP_M_READ_ERRORS);
		return finish(w, OP_ST_READ_ERROR, OP_END_READ_BUCKET);
	}

	/* Send only the inner frames that differ from the previous bucket's stack; the
	 * outer frames it shares are rebuilt in userspace from that bucket (index - 1). */
	if (bounded && w->prev_npcs && npcs) {
		__u32 lim = npcs < w->prev_npcs ? npcs : w->prev_npcs;

		shared = bounded_shared(w->parity, npcs, w->prev_npcs);
		if (shared > lim)
			shared = lim;
	} else if (!bounded && w->prev_npcs && npcs) {
		struct wbucket *prev = &s->w[(w->parity & 1) ^ 1];
		struct cmp c = {
		    .cur = cur->pcs, .prev = prev->pcs, .ncur = npcs, .nprev = w->prev_npcs};
		__u32 lim = npcs < w->prev_npcs ? npcs : w->prev_npcs;

		bpf_loop((lim + CMP_BLOCK - 1) / CMP_BLOCK, cmp_block, &c, 0);
		shared = c.shared;
	}
	nsend = npcs - shared;
	asm volatile("" : "+r"(nsend)); /* keep the bound check below for the verifier */
	if (nsend > OP_MAX_DEPTH)
		return finish(w, OP_ST_CORRUPT, OP_END_BAD_NSTK); /* cannot happen */

	o->hdr.type = OP_REC_BUCKET;
	o->hdr.flags = npcs < nstk ? OP_F_STACK_TRUNCATED : 0;
	o->hdr.tgid = w->tgid;
	o->hdr.id = w->id;
	o->addr = addr;
	o->size = h[4];
	o->index = w->n;
	o->nstk = nstk;
	o->npcs = npcs;
	o->shared = npcs - nsend;
	o->pad0 = 0;
	/* Most memRecord words are zero: send the others only. Branch-free, so that
	 * the verifier sees one path, not 2^16. */
#pragma unroll
	for (int j = 0; j < OP_MEMRECORD_WORDS; j++) {
		__u64 v = cur->mem[j], nz = v | -v;

		asm volatile("" : "+r"(nz)); /* or clang turns it back into a branch */
		nz >>= 63;		     /* 1 when v != 0 */

		o->data[k & (OP_MEMRECORD_WORDS - 1)] = v;
		k += nz;
		mask |= nz << j;
	}
	o->mem_mask = mask;
	if (k > OP_MEMRECORD_WORDS) /* for the verifier */
		return 1;
	if (nsend && bpf_probe_read_kernel(&o->data[k], nsend * sizeof(__u64), cur->pcs))
		return finish(w, OP_ST_READ_ERROR, OP_END_READ_BUCKET);
	size = sizeof(*o) + (k + nsend) * sizeof(__u64);

	if (bounded && bpf_ringbuf_output(&profile, o, size, 0)) {
		w->full++;
		count(OP_M_PROFILE_FULL);
		w->paused = 1;
		w->prev_npcs = 0;
		return 1; /* cursor stays on this bucket */
	}
	if (!bounded && bpf_ringbuf_output(&profile, o, size, 0)) {
		__u64 t0 = bpf_ktime_get_ns();

		w->full++;
		count(OP_M_PROFILE_FULL);
		/* Back-pressure, bounded: the consumer drains on another CPU while this
		 * thread of the dying process waits. */
		w->need = size;
		bpf_loop(1 << 20, wait_space, w, 0);
		w->wait_ns += bpf_ktime_get_ns() - t0;
		if (bpf_ringbuf_output(&profile, o, size, 0)) {
			count(OP_M_SPIN_TIMEOUTS);
			w->paused = 1;
			w->prev_npcs = 0;
			return 1; /* cursor stays on this bucket */
		}
	}
	count(OP_M_BUCKETS);
	w->n++;
	w->parity ^= 1;
	w->prev_npcs = npcs;
	if (h[1] == addr)
		return finish(w, OP_ST_CORRUPT, OP_END_SELF_LOOP);
	w->addr = h[1];
	return 0;
}

/* bpf_loop callback: read and send one bucket. Returns 1 to stop. */
static long walk_one(__u32 i, struct walk *w)
{
	return walk_bucket(w, false);
}

/* with_rss: also read the victim's rss (its own context): the bounded family only,
 * where mark_victim has none (classic tracepoint before 6.9); the bpf_loop programs are
 * near the verifier's limit of processed instructions. */
static __always_inline void send_begin(struct op_victim *v, bool with_rss)
{
	struct mm_struct *mm;
	struct op_rec_begin *r;
	__u64 head = 0;
	__s64 rate = 0;
	__u32 cycle = 0;
	__u16 flags = 0;

	if (bpf_probe_read_user(&rate, sizeof(rate), (void *)v->proc.mem_profile_rate_addr))
		flags |= OP_F_RATE_UNREADABLE;
	if (bpf_probe_read_user(&cycle, sizeof(cycle), (void *)v->proc.prof_cycle_addr))
		flags |= OP_F_CYCLE_UNREADABLE;
	if (bpf_probe_read_user(&head, sizeof(head), (void *)v->proc.mbuckets_addr)) {
		count(OP_M_READ_ERRORS);
		v->state = OP_VS_ENDING;
		v->status = OP_ST_READ_ERROR;
		v->reason = OP_END_READ_HEAD;
	} else {
		v->state = OP_VS_WALKING;
		v->cursor = head;
	}

	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(OP_M_EVENTS_DROPPED);
		return;
	}
	r->hdr.type = OP_REC_BEGIN;
	r->hdr.flags = flags;
	r->hdr.tgid = v->tgid;
	r->hdr.id = v->id;
	r->mbuckets_head = head;
	r->mem_profile_rate = rate;
	r->prof_cycle = cycle;
	r->pad0 = 0;
	r->ktime = bpf_ktime_get_ns();
	__builtin_memset(&r->rss, 0, sizeof(r->rss));
	mm = with_rss ? BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), mm) : NULL;
	if (mm)
		read_rss(&r->rss, mm);
	bpf_ringbuf_submit(r, 0);
}

static __always_inline int send_end(struct op_victim *v)
{
	struct op_rec_end *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);

	if (!r) {
		count(OP_M_EVENTS_DROPPED);
		return -1;
	}
	r->hdr.type = OP_REC_END;
	r->hdr.flags = 0;
	r->hdr.tgid = v->tgid;
	r->hdr.id = v->id;
	r->status = v->status;
	r->reason = v->reason;
	r->nbuckets = v->nbuckets;
	r->invocations = v->invocations;
	r->walk_ns = v->walk_ns;
	r->ktime = bpf_ktime_get_ns();
	r->last_addr = v->last_addr;
	r->ringbuf_full = v->ringbuf_full;
	r->pad0 = 0;
	r->wait_ns = v->wait_ns;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* Walk as far as this invocation may, under the claim. The caller holds the claim. */
/* last: the process's last thread, the last chance to finish: it may use all of the
 * victim's remaining wait budget. */
static __always_inline void walk_claimed(struct op_victim *v, bool last)
{
	struct walk w = {};
	__u64 t0, wait_left = 0;

	if (v->state == OP_VS_MARKED)
		send_begin(v, false);
	if (v->state == OP_VS_WALKING) {
		w.id = v->id;
		w.tgid = v->tgid;
		w.addr = v->cursor;
		w.n = v->nbuckets;
		t0 = bpf_ktime_get_ns();
		if (v->wait_ns < cfg_total_wait_ns)
			wait_left = cfg_total_wait_ns - v->wait_ns;
		if (!last && wait_left > cfg_wait_ns)
			wait_left = cfg_wait_ns;
		w.deadline = t0 + wait_left;

		bpf_loop(cfg_budget, walk_one, &w, 0);

		v->walk_ns += bpf_ktime_get_ns() - t0 - w.wait_ns;
		v->wait_ns += w.wait_ns;
		v->invocations++;
		v->cursor = w.addr;
		v->last_addr = w.addr;
		v->nbuckets = w.n;
		v->ringbuf_full += w.full;
		count(OP_M_WALKS);
		if (w.done) {
			v->status = w.status;
			v->reason = w.reason;
			v->state = OP_VS_ENDING;
			if (w.status == OP_ST_CORRUPT)
				count(OP_M_CORRUPT);
		}
	}
	if (v->state == OP_VS_ENDING && !send_end(v))
		v->state = OP_VS_DONE;
}

static __always_inline bool claim(struct op_victim *v)
{
	return __sync_val_compare_and_swap(&v->claim, 0, 1) == 0;
}

static __always_inline void release(struct op_victim *v)
{
	__sync_fetch_and_and(&v->claim, 0);
}

static __always_inline void walk(struct op_victim *v)
{
	if (v->state == OP_VS_DONE)
		return;
	if (!claim(v)) {
		count(OP_M_CLAIM_BUSY);
		return;
	}
	walk_claimed(v, false);
	release(v);
}

/* Classic mode: the marked thread re-keys its entry by tgid, and the process's
 * registration is checked now that the tgid is known. */
static __always_inline struct op_victim *rekey(__u32 tid, __u32 tgid)
{
	struct task_struct *task;
	struct op_victim *v;
	struct op_proc *p;
	__u64 id;
	long err;

	v = bpf_map_lookup_elem(&victims, &tid);
	if (!v || !(v->flags & OP_VF_BY_TID))
		return NULL;
	id = v->id;
	bpf_map_delete_elem(&victims, &tid);
	task = (struct task_struct *)bpf_get_current_task();
	p = lookup_proc(tgid, start_ticks(task));
	if (!p)
		return NULL;
	err = mark_registered(tgid, id, p);
	if (err == -EEXIST) {
		/* Another thread's mark came first: one death, one capture. */
		count(OP_M_REMARKS);
		return capture_of(tgid, p->start_ticks);
	}
	return err ? NULL : bpf_map_lookup_elem(&victims, &tgid);
}

static __always_inline struct op_victim *find_victim(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct op_victim *v = bpf_map_lookup_elem(&victims, &tgid);

	if (v && !(v->flags & OP_VF_BY_TID))
		return v;
	if (cfg_classic_victim)
		return rekey(tid, tgid);
	return NULL;
}

/* ---- signal_deliver --------------------------------------------------------------- */

static __always_inline int on_sigkill(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct op_victim *v = find_victim(pid_tgid);

	if (!v) {
		__u32 tgid = pid_tgid >> 32;

		/* Sent before mark_victim runs (or an ordinary kill -9): sched_process_exit
		 * is the next chance. */
		if (bpf_map_lookup_elem(&procs, &tgid))
			count(OP_M_SIGKILL_UNMARKED);
		return 0;
	}
	walk(v);
	return 0;
}

SEC("tp_btf/signal_deliver")
int BPF_PROG(signal_deliver_btf, int sig)
{
	if (sig != SIGKILL)
		return 0;
	return on_sigkill();
}

SEC("tracepoint/signal/signal_deliver")
int signal_deliver_tp(struct trace_event_raw_signal_deliver *ctx)
{
	if (ctx->sig != SIGKILL)
		return 0;
	return on_sigkill();
}

/* ---- exec / exit ------------------------------------------------------------------ */

SEC("tracepoint/sched/sched_process_exec")
int sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct op_rec_exec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	__u32 off;

	if (!r) {
		count(OP_M_EVENTS_DROPPED);
		return 0;
	}
	r->hdr.type = OP_REC_EXEC;
	r->hdr.flags = 0;
	r->hdr.tgid = bpf_get_current_pid_tgid() >> 32;
	r->hdr.id = bpf_ktime_get_ns();
	r->pid = ctx->pid;
	r->old_pid = ctx->old_pid;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	off = ctx->__data_loc_filename & 0xffff;
	if (bpf_probe_read_kernel_str(r->filename, sizeof(r->filename), (void *)ctx + off) < 0)
		r->filename[0] = 0;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

struct claim_wait {
	__u64 deadline;
	__u32 got;
};

static long claim_wait_cb(__u32 i, struct claim_wait *c)
{
	__u32 tgid = 0;
	struct op_victim *v;

	/* Pointers to map values cannot travel in the loop context: look up again. */
	tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	v = bpf_map_lookup_elem(&victims, &tgid);
	if (!v)
		return 1;
	if (claim(v)) {
		c->got = 1;
		return 1;
	}
	return bpf_ktime_get_ns() >= c->deadline;
}

/* True when the exiting thread is the last one of its process. */
static __always_inline bool is_group_dead(struct trace_event_raw_sched_process_exit *ctx,
					  struct task_struct *task)
{
	if (bpf_core_field_exists(ctx->group_dead))
		return ctx->group_dead;
	/* Older kernels: signal->live has already been decremented. */
	return BPF_CORE_READ(task, signal, live.counter) == 0;
}

static __always_inline int process_gone(struct task_struct *task, __u32 tgid, bool victim);

/* ---- exit continuation: the mark that comes after the threads ---- */

struct mark_wait {
	__u64 deadline;
	__u32 tgid;
	__u32 found;
};

static long mark_wait_cb(__u32 i, struct mark_wait *m)
{
	if (bpf_map_lookup_elem(&victims, &m->tgid)) {
		m->found = 1;
		return 1;
	}
	return bpf_ktime_get_ns() >= m->deadline;
}

/*
 * The OOM killer sends SIGKILL first and marks the victim after (mm/oom_kill.c,
 * __oom_kill_process, both under the victim's task_lock, so microseconds apart): the
 * threads can dequeue the signal and reach their exit before the mark, and the walk
 * would never start. The last thread of a registered process killed by SIGKILL waits
 * for the mark, boundedly (an ordinary kill -9 costs it cfg_mark_wait_ns), while it
 * still has the memory (sched_process_exit comes before exit_mm from 6.16). 1 when
 * the mark came. A global function: verified once, on its own.
 */
__noinline int await_mark(__u32 tgid)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mark_wait m = {.tgid = tgid};

	if (!cfg_mark_wait_ns || cfg_classic_victim || bpf_map_lookup_elem(&victims, &tgid) ||
	    !BPF_CORE_READ(task, mm) || BPF_CORE_READ(task, signal, group_exit_code) != SIGKILL ||
	    !lookup_proc(tgid, start_ticks(task)))
		return 0;
	count(OP_M_MARK_WAITS);
	m.deadline = bpf_ktime_get_ns() + cfg_mark_wait_ns;
	bpf_loop(1 << 20, mark_wait_cb, &m, 0);
	if (!m.found)
		count(OP_M_MARK_WAIT_MISSES);
	return m.found;
}

SEC("tracepoint/sched/sched_process_exit")
int sched_process_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	bool dead = is_group_dead(ctx, task);
	struct op_victim *v;

	v = find_victim(pid_tgid);
	if (v && v->state != OP_VS_DONE) {
		bool have_mm = BPF_CORE_READ(task, mm) != NULL;
		bool held = claim(v);

		if (!held && dead) {
			/* Another thread is still walking: wait for it, boundedly, so the
			 * END record comes after its buckets. */
			struct claim_wait c = {.deadline = bpf_ktime_get_ns() + cfg_claim_wait_ns};

			bpf_loop(1 << 20, claim_wait_cb, &c, 0);
			held = c.got;
			if (!held)
				count(OP_M_SPIN_TIMEOUTS);
		}
		if (held) {
			if (!have_mm)
				count(OP_M_EXIT_NO_MM);
			else if (cfg_exit_walk && v->state != OP_VS_DONE) {
				count(OP_M_EXIT_WALKS);
				walk_claimed(v, dead);
			}
			if (dead && v->state != OP_VS_DONE) {
				if (v->state != OP_VS_ENDING) {
					v->status = OP_ST_TRUNCATED;
					v->reason = OP_END_PROCESS_GONE;
					count(OP_M_EXITS_TRUNCATED);
				}
				if (!send_end(v))
					v->state = OP_VS_DONE;
			}
			release(v);
		} else {
			count(OP_M_CLAIM_BUSY);
		}
	}
	if (!dead)
		return 0;
	/* The mark still to come: wait for it, then run this program again, which now
	 * walks (here, after the walk, the wait costs the verifier little). */
	if (!v && await_mark(tgid))
		bpf_tail_call(ctx, &exit_again, 0);
	return process_gone(task, tgid, v != NULL);
}

/* The last thread of tgid is exiting: forget the victim and the process, emit EXIT. */
static __always_inline int process_gone(struct task_struct *task, __u32 tgid, bool victim)
{
	struct op_rec_exit *r;
	struct op_proc *p;
	__u64 ticks;

	if (victim)
		bpf_map_delete_elem(&victims, &tgid);
	ticks = start_ticks(task);
	p = lookup_proc(tgid, ticks);
	if (p) {
		bpf_map_delete_elem(&procs, &tgid);
		count(OP_M_PROCS_PRUNED);
	}
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(OP_M_EVENTS_DROPPED);
		return 0;
	}
	r->hdr.type = OP_REC_EXIT;
	r->hdr.flags = 0;
	r->hdr.tgid = tgid;
	r->hdr.id = bpf_ktime_get_ns();
	r->start_ticks = ticks;
	r->exit_code = BPF_CORE_READ(task, exit_code);
	r->pad0 = 0;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* ---- walks without bpf_loop (kernels 5.10-5.16) ------------------------------------
 *
 * The loader chooses these programs where bpf_loop (5.17) is missing; they use neither
 * bpf_loop nor atomics that return a value (5.12). A program run walks up to
 * BOUNDED_STEPS buckets in a bounded loop whose body is a global function (verified
 * once, not once per iteration), then continues in a fresh run by tail call, up to the
 * kernel's limit (33 runs); the victim's next threads continue from the saved cursor.
 * The claim is an entry of bounded_claims: inserting with BPF_NOEXIST succeeds for one
 * thread only.
 */
#define BOUNDED_STEPS 2048

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk);
} bounded_walk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} bounded_claims SEC(".maps");

/* Slot 0: walk_bounded_tail, set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bounded_next SEC(".maps");

static __always_inline bool claim_bounded(__u32 tgid)
{
	__u32 one = 1;

	return bpf_map_update_elem(&bounded_claims, &tgid, &one, BPF_NOEXIST) == 0;
}

static __always_inline void release_bounded(__u32 tgid)
{
	bpf_map_delete_elem(&bounded_claims, &tgid);
}

/* One bucket of tgid's walk, kept in this CPU's bounded_walk; 1 to stop. */
__noinline int bounded_step(__u32 tgid)
{
	__u32 zero = 0;
	struct walk *w = bpf_map_lookup_elem(&bounded_walk, &zero);

	if (!w || w->tgid != tgid)
		return 1;
	return walk_bucket(w, true);
}

/* Walks up to BOUNDED_STEPS buckets of v under the claim; true when more remain and
 * another run may go on at once (not at the end, not paused by a full ring). */
static __always_inline bool walk_claimed_bounded(struct op_victim *v)
{
	__u32 zero = 0;
	struct walk *w = bpf_map_lookup_elem(&bounded_walk, &zero);
	bool more = false;
	__u64 t0;

	if (!w)
		return false;
	if (v->state == OP_VS_MARKED)
		send_begin(v, true);
	if (v->state == OP_VS_WALKING) {
		__builtin_memset(w, 0, sizeof(*w));
		w->id = v->id;
		w->tgid = v->tgid;
		w->addr = v->cursor;
		w->n = v->nbuckets;
		t0 = bpf_ktime_get_ns();
		for (int i = 0; i < BOUNDED_STEPS; i++)
			if (bounded_step(v->tgid))
				break;
		v->walk_ns += bpf_ktime_get_ns() - t0;
		v->invocations++;
		v->cursor = w->addr;
		v->last_addr = w->addr;
		v->nbuckets = w->n;
		v->ringbuf_full += w->full;
		count(OP_M_WALKS);
		if (w->done) {
			v->status = w->status;
			v->reason = w->reason;
			v->state = OP_VS_ENDING;
			if (w->status == OP_ST_CORRUPT)
				count(OP_M_CORRUPT);
		} else {
			more = !w->paused;
		}
	}
	if (v->state == OP_VS_ENDING && !send_end(v))
		v->state = OP_VS_DONE;
	return more;
}

/* Walks, then goes on in a fresh run by tail call; the claim is released by the last
 * run (the code after a successful tail call never runs). */
static __always_inline int bounded_run(void *ctx, struct op_victim *v, __u32 tgid)
{
	if (walk_claimed_bounded(v))
		bpf_tail_call(ctx, &bounded_next, 0);
	release_bounded(tgid);
	return 0;
}

SEC("tracepoint/signal/signal_deliver")
int signal_deliver_bounded(struct trace_event_raw_signal_deliver *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct op_victim *v;

	if (ctx->sig != SIGKILL)
		return 0;
	v = find_victim(pid_tgid);
	if (!v) {
		if (bpf_map_lookup_elem(&procs, &tgid))
			count(OP_M_SIGKILL_UNMARKED);
		return 0;
	}
	if (v->state == OP_VS_DONE)
		return 0;
	if (!claim_bounded(tgid)) {
		count(OP_M_CLAIM_BUSY);
		return 0;
	}
	return bounded_run(ctx, v, tgid);
}

/* The tail-call target: the same walk, continued (not attached to any event). */
SEC("tracepoint")
int walk_bounded_tail(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct op_victim *v = bpf_map_lookup_elem(&victims, &tgid);

	if (!v) {
		release_bounded(tgid);
		return 0;
	}
	return bounded_run(ctx, v, tgid);
}

/* sched_process_exit without bpf_loop: continue the walk while the mm is still there
 * (6.16+ only; earlier kernels exit the mm first), end the capture on the last thread. A
 * last thread that finds another still walking does not wait for it: userspace ends
 * that capture when the EXIT record comes. */
SEC("tracepoint/sched/sched_process_exit")
int sched_process_exit_bounded(struct trace_event_raw_sched_process_exit *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	bool dead = is_group_dead(ctx, task);
	struct op_victim *v = find_victim(pid_tgid);

	if (v && v->state != OP_VS_DONE) {
		if (claim_bounded(tgid)) {
			if (!BPF_CORE_READ(task, mm))
				count(OP_M_EXIT_NO_MM);
			else if (cfg_exit_walk) {
				count(OP_M_EXIT_WALKS);
				walk_claimed_bounded(v);
			}
			if (dead && v->state != OP_VS_DONE) {
				if (v->state != OP_VS_ENDING) {
					v->status = OP_ST_TRUNCATED;
					v->reason = OP_END_PROCESS_GONE;
					count(OP_M_EXITS_TRUNCATED);
				}
				if (!send_end(v))
					v->state = OP_VS_DONE;
			}
			release_bounded(tgid);
		} else {
			count(OP_M_CLAIM_BUSY);
		}
	}
	if (!dead)
		return 0;
	return process_gone(task, tgid, v != NULL);
}
