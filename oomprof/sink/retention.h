/*
 * Bounded disk use of the profile directory: keep at most max_profiles files and
 * max_bytes bytes of profiles (the oldest go first), and write nothing when the file
 * system has less than min_free bytes left. Only files whose names oomprof gives
 * (sink_profile_path: <comm>-<pid>-<YYYYmmddTHHMMSS.mmm>Z.pb.gz, regular files) are
 * ever counted or deleted.
 */
#ifndef OOMPROF_RETENTION_H
#define OOMPROF_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

struct retention {
	const char *dir;
	int64_t max_profiles; /* 0: no limit */
	int64_t max_bytes;    /* 0: no limit */
	int64_t min_free;     /* 0: no check */
};

struct retention_result {
	uint64_t kept, kept_bytes, deleted, deleted_bytes;
};

/* True when name is a file name that oomprof writes. */
bool retention_is_profile_name(const char *name);

/* Deletes the oldest profiles beyond the limits, never `keep` (a file name, or NULL).
 * 0 or -errno (the directory could not be read). */
int retention_prune(const struct retention *r, const char *keep, struct retention_result *res);

/* 0 when there is room to write; -ENOSPC with the free bytes in *free_bytes when the file
 * system holding dir has less than min_free left; -errno when statvfs fails. */
int retention_room(const struct retention *r, uint64_t *free_bytes);

#endif
