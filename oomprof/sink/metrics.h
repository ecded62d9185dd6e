/*
 * The daemon's counters, and their rendering in the Prometheus text exposition format
 * (version 0.0.4) for GET /metrics. Counting is a few increments on the capture path;
 * rendering happens only when a scraper asks.
 */
#ifndef OOMPROF_METRICS_H
#define OOMPROF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "oomprof/profile/rawprof.h"
#include "oomprof/source/capture.h"

/* Why a Go victim's kill gave no profile file. */
enum metrics_lost {
	LOST_UNKNOWN_PROCESS,	 /* its profile arrived, its process was not known */
	LOST_PROFILING_DISABLED, /* the binary disabled memory profiling */
	LOST_BUILD_ERROR,	 /* the buckets could not be made into a profile */
	LOST_WRITE_ERROR,	 /* the file could not be written */
	LOST_LOW_DISK,		 /* the file system had less than --min-free left */
	LOST_MAX,
};

enum metrics_upload {
	UPLOAD_OK,	 /* accepted by the store */
	UPLOAD_RETRY,	 /* failed, will be retried */
	UPLOAD_REJECTED, /* the store refused it (4xx): not retried */
	UPLOAD_DROPPED,	 /* left the queue unsent: queue full, or the file was deleted */
	UPLOAD_RESULT_MAX,
};

#define METRICS_LATENCY_BUCKETS 12

struct metrics {
	uint64_t oom_kills, go_victims;
	uint64_t profiles[RAW_CORRUPT + 1]; /* written, by capture status */
	uint64_t lost[LOST_MAX];
	uint64_t latency_count, latency_le[METRICS_LATENCY_BUCKETS]; /* cumulative at render */
	double latency_sum_s;
	uint64_t uploads[UPLOAD_RESULT_MAX];
	uint64_t retention_deleted, retention_deleted_bytes;
	/* gauges, set before rendering */
	uint64_t watched, binaries_parsed, upload_queue, profile_files, profile_bytes;
	int64_t start_time_s;
};

/* Upper bounds (seconds) of the kill-to-file latency histogram's buckets. */
extern const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS];

void metrics_observe_latency(struct metrics *m, double seconds);

/* The whole exposition, malloc'd, in *out (length *len). st may be NULL. 0 or -ENOMEM. */
int metrics_render(const struct metrics *m, const struct capture_stats *st, const char *version,
		   char **out, size_t *len);

#endif
