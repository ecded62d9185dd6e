/*
 * What a kill-time profile can honestly claim: how much of the victim's memory its
 * inuse_space explains, and whether the program switched sampling off or changed
 * its rate while it ran (cmd/compile sets runtime.MemProfileRate = 0 at start-up;
 * others set 1). The profile's comments and the summary line say so.
 */
#ifndef OOMPROF_TRUTH_H
#define OOMPROF_TRUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oomprof/profile/decode.h"
#include "oomprof/profile/rawprof.h"

/* runtime.MemProfileRate's initial value, 512 KiB, in every release 1.19-1.27. */
#define GO_DEFAULT_MEM_PROFILE_RATE 524288

/* What is known of the process's MemProfileRate besides its value at the kill. */
struct rate_facts {
	int64_t at_kill;      /* read by the kernel side at the kill; -1: unreadable */
	int64_t last_nonzero; /* the last nonzero rate read while it ran; 0: none */
	int64_t restored_ns;  /* wall time --enable-memprofile restored sampling the
			       * program had switched off; 0: never */
	int64_t restored_rate;
};

struct truth {
	bool partial;		 /* sampling was off at the kill, buckets exist */
	int64_t unsample_rate;	 /* rate the profile's values are unsampled with */
	int64_t inuse_bytes;	 /* the profile's inuse_space */
	double coverage_pct;	 /* inuse_bytes / anon rss in percent; < 0: unknown */
	char status_detail[128]; /* for RAW_PARTIAL */
	char coverage[128];	 /* "profile explains 93 % of anon-rss 306 MiB" */
	char rate_note[256];	 /* how the rate changed, or "" */
	char restored_note[256]; /* when sampling was restored, or "" */
};

/*
 * Assesses raw (delivered with the kernel's status) against the victim's anonymous
 * RSS (kB, 0 = unknown). Fills t; never fails (coverage unknown without memory).
 */
void truth_assess(const struct raw_profile *raw, enum cycle_mode mode, const struct rate_facts *rf,
		  uint64_t anon_rss_kb, struct truth *t);

/* The profile header as it should be written: raw's buckets, with the status and
 * unsampling rate of the assessment. Shares raw's buckets (no copy). */
struct raw_profile truth_apply(const struct raw_profile *raw, const struct truth *t);

/* Points lines[0..] at the assessment's comment lines (coverage first); returns
 * how many, at most max. */
size_t truth_comment_lines(const struct truth *t, const char **lines, size_t max);

#endif
