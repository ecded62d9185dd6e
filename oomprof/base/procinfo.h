/* What oomprof reads about a process from /proc: name, executable, mappings, cgroup. */
#ifndef OOMPROF_PROCINFO_H
#define OOMPROF_PROCINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_mapping {
	uint64_t start, end, offset;
	bool exec;
	char path[256];
};

struct proc_maps {
	struct proc_mapping *maps;
	size_t n;
};

/* The process's comm (at most 15 characters). 0 or -errno. */
int proc_comm(pid_t pid, char *buf, size_t len);

/* The process's start time in clock ticks since boot (field 22 of stat): with the pid,
 * it names one process even when pids are reused. 0 or -errno. */
int proc_start_time(pid_t pid, uint64_t *ticks);

/* Device and inode of the process's executable, through /proc/PID/exe (works for
 * processes in other mount namespaces). 0 or -errno. */
int proc_exe_id(pid_t pid, uint64_t *dev, uint64_t *ino);

/* The mappings of /proc/PID/maps backed by the file with inode ino. 0 or -errno. */
int proc_exe_mappings(pid_t pid, uint64_t ino, struct proc_maps *out);
void proc_maps_free(struct proc_maps *m);

/* The start address of the mapping at file offset 0, or 0 if there is none. */
uint64_t proc_maps_base(const struct proc_maps *m);

/* The path of the process's memory cgroup ("/" when none), v2 or v1. 0 or -errno. */
int proc_memcg_path(pid_t pid, char *buf, size_t len);

/* The process's cgroup in the unified (v2) hierarchy, from the "0::" line of
 * /proc/PID/cgroup (on hybrid hosts too). 0, -ENOENT when it has none, or -errno. */
int proc_cgroup2_path(pid_t pid, char *buf, size_t len);

/* The process's anonymous resident memory (RssAnon of /proc/PID/status). 0 or -errno. */
int proc_rss_anon_kb(pid_t pid, uint64_t *kb);

/* A container id found in the cgroup path (64 hex digits), or "" when none. */
void container_id_from_cgroup(const char *cgroup, char *buf, size_t len);

/* A Kubernetes pod UID found in the cgroup path (kubepods/.../pod<UID> or
 * kubepods-...-pod<UID with _>.slice), or "" when none. */
void pod_uid_from_cgroup(const char *cgroup, char *buf, size_t len);

/* The memory limit of a memory cgroup given by its path (as proc_memcg_path returns
 * it): memory.max (v2) or memory.limit_in_bytes (v1). UINT64_MAX when unlimited.
 * 0 or -errno. */
int memcg_limit_bytes(const char *cgroup, uint64_t *limit);

/* A number file of a memory cgroup given by its path: v2_file in a v2 hierarchy with the
 * memory controller, else v1_file of the v1 memory controller ("max" reads as
 * UINT64_MAX). E.g. ("memory.current", "memory.usage_in_bytes"). 0 or -errno. */
int memcg_read_u64(const char *cgroup, const char *v2_file, const char *v1_file, uint64_t *value);

#endif
