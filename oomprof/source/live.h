/*
 * Live source: reads a running Go process's memory-profile buckets through
 * /proc/PID/mem. The process keeps running; published bucket headers never change and
 * buckets are never freed, so a racy walk is safe (counts may be a moment apart).
 */
#ifndef OOMPROF_LIVE_H
#define OOMPROF_LIVE_H

#include <stdint.h>
#include <sys/types.h>

#include "oomprof/profile/rawprof.h"

/* Runtime addresses in the process (PIE load bias already added). 0 = unknown. */
struct live_target {
	uint64_t mbuckets;	   /* &runtime.mbuckets */
	uint64_t mem_profile_rate; /* &runtime.MemProfileRate */
	uint64_t prof_cycle;	   /* &runtime.mProfCycle */
};

struct live_limits {
	uint32_t max_buckets; /* stop (truncated) after this many; 0 = default */
	uint32_t max_stack;   /* an nstk above this marks the list corrupt; 0 = default */
};

#define LIVE_DEFAULT_MAX_BUCKETS (1u << 22)
#define LIVE_DEFAULT_MAX_STACK	 1024u

/*
 * Reads every bucket of pid into out (which must be zeroed). Returns 0 when the walk
 * ran (out->status says whether it completed), or -errno when nothing could be read
 * at all (-ESRCH: no such process, -EACCES/-EPERM: no permission), with a message in err.
 */
int live_read(pid_t pid, const struct live_target *target, const struct live_limits *limits,
	      struct raw_profile *out, char *err, size_t errlen);

/* Reads len bytes at addr of pid's memory into buf: 0 or -errno (-EIO when short). */
int live_read_mem(int memfd, uint64_t addr, void *buf, size_t len);

/*
 * Writes an 8-byte value at addr of pid's memory (used, opt-in only, to set
 * runtime.MemProfileRate in a process whose linker disabled memory profiling).
 * 0 or -errno.
 */
int live_write_u64(pid_t pid, uint64_t addr, uint64_t value);

#endif
