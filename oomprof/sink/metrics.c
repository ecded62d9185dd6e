#include "oomprof/sink/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
								0.5,   1,    2.5,   5,	  10,  30};

static const char *const lost_names[LOST_MAX] = {"unknown_process", "profiling_disabled",
						 "build_error", "write_error", "low_disk"};
static const char *const upload_names[UPLOAD_RESULT_MAX] = {"ok", "retry", "rejected", "dropped"};

void metrics_observe_latency(struct metrics *m, double seconds)
{
	m->latency_count++;
	m->latency_sum_s += seconds;
	for (int i = 0; i < METRICS_LATENCY_BUCKETS; i++)
		if (seconds <= metrics_latency_bounds[i]) {
			m->latency_le[i]++; /* per bucket; made cumulative when rendered */
			break;
		}
}

struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap * 2 + (size_t)n;
		char *b = realloc(o->buf, cap);
		if (!b) {
			o->failed = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct out *o, const char *name, const char *type, const char *help, uint64_t v)
{
	head(o, name, type, help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

static void latency(struct out *o, const struct metrics *m)
{
	const char *name = "oomprof_kill_to_file_seconds";
	uint64_t cum = 0;

	head(o, name, "histogram", "Time from the OOM kill to its profile file being on disk.");
	for (int i = 0; i < METRICS_LATENCY_BUCKETS; i++) {
		cum += m->latency_le[i];
		put(o, "%s_bucket{le=\"%g\"} %llu\n", name, metrics_latency_bounds[i],
		    (unsigned long long)cum);
	}
	put(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
	    (unsigned long long)m->latency_count, name, m->latency_sum_s, name,
	    (unsigned long long)m->latency_count);
}

static void bpf_counters(struct out *o, const struct capture_stats *st)
{
	if (!st)
		return;
	head(o, "oomprof_capture_events_total", "counter",
	     "Counters of the kernel programs' metrics map and of the reassembly.");
	for (int i = 0; i < CAPTURE_C_MAX; i++)
		put(o, "oomprof_capture_events_total{counter=\"%s\"} %llu\n",
		    capture_counter_name((enum capture_counter)i), (unsigned long long)st->c[i]);
	head(o, "oomprof_ringbuf_drops_total", "counter",
	     "Records the kernel programs could not put in a full ring buffer.");
	put(o, "oomprof_ringbuf_drops_total{ring=\"events\"} %llu\n",
	    (unsigned long long)st->c[CAPTURE_C_EVENTS_DROPPED]);
	put(o, "oomprof_ringbuf_drops_total{ring=\"profile\"} %llu\n",
	    (unsigned long long)st->c[CAPTURE_C_PROFILE_FULL]);
	one(o, "oomprof_bpf_maps_bytes", "gauge", "Kernel memory of the BPF maps.",
	    st->maps_kernel_bytes);
}

static void render(struct out *o, const struct metrics *m, const struct capture_stats *st,
		   const char *version)
{
	head(o, "oomprof_build_info", "gauge", "The running oomprof's version.");
	put(o, "oomprof_build_info{version=\"%s\"} 1\n", version);
	one(o, "oomprof_start_time_seconds", "gauge", "When the daemon started (Unix time).",
	    (uint64_t)m->start_time_s);
	one(o, "oomprof_oom_kills_total", "counter", "OOM kills seen (every victim, Go or not).",
	    m->oom_kills);
	one(o, "oomprof_go_victims_total", "counter", "OOM kills of watched Go processes.",
	    m->go_victims);
	head(o, "oomprof_profiles_written_total", "counter",
	     "Profile files written, by capture status.");
	for (int s = RAW_COMPLETE; s <= RAW_CORRUPT; s++)
		put(o, "oomprof_profiles_written_total{status=\"%s\"} %llu\n",
		    raw_status_name((enum raw_status)s), (unsigned long long)m->profiles[s]);
	head(o, "oomprof_captures_lost_total", "counter",
	     "Kills of Go processes that gave no profile file, by reason.");
	for (int r = 0; r < LOST_MAX; r++)
		put(o, "oomprof_captures_lost_total{reason=\"%s\"} %llu\n", lost_names[r],
		    (unsigned long long)m->lost[r]);
	latency(o, m);
	one(o, "oomprof_watched_processes", "gauge", "Go processes watched now.", m->watched);
	one(o, "oomprof_binaries_parsed_total", "counter", "Go binaries parsed.",
	    m->binaries_parsed);
	one(o, "oomprof_profile_files", "gauge", "Profile files in the directory.",
	    m->profile_files);
	one(o, "oomprof_profile_bytes", "gauge", "Bytes of profile files in the directory.",
	    m->profile_bytes);
	one(o, "oomprof_profiles_deleted_total", "counter",
	    "Old profiles deleted to stay within --max-profiles and --max-bytes.",
	    m->retention_deleted);
	head(o, "oomprof_uploads_total", "counter", "Upload attempts, by result.");
	for (int r = 0; r < UPLOAD_RESULT_MAX; r++)
		put(o, "oomprof_uploads_total{result=\"%s\"} %llu\n", upload_names[r],
		    (unsigned long long)m->uploads[r]);
	one(o, "oomprof_upload_queue", "gauge", "Uploads waiting in the on-disk queue.",
	    m->upload_queue);
	bpf_counters(o, st);
}

int metrics_render(const struct metrics *m, const struct capture_stats *st, const char *version,
		   char **out, size_t *len)
{
	struct out o = {.buf = malloc(8192), .cap = 8192};

	if (!o.buf)
		return -ENOMEM;
	o.buf[0] = 0;
	render(&o, m, st, version);
	if (o.failed) {
		free(o.buf);
		return -ENOMEM;
	}
	*out = o.buf;
	*len = o.len;
	return 0;
}
