/* Where profiles go: file names, and writing them atomically. */
#ifndef OOMPROF_SINK_H
#define OOMPROF_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pprof/pprof.h"

/* Mode of every profile file written: readable by the owner's group (e.g. an SRE group). */
#define PROFILE_FILE_MODE 0640

/*
 * "<dir>/<comm>-<pid>-<UTC time>.pb.gz", e.g. "out/api-1234-20261122T011500.123Z.pb.gz".
 * Characters of comm that do not belong in a file name become '_'.
 */
void sink_profile_path(char *buf, size_t len, const char *dir, const char *comm, pid_t pid,
		       int64_t time_ns);

/* Creates dir (and parents) with mode 0750 when missing. 0 or -errno. */
int sink_make_dir(const char *dir);

/* The current time in ns since the epoch. */
int64_t now_ns(void);

#endif
