/*
 * A live snapshot of a Go process written as a profile file: what `oomprof snapshot`
 * does, and what every trigger before a kill (a usage threshold, memory pressure, a new
 * peak) does, marking why in the file name and the profile's comments.
 */
#ifndef OOMPROF_SNAP_H
#define OOMPROF_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oomprof/profile/decode.h"
#include "oomprof/profile/target.h"

/* Why a snapshot was taken before any kill. */
struct snap_reason {
	const char *trigger; /* profile comment "trigger: ...", e.g. "before-oom" */
	char tag[32]; /* file-name mark, e.g. "prekill-80pct": <comm>-<pid>-<time>.<tag>.pb.gz */
	char detail[160];      /* one comment line saying what crossed what */
	uint64_t usage, limit; /* memory cgroup usage and limit in bytes; 0: unknown */
	double pressure;       /* memory.pressure full avg10 (percent); < 0: unknown */
};

struct snap_opts {
	const char *dir;  /* the file goes into dir, named by sink_profile_path ... */
	const char *file; /* ... unless this exact path is given */
	enum cycle_mode mode;
	bool partial;		       /* write a bucket list cut short (marked in the comments) */
	const char *memcg, *container; /* NULL: read from /proc */
	const struct snap_reason *why; /* NULL: an on-demand snapshot */
};

/*
 * Reads t's buckets through /proc/PID/mem and writes the profile; the path written
 * goes into path. 0, or -errno with a message in err (-ENODATA: the process has no
 * memory profile, -ESRCH: it exited during the read, -EIO: the list was cut short and
 * partial is off).
 */
int snap_take(const struct go_target *t, const struct snap_opts *o, char *path, size_t pathlen,
	      char *err, size_t errlen);

#endif
