/*
 * What the daemon adds around each profile file when it runs as a service: metrics
 * (served on --metrics-addr), bounded disk use (--max-profiles, --max-bytes,
 * --min-free) and uploads (--upload). One object, driven from the daemon's poll loop;
 * every part is optional and none of them waits on anything.
 */
#ifndef OOMPROF_SERVICE_H
#define OOMPROF_SERVICE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "oomprof/base/httpserv.h"
#include "oomprof/sink/metrics.h"
#include "oomprof/sink/retention.h"
#include "oomprof/sink/upload.h"

struct service_opts {
	const char *metrics_addr; /* NULL: no endpoint */
	const char *version;
	struct retention retention;
	struct upload_opts upload; /* nurls == 0: no uploads */
	/* Called before /metrics is rendered: set the gauges, fill st (return false when
	 * there are no capture statistics). */
	bool (*fill)(struct metrics *m, struct capture_stats *st, void *ctx);
	void *ctx;
};

/* Descriptors service_pollfds may add. */
#define SERVICE_MAX_POLLFDS (1 + HTTP_MAX_CLIENTS)

struct service;

/* NULL with err filled. */
struct service *service_open(const struct service_opts *o, char *err, size_t errlen);
void service_close(struct service *s);

/* Every function below accepts s == NULL (no service: a command such as `oomprof run`)
 * and then does nothing (service_may_write says yes). */
struct metrics *service_metrics(struct service *s);
/* An OOM kill; go: of a watched Go process. */
void service_count_kill(struct service *s, bool go);
/* A Go victim's kill gave no file. */
void service_count_lost(struct service *s, enum metrics_lost why);
/* Sets the callback that fills the gauges before /metrics is rendered. */
void service_set_fill(struct service *s,
		      bool (*fill)(struct metrics *m, struct capture_stats *st, void *ctx),
		      void *ctx);
/* Whether a profile may be written now (--min-free); logs why not, and counts it. */
bool service_may_write(struct service *s, const char *who);
/* A profile file is on disk: count it, prune old ones, queue its uploads.
 * latency_s < 0: unknown. */
void service_written(struct service *s, const struct upload_profile *p, int status,
		     double latency_s);

/* The descriptors to poll (at most max), and the longest the poll may wait. */
size_t service_pollfds(struct service *s, struct pollfd *fds, size_t max);
int service_timeout_ms(struct service *s, int longest);
/* After poll: answer scrapes, move uploads along. */
void service_step(struct service *s);

#endif
