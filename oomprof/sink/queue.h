/*
 * The upload queue: one small file per profile still to send to one store, in a
 * directory of its own, so that uploads survive a restart of the daemon. Bounded: when
 * it holds `max` jobs, adding one drops the oldest (the profile file itself stays on
 * disk). Files are written atomically (temporary name, then rename).
 */
#ifndef OOMPROF_QUEUE_H
#define OOMPROF_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#define QUEUE_MAX_LABELS 8

struct upload_job {
	char id[64];	    /* the job's file name in the queue directory */
	char url[512];	    /* the --upload URL, as given */
	char profile[1024]; /* path of the profile file */
	char service[128];
	int64_t from_s, until_s; /* Unix times */
	char label_names[QUEUE_MAX_LABELS][32], label_values[QUEUE_MAX_LABELS][128];
	size_t nlabels;
	uint32_t attempts;
	int64_t next_ms; /* CLOCK_MONOTONIC ms of the next attempt (not stored) */
};

struct upload_queue {
	char dir[1024];
	size_t max;
	struct upload_job **jobs; /* oldest first */
	size_t n;
	uint64_t seq;
};

/* Creates dir when missing and loads the jobs already in it (unreadable ones are
 * deleted with a log line). 0 or -errno. */
int queue_open(struct upload_queue *q, const char *dir, size_t max);
/* Adds a copy of job (id assigned here). Returns how many old jobs were dropped to make
 * room (0 or 1), or -errno when it could not be stored (the job is not queued). */
int queue_add(struct upload_queue *q, const struct upload_job *job);
/* Stores job i's new attempt count. 0 or -errno. */
int queue_update(struct upload_queue *q, size_t i);
/* Deletes job i (file and entry). */
void queue_remove(struct upload_queue *q, size_t i);
void queue_close(struct upload_queue *q);

/* Appends a label; ignored when the job already has QUEUE_MAX_LABELS. */
void job_add_label(struct upload_job *j, const char *name, const char *value);

#endif
