/*
 * The watch loop of `oomprof watch`, reusable by other commands (`oomprof run`):
 * discovery of Go processes, kill-time capture, and profiles before the kill.
 *
 *   w = watch_open(&cfg)            BPF loaded, /proc scanned
 *   while (...) watch_poll(w, ms, fds, n)
 *   watch_close(w)                  profiles still on their way are delivered
 */
#ifndef OOMPROF_WATCH_H
#define OOMPROF_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gosym/gosym.h"
#include "oomprof/trigger/prekill.h"
#include "oomprof/trigger/snap.h"

/* A profile the loop wrote. */
struct watch_profile {
	pid_t pid;
	const char *comm;
	const char *path;
	const char *trigger;  /* "oom-kill", or the snapshot's trigger */
	uint64_t anon_rss_kb; /* of the process when it was taken; 0: unknown */
};

struct service;

struct watch_config {
	const char *dir;
	int64_t enable_rate;		    /* --enable-memprofile; 0: off */
	uint32_t ringbuf;		    /* 0: default */
	const char *only_memcg;		    /* watch only processes of this memory cgroup (as
					       /proc/PID/cgroup names it) and below; NULL: all */
	const struct prekill_opts *prekill; /* NULL: no snapshots before a kill */
	void (*on_profile)(const struct watch_profile *wp, void *ctx); /* NULL: none */
	void *ctx;
	/* Metrics, disk bounds and uploads around each file (sink/service.h); NULL: none. */
	struct service *svc;
};

struct watch;

/* NULL when the BPF programs cannot be loaded (logged; errno EPERM without root). */
struct watch *watch_open(const struct watch_config *cfg);

/* Waits up to timeout_ms for kernel records (or one of fds to become readable), handles
 * them, and runs the periodic work when due. 0, or -errno when polling failed. */
int watch_poll(struct watch *w, int timeout_ms, const int *fds, size_t nfds);

/* Victims of watched processes whose profile has not arrived yet. */
size_t watch_pending(const struct watch *w);

/*
 * Snapshots every live watched process for which want() says yes (NULL: all), for the
 * reason given. Returns how many profiles were written.
 */
size_t watch_snapshot_all(struct watch *w, const struct snap_reason *why,
			  bool (*want)(pid_t pid, const struct gosym_info *info, void *ctx),
			  void *ctx);

/* Delivers what is still on its way, then frees everything. Accepts NULL. */
void watch_close(struct watch *w);

#endif
