/*
 * The report `oomprof run` prints at the end: peak usage against the limit, how the
 * command ended, and each Go process's profiles with their top three functions by
 * inuse_space and how much of the process's anonymous memory they explain.
 */
#ifndef OOMPROF_RUN_REPORT_H
#define OOMPROF_RUN_REPORT_H

#include <stdio.h>
#include <sys/types.h>

#include "oomprof/base/memcg.h"
#include "oomprof/cmd/watch.h"

struct run_report_entry {
	pid_t pid;
	char comm[32];
	char path[4096];
	char trigger[32];
	uint64_t anon_rss_kb;
};

struct run_report {
	struct run_report_entry *e;
	size_t n, cap;
	uint64_t limit, peak; /* bytes; limit UINT64_MAX: none */
	long long oom_kills;
	char cgroup[512]; /* its directory */
	bool cgroup_removed;
	int add_errors; /* profiles not listed for lack of memory */
};

void run_report_add(struct run_report *rep, const struct watch_profile *wp);

/* Deletes the profiles of that trigger written so far (superseded). */
void run_report_drop_trigger(struct run_report *rep, const char *trigger);

/* Reads the cgroup's peak (the larger of the kernel's and peak_seen) and OOM kills. */
void run_report_measure(struct run_report *rep, const struct memcg *cg, uint64_t peak_seen);

/* status: COMMAND's wait status; rc: the exit status oomprof run returns. */
void run_report_print(const struct run_report *rep, FILE *out, int status, uint64_t fail_above,
		      int rc);
void run_report_free(struct run_report *rep);

/* "245.1 MiB", "none" for UINT64_MAX. */
void run_format_bytes(uint64_t v, char *buf, size_t len);

#endif
