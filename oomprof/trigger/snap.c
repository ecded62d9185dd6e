#include "oomprof/trigger/snap.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "oomprof/profile/heapprof.h"
#include "oomprof/sink/dir.h"

static int read_buckets(const struct go_target *t, struct raw_profile *raw, bool partial, char *err,
			size_t errlen)
{
	const char *problem = target_profiling_problem(t);
	int e;

	if (problem) {
		snprintf(err, errlen, "process %d (%s): %s", t->pid, t->comm, problem);
		return -ENODATA;
	}
	e = live_read(t->pid, &t->addrs, NULL, raw, err, errlen);
	if (e)
		return e;
	if (raw->status == RAW_READ_ERROR && kill(t->pid, 0) < 0 && errno == ESRCH) {
		snprintf(err, errlen,
			 "process %d (%s) exited while its profile was read; nothing written",
			 t->pid, t->comm);
		return -ESRCH;
	}
	if (raw->status != RAW_COMPLETE && !partial) {
		snprintf(err, errlen,
			 "process %d (%s): bucket list %s after %zu buckets (%s); nothing written "
			 "(--partial writes what was read)",
			 t->pid, t->comm, raw_status_name(raw->status), raw->nbuckets,
			 raw->status_detail);
		return -EIO;
	}
	return 0;
}

/* The comment lines of a pre-kill snapshot: what crossed what. */
static void reason_comments(const struct snap_reason *why, char lines[3][200])
{
	snprintf(lines[0], 200, "pre-kill snapshot: %s", why->detail);
	if (why->limit && why->limit != UINT64_MAX)
		snprintf(lines[1], 200, "memory cgroup usage: %llu bytes of limit %llu (%.1f%%)",
			 (unsigned long long)why->usage, (unsigned long long)why->limit,
			 100.0 * (double)why->usage / (double)why->limit);
	else
		snprintf(lines[1], 200, "memory cgroup usage: %llu bytes (no limit)",
			 (unsigned long long)why->usage);
	if (why->pressure >= 0)
		snprintf(lines[2], 200, "memory pressure: full avg10=%.2f", why->pressure);
	else
		snprintf(lines[2], 200, "memory pressure: unknown");
}

/* "<dir>/<comm>-<pid>-<time>.pb.gz", with ".<tag>" before ".pb.gz" when tagged. */
static void snap_path(const struct go_target *t, const struct snap_opts *o, int64_t when,
		      char *path, size_t len)
{
	size_t n;

	if (o->file) {
		snprintf(path, len, "%s", o->file);
		return;
	}
	sink_profile_path(path, len, o->dir, t->comm, t->pid, when);
	n = strlen(path);
	if (o->why && o->why->tag[0] && n > 6 && n + strlen(o->why->tag) + 2 < len)
		snprintf(path + n - 6, len - (n - 6), ".%s.pb.gz", o->why->tag);
}

static int write_profile(const struct go_target *t, const struct raw_profile *raw,
			 const struct snap_opts *o, int64_t when, char *path, size_t pathlen,
			 char *err, size_t errlen)
{
	char memcg[512] = "", container[80] = "", lines[3][200];
	struct heap_binary bin = {.sym = t->sym, .bias = t->bias, .maps = &t->maps};
	struct heap_meta meta = {
	    .pid = t->pid,
	    .comm = t->comm,
	    .memcg = o->memcg,
	    .container_id = o->container,
	    .trigger = o->why ? o->why->trigger : "snapshot",
	    .time_ns = when,
	    .mode = o->mode,
	};
	struct pprof_builder *pb;
	int e;

	if (!meta.memcg && proc_memcg_path(t->pid, memcg, sizeof(memcg)) == 0) {
		meta.memcg = memcg;
		container_id_from_cgroup(memcg, container, sizeof(container));
		meta.container_id = container;
	}
	if (o->why) {
		reason_comments(o->why, lines);
		for (int i = 0; i < 3; i++)
			meta.extra[i] = lines[i];
	}
	if ((e = heapprof_build(raw, &bin, &meta, &pb, err, errlen)))
		return e;
	snap_path(t, o, when, path, pathlen);
	e = pprof_write_atomic(pb, path, PROFILE_FILE_MODE);
	pprof_builder_free(pb);
	if (e)
		snprintf(err, errlen, "writing %.900s: %s", path, strerror(-e));
	return e;
}

int snap_take(const struct go_target *t, const struct snap_opts *o, char *path, size_t pathlen,
	      char *err, size_t errlen)
{
	struct raw_profile raw = {0};
	int64_t when = now_ns();
	int e = read_buckets(t, &raw, o->partial, err, errlen);

	if (!e)
		e = write_profile(t, &raw, o, when, path, pathlen, err, errlen);
	raw_profile_free(&raw);
	return e;
}
