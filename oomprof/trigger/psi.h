/*
 * Memory pressure (PSI) of a cgroup: memory.pressure of the unified (v2) hierarchy,
 * which exists on hybrid hosts too (PSI files are core cgroup files, independent of
 * the memory controller), and the rule that turns it into a trigger: "full avg10"
 * above a threshold for some time, as systemd-oomd acts on.
 */
#ifndef OOMPROF_PSI_H
#define OOMPROF_PSI_H

#include <stdbool.h>
#include <stdint.h>

/* Where the v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on
 * hybrid hosts), or NULL when there is none. */
const char *cgroup2_root(void);

/* "full avg10" of memory.pressure of the v2 cgroup at path (as the "0::" line of
 * /proc/PID/cgroup names it), in percent. 0 or -errno. */
int psi_full_avg10(const char *path, double *avg10);

struct psi_rule {
	double threshold;    /* percent */
	int64_t duration_ms; /* how long it must stay above */
	int64_t above_since; /* ms; 0: not above */
	bool fired;	     /* this episode already triggered */
};

/* A new reading at now_ms: true once per episode, when the pressure has stayed above
 * the threshold for the rule's duration. Falling to or below it ends the episode. */
bool psi_rule_update(struct psi_rule *r, double avg10, int64_t now_ms);

#endif
