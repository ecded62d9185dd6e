/*
 * Record formats and configuration shared by the kernel programs (bpf/oomprof.bpf.c)
 * and userspace (oomprof/source/capture.c). Fixed-width types only, explicit padding, and no
 * includes: the BPF side gets __u32/__u64 from vmlinux.h, userspace from <linux/types.h>
 * (include that first). Sizes and offsets are checked with _Static_assert in capture.c.
 *
 * Two ring buffers:
 *   events   (small)  VICTIM, BEGIN, END, EXEC, EXIT — control records that must not be
 *                      lost behind a flood of bucket data
 *   profile  (large)  BUCKET records only
 * Every record starts with struct op_hdr. A capture is named by (tgid, id), id being
 * the kernel time (bpf_ktime_get_ns) at which the victim was marked.
 */
#ifndef OOMPROF_BPF_H
#define OOMPROF_BPF_H

/* Go records at most 1024 frames (GODEBUG=profstackdepth, 1.23+); 32 before 1.23. */
#define OP_MAX_DEPTH 1024
/* runtime.bucket header: next, allnext, typ, hash, size, nstk. */
#define OP_BUCKET_HDR_SIZE 48
/* runtime.memRecord: active + future[3], four u64 each. */
#define OP_MEMRECORD_WORDS  16
#define OP_GO_BUCKET_MEMORY 1 /* runtime.memProfile bucket type */
#define OP_COMM_LEN	    16
#define OP_FILENAME_LEN	    256

enum op_rec_type {
	OP_REC_VICTIM = 1,
	OP_REC_BEGIN = 2,
	OP_REC_BUCKET = 3,
	OP_REC_END = 4,
	OP_REC_EXEC = 5,
	OP_REC_EXIT = 6,
};

/* Capture status, same numbering as enum raw_status in oomprof/profile/rawprof.h. */
enum op_status {
	OP_ST_COMPLETE = 0,
	OP_ST_TRUNCATED = 1, /* stopped at a limit, or the process ended first */
	OP_ST_READ_ERROR = 2,
	OP_ST_CORRUPT = 3,
};

/* Why a walk ended (op_rec_end.reason), finer than the status. */
enum op_end_reason {
	OP_END_LIST_END = 0,	 /* allnext == 0: complete */
	OP_END_MAX_BUCKETS = 1,	 /* cfg_max_buckets reached (cycle or huge list) */
	OP_END_READ_HEAD = 2,	 /* runtime.mbuckets unreadable */
	OP_END_READ_BUCKET = 3,	 /* a bucket header, stack or memRecord unreadable */
	OP_END_BAD_TYPE = 4,	 /* typ != 1 */
	OP_END_BAD_NSTK = 5,	 /* nstk > OP_MAX_DEPTH */
	OP_END_SELF_LOOP = 6,	 /* allnext points at the bucket itself */
	OP_END_PROCESS_GONE = 7, /* last thread exited before the walk finished */
};

/* op_hdr.flags */
#define OP_F_STACK_TRUNCATED  0x1  /* bucket: nstk > cfg_max_depth, first PCs only */
#define OP_F_TGID_UNKNOWN     0x2  /* victim: classic tracepoint, pid may be a thread id */
#define OP_F_REGISTERED	      0x4  /* victim: a registered (Go) process: a capture follows */
#define OP_F_RATE_UNREADABLE  0x8  /* begin: MemProfileRate could not be read */
#define OP_F_CYCLE_UNREADABLE 0x10 /* begin: mProfCycle could not be read */
/* victim: another mark of a process already marked (TIF_MEMDIE is per thread); hdr.id
 * is the capture it joined */
#define OP_F_REPEAT 0x20

struct op_hdr {
	__u16 type;  /* enum op_rec_type */
	__u16 flags; /* OP_F_* */
	__u32 tgid;
	__u64 id; /* capture id (victim mark time); EXEC/EXIT: event time */
};

/* oom/mark_victim, for every victim. rss fields in kB as the tracepoint has them. */
struct op_rec_victim {
	struct op_hdr hdr;
	__u32 pid; /* thread the OOM killer chose (tid) */
	__u32 uid;
	__u64 total_vm_kb;
	__u64 anon_rss_kb;
	__u64 file_rss_kb;
	__u64 shmem_rss_kb;
	__u64 pgtables_kb;
	__s16 oom_score_adj;
	__u16 pad0;
	__u32 pad1;
	char comm[OP_COMM_LEN];
};

/* A process's memory as the OOM killer reports it (kB). */
struct op_rss {
	__u64 total_vm_kb;
	__u64 anon_rss_kb;
	__u64 file_rss_kb;
	__u64 shmem_rss_kb;
	__u64 pgtables_kb;
};

/* First record of a capture, sent when the walk starts. */
struct op_rec_begin {
	struct op_hdr hdr;
	__u64 mbuckets_head; /* value of runtime.mbuckets */
	__s64 mem_profile_rate;
	__u32 prof_cycle;
	__u32 pad0;
	__u64 ktime; /* walk start */
	/* read in the victim's own context: where mark_victim's context has no rss
	 * (the classic tracepoint before 6.9), this is the only reading */
	struct op_rss rss;
};

/* One runtime bucket. data[] holds the memRecord's nonzero words (bit i of mem_mask
 * set: word i of active[4] + future[3][4] is present; absent words are 0), then the
 * npcs - shared innermost return PCs. The whole stack is those PCs followed by the
 * last `shared` PCs of the bucket sent just before (index - 1, same capture); shared
 * is 0 for the first bucket of each walk invocation. */
struct op_rec_bucket {
	struct op_hdr hdr;
	__u64 addr; /* the bucket's address in the process */
	__u64 size;
	__u32 index; /* 0-based position in the walk */
	__u32 nstk;  /* as in the process */
	__u16 npcs;  /* PCs of the stack kept (<= nstk, <= cfg_max_depth) */
	__u16 shared;
	__u16 mem_mask;
	__u16 pad0;
	__u64 data[];
};

/* Last record of a capture. */
struct op_rec_end {
	struct op_hdr hdr;
	__u32 status;	    /* enum op_status */
	__u32 reason;	    /* enum op_end_reason */
	__u32 nbuckets;	    /* bucket records sent */
	__u32 invocations;  /* walk invocations (signal deliveries, exits) that walked */
	__u64 walk_ns;	    /* time spent walking, summed over invocations */
	__u64 ktime;	    /* time of this record */
	__u64 last_addr;    /* bucket address at which the walk stopped (0 at list end) */
	__u32 ringbuf_full; /* bucket records that did not fit at first (retried) */
	__u32 pad0;
	__u64 wait_ns; /* time spent waiting for ring space, summed */
};

/* sched/sched_process_exec */
struct op_rec_exec {
	struct op_hdr hdr; /* tgid = pid after exec */
	__u32 pid;
	__u32 old_pid;
	char comm[OP_COMM_LEN];
	char filename[OP_FILENAME_LEN];
};

/* sched/sched_process_exit of the last thread: the whole process is gone. */
struct op_rec_exit {
	struct op_hdr hdr;
	__u64 start_ticks; /* group leader start time, clock ticks since boot (/proc stat 22) */
	__s32 exit_code;
	__u32 pad0;
};

/* Per registered process (map "procs", key: tgid). Addresses already include the PIE
 * load bias. start_ticks 0 = do not check against PID reuse. */
struct op_proc {
	__u64 mbuckets_addr;
	__u64 mem_profile_rate_addr;
	__u64 prof_cycle_addr;
	__u64 start_ticks;
};

/* Per victim being captured (map "victims", key: tgid, or tid with OP_VF_BY_TID). */
struct op_victim {
	__u32 claim; /* 1 while one thread walks: cmpxchg 0 -> 1 */
	__u32 state; /* enum op_victim_state */
	__u64 id;
	__u64 cursor;  /* next bucket to read (state WALKING) */
	__u64 walk_ns; /* time spent walking so far */
	__u64 wait_ns; /* time spent waiting for ring space so far */
	__u32 nbuckets;
	__u32 invocations;
	__u32 tgid;
	__u32 flags; /* OP_VF_* */
	__u32 ringbuf_full;
	__u32 status; /* enum op_status once the walk has ended */
	__u32 reason; /* enum op_end_reason */
	__u32 pad0;
	__u64 last_addr;
	struct op_proc proc;
};

enum op_victim_state {
	OP_VS_MARKED = 0,
	OP_VS_WALKING = 1,
	OP_VS_ENDING = 2, /* walk finished, END record still to send */
	OP_VS_DONE = 3,
};

/* op_victim.flags */
#define OP_VF_BY_TID 0x1 /* keyed by the marked thread id (classic tracepoint) */

/* Counters (per-CPU array "metrics", index = enum op_metric). */
enum op_metric {
	OP_M_VICTIMS,	       /* mark_victim events */
	OP_M_VICTIMS_GO,       /* ... of registered processes */
	OP_M_EVENTS_DROPPED,   /* events ring full: a control record was lost */
	OP_M_PROFILE_FULL,     /* profile ring full at a bucket (walk paused) */
	OP_M_READ_ERRORS,      /* bpf_probe_read_user failures */
	OP_M_BUCKETS,	       /* bucket records sent */
	OP_M_WALKS,	       /* walk invocations */
	OP_M_CLAIM_BUSY,       /* another thread was walking */
	OP_M_SIGKILL_UNMARKED, /* SIGKILL of a registered process not (yet) marked */
	OP_M_EXIT_WALKS,       /* walks continued from sched_process_exit */
	OP_M_EXIT_NO_MM,       /* sched_process_exit of a victim with mm already gone */
	OP_M_VICTIM_MAP_FULL,  /* victims map insert failed */
	OP_M_CORRUPT,	       /* walks ended corrupt */
	OP_M_SPIN_TIMEOUTS,    /* waits for a claim or ring space that timed out */
	OP_M_PROCS_PRUNED,     /* procs entries removed at exit */
	OP_M_EXITS_TRUNCATED,  /* END sent because the process exited mid-walk */
	OP_M_REMARKS,	       /* marks that joined the capture of their process */
	OP_M_MARK_WAITS,       /* last thread of a SIGKILLed process waited for its mark */
	OP_M_MARK_WAIT_MISSES, /* ... and none came (an ordinary kill -9) */
	OP_M_MAX,
};

#endif
