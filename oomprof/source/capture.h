/*
 * Kill-time capture: loads the BPF programs of bpf/oomprof.bpf.c, keeps the table of
 * registered Go processes, consumes the ring buffers and reassembles each victim's
 * records into a struct raw_profile.
 *
 *   cap = capture_open(&opts)            open → probe → configure → load → attach
 *   capture_add_process(cap, tgid, &t)   for each Go process found by discovery
 *   capture_poll(cap, ms)                in a loop (or epoll on capture_fd())
 *   capture_close(cap)
 *
 * Callbacks run inside capture_poll. A profile is delivered when its END record has
 * arrived and everything before it has been consumed, or when the process is gone
 * without one (status truncated), or when its records stopped arriving for
 * opts.stale_ms: whatever was received is always delivered, exactly once.
 * Every count in a record is validated; hostile values cost one profile, never more.
 */
#ifndef OOMPROF_CAPTURE_H
#define OOMPROF_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oomprof/profile/rawprof.h"

/* Where a registered process keeps its profile (addresses in the process, PIE load
 * bias already added). */
struct capture_target {
	uint64_t mbuckets_addr;		/* runtime.mbuckets */
	uint64_t mem_profile_rate_addr; /* runtime.MemProfileRate */
	uint64_t prof_cycle_addr;	/* runtime.mProfCycle */
	uint64_t start_ticks;		/* /proc/PID/stat starttime; 0 = not checked (PID reuse) */
};

/* oom/mark_victim, for every victim (Go or not). Sizes in kB. */
struct capture_victim {
	pid_t pid;	 /* thread the OOM killer chose */
	pid_t tgid;	 /* its process; equals pid when tgid_known is false */
	bool tgid_known; /* false with the classic tracepoint fallback */
	bool registered; /* a registered process: a profile follows */
	bool repeat;	 /* another mark of a process already marked (TIF_MEMDIE is per
			  * thread): it joined that capture, whose id ktime_ns is */
	char comm[16];
	uint32_t uid;
	int16_t oom_score_adj;
	uint64_t total_vm_kb, anon_rss_kb, file_rss_kb, shmem_rss_kb, pgtables_kb;
	uint64_t ktime_ns; /* CLOCK_MONOTONIC of the mark; also the capture id */
};

/* A process's memory as the OOM killer reports it (kB). */
struct capture_rss {
	uint64_t total_vm_kb, anon_rss_kb, file_rss_kb, shmem_rss_kb, pgtables_kb;
};

/* Everything known about a delivered profile besides its buckets. */
struct capture_meta {
	pid_t tgid;
	uint64_t id; /* capture id: ktime of the mark */
	bool have_victim;
	struct capture_victim victim;
	bool have_begin, have_end, process_gone, stale;
	/* from the END record */
	uint32_t kernel_status, kernel_reason, kernel_nbuckets, invocations, ringbuf_full;
	uint64_t walk_ns, wait_ns;
	/* kernel times (CLOCK_MONOTONIC ns): walk start, END, delivery by userspace */
	uint64_t begin_ktime, end_ktime, delivered_ktime;
	/* the victim's memory read by its own thread at the walk's start (BEGIN) */
	struct capture_rss walk_rss;
	/* userspace validation */
	uint32_t missing;    /* bucket records lost (index gaps, fewer than END says) */
	uint32_t duplicates; /* bucket addresses seen twice (cycle in allnext) */
	uint32_t rejected;   /* malformed records ignored */
};

struct capture_callbacks {
	void (*on_victim)(const struct capture_victim *v, void *ctx);
	/* p and meta are valid during the call only. */
	void (*on_profile)(const struct raw_profile *p, const struct capture_meta *meta, void *ctx);
	void (*on_exec)(pid_t pid, pid_t old_pid, const char *comm, const char *filename,
			void *ctx);
	void (*on_exit)(pid_t tgid, uint64_t start_ticks, void *ctx); /* whole process gone */
	void *ctx;
};

struct capture_opts {
	struct capture_callbacks cb;
	/* 0 = default. Ring sizes are rounded up to a power of two of pages. */
	uint32_t profile_ringbuf_bytes; /* bucket data; default 8 MiB */
	uint32_t events_ringbuf_bytes;	/* control records; default 256 KiB */
	uint32_t max_procs;		/* registered processes; default 4096 */
	uint32_t max_victims;		/* victims in flight; default 256 */
	uint32_t max_depth;		/* PCs kept per bucket; default and max 1024 */
	uint32_t max_buckets;		/* per capture; default 1 << 20 */
	uint32_t budget;		/* buckets per walk invocation; default 65536 */
	uint32_t wait_ms;		/* ring-space wait per invocation; default 50, -1u = none */
	uint32_t total_wait_ms;		/* ... per victim; default 1000 (OOM reaper: 2 s) */
	uint32_t stale_ms;  /* deliver an unfinished capture after this; default 10000 */
	bool force_classic; /* do not use tp_btf programs */
	bool force_bounded; /* walk without bpf_loop even where the kernel has it */
	bool no_exit_walk;  /* do not continue walks in sched_process_exit */
	bool no_bpf;	    /* no kernel side: records come from capture_feed() (tests) */
};

struct capture;

/* NULL and errno on failure (EPERM without privileges, ENOSYS without BPF support). */
struct capture *capture_open(const struct capture_opts *opts);
/* Delivers nothing more; accepts NULL. */
void capture_close(struct capture *cap);

/* Register / unregister a process. 0 or -errno (-E2BIG when the table is full). */
int capture_add_process(struct capture *cap, pid_t tgid, const struct capture_target *t);
int capture_remove_process(struct capture *cap, pid_t tgid);

/* Waits up to timeout_ms for records and handles them (callbacks). Returns the number
 * of records handled, or -errno; -EINTR when a signal interrupted the wait. */
int capture_poll(struct capture *cap, int timeout_ms);
/* An fd that becomes readable when capture_poll has work (epoll). -1 with no_bpf. */
int capture_fd(const struct capture *cap);

/* Which program variants are in use: "tp_btf", "classic", "mixed" (tp_btf for one
 * hook only), with "-bounded" when the walk runs without bpf_loop. */
const char *capture_variant(const struct capture *cap);
/* One line for the start log: the kernel, the program chosen for each hook and why the
 * others were not used. */
const char *capture_description(const struct capture *cap);

enum capture_counter {
	CAPTURE_C_VICTIMS,
	CAPTURE_C_VICTIMS_GO,
	CAPTURE_C_EVENTS_DROPPED,
	CAPTURE_C_PROFILE_FULL,
	CAPTURE_C_READ_ERRORS,
	CAPTURE_C_BUCKETS,
	CAPTURE_C_WALKS,
	CAPTURE_C_CLAIM_BUSY,
	CAPTURE_C_SIGKILL_UNMARKED,
	CAPTURE_C_EXIT_WALKS,
	CAPTURE_C_EXIT_NO_MM,
	CAPTURE_C_VICTIM_MAP_FULL,
	CAPTURE_C_CORRUPT,
	CAPTURE_C_SPIN_TIMEOUTS,
	CAPTURE_C_PROCS_PRUNED,
	CAPTURE_C_EXITS_TRUNCATED,
	CAPTURE_C_REMARKS,
	CAPTURE_C_MARK_WAITS,
	CAPTURE_C_MARK_WAIT_MISSES,
	CAPTURE_C_KERNEL_MAX, /* the above mirror enum op_metric in bpf/oomprof.h */
	CAPTURE_C_REJECTED = CAPTURE_C_KERNEL_MAX, /* malformed records (userspace) */
	CAPTURE_C_ORPHANS,			   /* records of no capture in progress */
	CAPTURE_C_PROFILES,			   /* profiles delivered */
	CAPTURE_C_OVERFLOW,	/* captures refused: too many in flight, or out of memory */
	CAPTURE_C_SPIN_LIMITED, /* spin budget spent with a capture pending: blocking waits */
	CAPTURE_C_MAX,
};

struct capture_stats {
	uint64_t c[CAPTURE_C_MAX];
	uint64_t maps_kernel_bytes; /* memlock of every map, from /proc/self/fdinfo */
};

/* 0 or -errno. */
int capture_stats(struct capture *cap, struct capture_stats *st);
const char *capture_counter_name(enum capture_counter c);

/* Hands one record (as a ring buffer gives it) to the reassembly; the next
 * capture_flush (capture_poll does it) delivers finished profiles. For tests and
 * replay. 0, or -EINVAL for a malformed record (counted and ignored). */
int capture_feed(struct capture *cap, const void *rec, size_t len);
/* Delivers every profile that is finished: END seen or process gone; with
 * all = true also everything still in progress (as truncated). now_ms is a
 * CLOCK_MONOTONIC time in ms for staleness, 0 = now. Returns how many were delivered. */
int capture_flush(struct capture *cap, bool all, uint64_t now_ms);

#endif
