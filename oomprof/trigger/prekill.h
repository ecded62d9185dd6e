/*
 * The daemon's triggers before a kill (oomprof watch --before-oom, --psi): per watched
 * process, whether to snapshot it now. Usage of each memory cgroup is compared with its
 * limit (an upward crossing of PERCENT; on v1 the kernel also signals the crossing
 * through cgroup.event_control, so the daemon wakes at once), and memory pressure of
 * each v2 cgroup with a threshold held for a while. A process is snapshotted at most
 * once per cooldown, whatever fired.
 */
#ifndef OOMPROF_PREKILL_H
#define OOMPROF_PREKILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oomprof/trigger/snap.h"

struct prekill_opts {
	unsigned before_oom_pct; /* 0: off */
	double psi_threshold;	 /* < 0: off */
	int64_t psi_duration_ms;
	int64_t cooldown_ms;
};

struct prekill;

/* NULL (errno ENOMEM) on failure. */
struct prekill *prekill_new(const struct prekill_opts *o);
void prekill_free(struct prekill *pk);

/* Starts a round of checks: readings of the previous round are forgotten. */
void prekill_round(struct prekill *pk, int64_t now_ms);

/*
 * Whether the process (pid, start_ticks) in memory cgroup memcg is to be snapshotted
 * in this round, and why; it then counts as snapshotted for the cooldown.
 */
bool prekill_due(struct prekill *pk, pid_t pid, uint64_t start_ticks, const char *memcg,
		 struct snap_reason *why);

/* File descriptors that become readable when a v1 threshold is crossed: poll them and
 * start a round when one is. Returns how many were written into fds (at most max). */
size_t prekill_fds(const struct prekill *pk, int *fds, size_t max);

#endif
