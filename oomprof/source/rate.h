/*
 * A watched process's runtime.MemProfileRate over its life: read through
 * /proc/PID/mem during a watch window after discovery, so that a kill-time profile
 * can say whether the program switched sampling off or changed it, and, with
 * --enable-memprofile, turned back on where the linker or the program switched it
 * off (logged; the time goes into the profile).
 */
#ifndef OOMPROF_RATE_H
#define OOMPROF_RATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "oomprof/profile/truth.h"

/* How long after discovery the rate is re-read (and restored) each tick. */
#define RATE_WATCH_MS 10000

struct rate_track {
	pid_t tgid;
	uint64_t addr;	      /* runtime.MemProfileRate in the process */
	const char *comm;     /* for log lines; owned by the caller */
	int64_t enable_rate;  /* --enable-memprofile: rate to set where it is 0; 0: off */
	bool linker_disabled; /* the binary's linker switched profiling off */
	int64_t watch_until_ms;
	int64_t last_nonzero; /* last nonzero rate read, not counting our own writes */
	int64_t restored_ns;  /* wall time we restored sampling the program had zeroed */
	int64_t restored_rate;
	bool enabled_by_us; /* the linker had it off; we turned it on */
};

/* Starts tracking (and, with enable_rate, enabling) at discovery. */
void rate_track_start(struct rate_track *rt, pid_t tgid, uint64_t addr, const char *comm,
		      bool linker_disabled, int64_t enable_rate, int64_t now_ms);

/* Once a tick: within the watch window, re-reads the rate and, with enable_rate,
 * sets it where it is 0. */
void rate_track_tick(struct rate_track *rt, int64_t now_ms);

/* The facts for truth_assess, given the rate the kernel read at the kill (-1:
 * unreadable). */
void rate_track_facts(const struct rate_track *rt, int64_t at_kill, struct rate_facts *rf);

/* Reads the process's MemProfileRate; -1 when it cannot be read. */
int64_t rate_read(pid_t tgid, uint64_t addr);

#endif
