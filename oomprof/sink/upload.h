/*
 * Upload of profile files, once they are safely on disk, to the profile stores given
 * by --upload URL (repeatable):
 *
 *   pyroscope+http://HOST:4040   Grafana Pyroscope: POST /ingest?name=SERVICE{labels}
 *                                &from=&until=&format=pprof, the file as body
 *   parca+https://HOST:7070      Parca: POST /api/profiles/writeraw, a WriteRawRequest in
 *                                JSON (proto3 mapping: raw_profile in base64)
 *   http(s)://...                with --upload-format pyroscope|parca
 *
 * Each (profile, store) pair is a job in the on-disk queue (queue.h), tried at once and
 * then with exponential backoff until the store takes it; a 4xx answer other than 408
 * and 429 means the store will never take it, and the job is dropped. Transfers run
 * through libcurl's multi interface, driven from the daemon's poll loop: nothing here
 * waits on the network. One log line per failed attempt.
 */
#ifndef OOMPROF_UPLOAD_H
#define OOMPROF_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "oomprof/sink/metrics.h"
#include "oomprof/sink/queue.h"

enum upload_format { UPLOAD_FORMAT_NONE, UPLOAD_FORMAT_PYROSCOPE, UPLOAD_FORMAT_PARCA };

#define UPLOAD_MAX_TARGETS     16
#define UPLOAD_MAX_BACKOFF_S   300
#define UPLOAD_MAX_PROFILE     (64u << 20) /* bytes of one profile file sent */
#define UPLOAD_MAX_CONCURRENT  2
#define UPLOAD_CONNECT_TIMEOUT 5  /* s */
#define UPLOAD_TIMEOUT	       30 /* s, whole transfer */

struct upload_opts {
	const char *const *urls;
	size_t nurls;
	enum upload_format format; /* for URLs without a pyroscope+ / parca+ prefix */
	const char *tenant;	   /* X-Scope-OrgID, or NULL */
	const char *queue_dir;
	size_t queue_max;
};

/* What a profile is labelled with. */
struct upload_profile {
	const char *path, *service, *host, *pod, *container, *trigger, *status;
	int64_t time_s;
};

struct uploader;

/* NULL with err filled (a bad URL, an unusable queue directory). */
struct uploader *uploader_open(const struct upload_opts *o, struct metrics *m, char *err,
			       size_t errlen);
/* Queues the profile for every store. Never waits on the network. */
void uploader_submit(struct uploader *u, const struct upload_profile *p);
/* Progresses transfers and starts the jobs that are due. Never blocks. */
void uploader_step(struct uploader *u);
/* How soon uploader_step wants to run again, in ms (-1: nothing to do). */
int uploader_timeout_ms(const struct uploader *u);
size_t uploader_queued(const struct uploader *u);
/* Accepts NULL. Transfers in flight are abandoned; their jobs stay queued. */
void uploader_close(struct uploader *u);

/* Splits "pyroscope+http://h:p/x" into the format and "http://h:p/x". 0 or -EINVAL. */
int upload_parse_url(const char *url, enum upload_format fallback, enum upload_format *format,
		     char *base, size_t len);

#endif
