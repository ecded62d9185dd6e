#include "oomprof/base/memcg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oomprof/base/procinfo.h"

#define V1_ROOT "/sys/fs/cgroup/memory"

static int write_file(const struct memcg *cg, const char *name, const char *value)
{
	char path[640];
	int fd, e = 0;
	size_t len = strlen(value);

	snprintf(path, sizeof(path), "%s/%s", cg->dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, len) != (ssize_t)len)
		e = errno ? -errno : -EIO;
	close(fd);
	return e;
}

/* Reads a whole small file of the cgroup into buf (NUL-terminated). 0 or -errno. */
static int read_file(const struct memcg *cg, const char *name, char *buf, size_t len)
{
	char path[640];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", cg->dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

static bool has_memory_controller(const char *v2root)
{
	char path[256], buf[512] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", v2root);
	if (!(f = fopen(path, "re")))
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	for (char *save = NULL, *w = strtok_r(buf, " \n", &save); w;
	     w = strtok_r(NULL, " \n", &save))
		if (!strcmp(w, "memory"))
			return true;
	return false;
}

/* The root of the hierarchy to create the cgroup in, and whether it is v2. */
static const char *memory_root(bool *v2)
{
	static const char *const v2roots[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	struct stat st;

	for (size_t i = 0; i < sizeof(v2roots) / sizeof(v2roots[0]); i++)
		if (has_memory_controller(v2roots[i])) {
			*v2 = true;
			return v2roots[i];
		}
	*v2 = false;
	return stat(V1_ROOT "/memory.limit_in_bytes", &st) == 0 ? V1_ROOT : NULL;
}

static int set_limit(const struct memcg *cg, uint64_t limit)
{
	char value[32];
	int e;

	snprintf(value, sizeof(value), "%llu", (unsigned long long)limit);
	if (cg->v2) {
		e = write_file(cg, "memory.max", value);
		if (!e) /* no swapping out of the limit; absent without swap accounting */
			write_file(cg, "memory.swap.max", "0");
		return e;
	}
	e = write_file(cg, "memory.limit_in_bytes", value);
	/* Keep the kernel's OOM killer on (a paused cgroup would hang the command). */
	if (!e)
		write_file(cg, "memory.oom_control", "0");
	if (!e)
		write_file(cg, "memory.swappiness", "0");
	return e;
}

/* The creator's pid of a cgroup named "<prefix>-<pid>-<time>", or 0 when the name is not
 * of that form. */
static pid_t creator_pid(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;
	long pid;

	if (strncmp(name, prefix, n) || name[n] != '-')
		return 0;
	pid = strtol(name + n + 1, &end, 10);
	if (pid <= 0 || *end != '-' || end[1] < '0' || end[1] > '9')
		return 0;
	return (pid_t)pid;
}

/*
 * A run that was itself SIGKILLed cannot remove its cgroup. The next one removes such
 * leftovers: cgroups of our own naming whose creator is gone and which are empty (rmdir
 * refuses a cgroup that still has processes, so nothing running is ever touched).
 */
static void remove_stale(const char *root, const char *prefix)
{
	struct dirent *d;
	char dir[640];
	pid_t pid;
	DIR *dp;

	if (!(dp = opendir(root)))
		return;
	while ((d = readdir(dp))) {
		if (d->d_type != DT_DIR || !(pid = creator_pid(d->d_name, prefix)))
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", root, d->d_name);
		rmdir(dir);
	}
	closedir(dp);
}

int memcg_create(struct memcg *cg, const char *prefix, uint64_t limit, char *err, size_t errlen)
{
	const char *root = memory_root(&cg->v2);
	int e;

	cg->event_fd = -1;
	cg->limit = limit ? limit : UINT64_MAX;
	if (!root) {
		snprintf(err, errlen, "no cgroup hierarchy with the memory controller");
		return -ENOENT;
	}
	remove_stale(root, prefix);
	snprintf(cg->path, sizeof(cg->path), "/%s-%d-%lld", prefix, (int)getpid(),
		 (long long)time(NULL));
	snprintf(cg->dir, sizeof(cg->dir), "%s%s", root, cg->path);
	if (mkdir(cg->dir, 0755) < 0) {
		e = -errno;
		snprintf(err, errlen, "creating the memory cgroup %s: %s%s", cg->dir,
			 strerror(errno), errno == EACCES ? " (run as root)" : "");
		cg->dir[0] = 0;
		return e;
	}
	if (limit && (e = set_limit(cg, limit))) {
		snprintf(err, errlen, "setting the memory limit of %s: %s", cg->dir, strerror(-e));
		memcg_destroy(cg, NULL, 0);
		return e;
	}
	return 0;
}

int memcg_open(struct memcg *cg, const char *path)
{
	bool v2;
	const char *root = memory_root(&v2);
	struct stat st;

	if (!root || strlen(path) >= sizeof(cg->path) || path[0] != '/')
		return -ENOENT;
	memset(cg, 0, sizeof(*cg));
	cg->event_fd = -1;
	cg->v2 = v2;
	snprintf(cg->path, sizeof(cg->path), "%s", path);
	snprintf(cg->dir, sizeof(cg->dir), "%s%s", root, strcmp(path, "/") ? path : "");
	if (stat(cg->dir, &st) < 0)
		return -errno;
	cg->borrowed = true;
	return memcg_limit_bytes(path, &cg->limit) < 0 ? -ENOENT : 0;
}

int memcg_join(const struct memcg *cg)
{
	return write_file(cg, "cgroup.procs", "0"); /* "0": the writing process */
}

int memcg_usage(const struct memcg *cg, uint64_t *bytes)
{
	return memcg_read_u64(cg->path, "memory.current", "memory.usage_in_bytes", bytes);
}

int memcg_peak(const struct memcg *cg, uint64_t *bytes)
{
	return memcg_read_u64(cg->path, "memory.peak", "memory.max_usage_in_bytes", bytes);
}

long long memcg_oom_kills(const struct memcg *cg)
{
	char buf[4096], *save = NULL;

	if (read_file(cg, cg->v2 ? "memory.events" : "memory.oom_control", buf, sizeof(buf)))
		return -1;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "oom_kill ", 9))
			return strtoll(l + 9, NULL, 10);
	return -1;
}

int memcg_notify_at(struct memcg *cg, uint64_t bytes)
{
	char path[640], line[96];
	int ufd, e;

	if (cg->v2)
		return -EOPNOTSUPP;
	if (cg->event_fd < 0 && (cg->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		cg->event_fd = -1;
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/memory.usage_in_bytes", cg->dir);
	if ((ufd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	snprintf(line, sizeof(line), "%d %d %llu", cg->event_fd, ufd, (unsigned long long)bytes);
	e = write_file(cg, "cgroup.event_control", line);
	close(ufd); /* the kernel holds what it needs */
	return e;
}

int memcg_nprocs(const struct memcg *cg)
{
	char buf[16384];
	int n = 0, e = read_file(cg, "cgroup.procs", buf, sizeof(buf));

	if (e)
		return e;
	for (char *p = buf; *p; p++)
		n += *p == '\n';
	return n;
}

void memcg_kill_all(const struct memcg *cg)
{
	char buf[16384], *save = NULL;

	if (cg->v2 && write_file(cg, "cgroup.kill", "1") == 0)
		return;
	if (read_file(cg, "cgroup.procs", buf, sizeof(buf)))
		return;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		long pid = strtol(l, NULL, 10);
		if (pid > 0)
			kill((pid_t)pid, SIGKILL);
	}
}

int memcg_destroy(struct memcg *cg, char *err, size_t errlen)
{
	int e = 0;

	if (cg->event_fd >= 0)
		close(cg->event_fd); /* the kernel drops the registration with it */
	cg->event_fd = -1;
	if (!cg->dir[0] || cg->borrowed)
		return 0;
	for (int tries = 0; tries < 500; tries++) { /* 500 × 10 ms: the kill is quick */
		if (rmdir(cg->dir) == 0 || errno == ENOENT) {
			cg->dir[0] = 0;
			return 0;
		}
		e = -errno;
		if (errno != EBUSY)
			break;
		memcg_kill_all(cg);
		usleep(10000);
	}
	if (err)
		snprintf(err, errlen, "cannot remove the memory cgroup %s: %s", cg->dir,
			 strerror(-e));
	return e;
}

int parse_size(const char *s, uint64_t *out)
{
	static const char suffixes[] = "KMGT";
	unsigned long long v;
	const char *x;
	char *end;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end && (x = strchr(suffixes, *end & ~0x20))) {
		unsigned shift = 10 * (unsigned)(x - suffixes + 1);
		if (v > (UINT64_MAX >> shift))
			return -EINVAL;
		v <<= shift;
		end++;
		if (*end == 'i' || *end == 'B')
			end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}
