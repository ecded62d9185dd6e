#include "oomprof/sink/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oomprof/base/httpserv.h"
#include "oomprof/base/log.h"

struct service {
	struct service_opts o;
	struct metrics m;
	struct http_server *http;
	struct uploader *up;
};

static void count_files(struct service *s)
{
	struct retention all = {.dir = s->o.retention.dir};
	struct retention_result res;

	/* With no limit, prune only counts: nothing is over a limit of "everything". */
	all.max_profiles = INT64_MAX;
	if (retention_prune(&all, NULL, &res) == 0) {
		s->m.profile_files = res.kept;
		s->m.profile_bytes = res.kept_bytes;
	}
}

static void serve(const char *path, struct http_response *r, void *ctx)
{
	struct service *s = ctx;
	struct capture_stats st = {0};
	bool have = false;

	if (strcmp(path, "/metrics")) {
		r->status = 404;
		r->body = strdup("oomprof: see /metrics\n");
		r->len = r->body ? strlen(r->body) : 0;
		return;
	}
	if (s->o.fill)
		have = s->o.fill(&s->m, &st, s->o.ctx);
	s->m.upload_queue = s->up ? uploader_queued(s->up) : 0;
	count_files(s);
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	if (metrics_render(&s->m, have ? &st : NULL, s->o.version, &r->body, &r->len))
		r->body = NULL;
}

static void prune(struct service *s, const char *keep)
{
	struct retention_result res;
	int e = retention_prune(&s->o.retention, keep, &res);

	if (e) {
		log_warn("cannot prune old profiles in %s: %s", s->o.retention.dir, strerror(-e));
		return;
	}
	s->m.retention_deleted += res.deleted;
	s->m.retention_deleted_bytes += res.deleted_bytes;
	if (res.deleted)
		log_info("deleted %llu old profiles (%llu bytes) to stay within --max-profiles "
			 "%lld and --max-bytes %lld; %llu kept (%llu bytes)",
			 (unsigned long long)res.deleted, (unsigned long long)res.deleted_bytes,
			 (long long)s->o.retention.max_profiles,
			 (long long)s->o.retention.max_bytes, (unsigned long long)res.kept,
			 (unsigned long long)res.kept_bytes);
}

struct service *service_open(const struct service_opts *o, char *err, size_t errlen)
{
	struct service *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->o = *o;
	s->m.start_time_s = (int64_t)time(NULL);
	if (o->metrics_addr && *o->metrics_addr &&
	    !(s->http = http_server_open(o->metrics_addr, serve, s, err, errlen))) {
		free(s);
		return NULL;
	}
	if (o->upload.nurls && !(s->up = uploader_open(&o->upload, &s->m, err, errlen))) {
		http_server_close(s->http);
		free(s);
		return NULL;
	}
	if (s->http)
		log_info("metrics on http://%s/metrics (port %d)", o->metrics_addr,
			 http_server_port(s->http));
	prune(s, NULL);
	return s;
}

void service_close(struct service *s)
{
	if (!s)
		return;
	http_server_close(s->http);
	uploader_close(s->up);
	free(s);
}

struct metrics *service_metrics(struct service *s)
{
	return s ? &s->m : NULL;
}

void service_count_kill(struct service *s, bool go)
{
	if (!s)
		return;
	s->m.oom_kills++;
	s->m.go_victims += go;
}

void service_count_lost(struct service *s, enum metrics_lost why)
{
	if (s && why < LOST_MAX)
		s->m.lost[why]++;
}

void service_set_fill(struct service *s,
		      bool (*fill)(struct metrics *m, struct capture_stats *st, void *ctx),
		      void *ctx)
{
	if (!s)
		return;
	s->o.fill = fill;
	s->o.ctx = ctx;
}

bool service_may_write(struct service *s, const char *who)
{
	uint64_t free_bytes = 0;
	int e;

	if (!s)
		return true;
	e = retention_room(&s->o.retention, &free_bytes);

	if (e == -ENOSPC) {
		log_error("%s: not writing its profile: the file system of %s has %llu bytes "
			  "left, less than --min-free %lld",
			  who, s->o.retention.dir, (unsigned long long)free_bytes,
			  (long long)s->o.retention.min_free);
		s->m.lost[LOST_LOW_DISK]++;
		return false;
	}
	if (e)
		log_warn("cannot check the free space of %s: %s; writing anyway",
			 s->o.retention.dir, strerror(-e));
	return true;
}

void service_written(struct service *s, const struct upload_profile *p, int status,
		     double latency_s)
{
	const char *base = p ? strrchr(p->path, '/') : NULL;

	if (!s)
		return;
	if (status >= RAW_COMPLETE && status <= RAW_CORRUPT)
		s->m.profiles[status]++;
	if (latency_s >= 0)
		metrics_observe_latency(&s->m, latency_s);
	prune(s, base ? base + 1 : p->path);
	if (s->up)
		uploader_submit(s->up, p);
}

size_t service_pollfds(struct service *s, struct pollfd *fds, size_t max)
{
	return s && s->http ? http_server_pollfds(s->http, fds, max) : 0;
}

int service_timeout_ms(struct service *s, int longest)
{
	int t = s && s->up ? uploader_timeout_ms(s->up) : -1;

	return t >= 0 && t < longest ? t : longest;
}

void service_step(struct service *s)
{
	if (!s)
		return;
	if (s->http)
		http_server_step(s->http);
	if (s->up)
		uploader_step(s->up);
}
