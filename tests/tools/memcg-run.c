/*
 * memcg-run: run a command in a fresh memory cgroup with a memory limit, wait until
 * it exits or is OOM-killed, report how it ended, and always remove the cgroup.
 *
 *   memcg-run --limit 256M [--name PREFIX] [--report FILE] [--timeout SECS] -- CMD [ARG...]
 *
 * Uses cgroup v2 (memory.max) where a v2 hierarchy has the memory controller, else the
 * v1 memory controller (memory.limit_in_bytes). Prints one line on stderr, e.g.
 *   memcg-run: outcome=oom-killed signal=9 oom_kills=1 limit=268435456 peak=268435456
 *             cgroup=/sys/fs/cgroup/memory/memcg-run-1234 pid=1235
 * and the same as key=value lines into --report FILE. The environment variable
 * MEMCG_RUN_CGROUP is set for the command. Exit status: the command's, or 128+signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct memcg {
	char path[512];
	bool v2;
};

static volatile sig_atomic_t forwarded_signal;

static void on_signal(int sig)
{
	forwarded_signal = sig;
}

static int write_file(const char *dir, const char *name, const char *value)
{
	char path[640];
	int fd, err = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

static int read_file(const char *dir, const char *name, char *buf, size_t len)
{
	char path[640];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
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

/* Value of "key N" in a flat-keyed file such as memory.events or memory.oom_control. */
static long long keyed_value(const char *dir, const char *file, const char *key)
{
	char buf[4096], *line, *save = NULL;
	size_t klen = strlen(key);

	if (read_file(dir, file, buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			return strtoll(line + klen + 1, NULL, 10);
	return -1;
}

static long long number_file(const char *dir, const char *name)
{
	char buf[64];

	if (read_file(dir, name, buf, sizeof(buf)) < 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

static bool has_memory_controller(const char *v2root)
{
	char buf[512];

	return read_file(v2root, "cgroup.controllers", buf, sizeof(buf)) == 0 &&
	       strstr(buf, "memory") != NULL;
}

static int memcg_create(struct memcg *cg, const char *prefix)
{
	static const char *v2roots[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	const char *root = NULL;
	struct stat st;

	for (size_t i = 0; i < sizeof(v2roots) / sizeof(v2roots[0]); i++)
		if (has_memory_controller(v2roots[i])) {
			root = v2roots[i];
			cg->v2 = true;
			break;
		}
	if (!root && stat("/sys/fs/cgroup/memory/memory.limit_in_bytes", &st) == 0)
		root = "/sys/fs/cgroup/memory";
	if (!root) {
		fprintf(stderr, "memcg-run: no cgroup hierarchy with the memory controller\n");
		return -ENOENT;
	}
	snprintf(cg->path, sizeof(cg->path), "%s/%s-%d-%ld", root, prefix, getpid(),
		 (long)time(NULL));
	if (mkdir(cg->path, 0755) < 0) {
		int err = -errno;
		fprintf(stderr, "memcg-run: mkdir %s: %s\n", cg->path, strerror(errno));
		return err;
	}
	return 0;
}

static int memcg_limit(const struct memcg *cg, unsigned long long limit)
{
	char value[32];
	int err;

	snprintf(value, sizeof(value), "%llu", limit);
	if (cg->v2) {
		err = write_file(cg->path, "memory.max", value);
		if (!err)
			write_file(cg->path, "memory.swap.max", "0");
	} else {
		err = write_file(cg->path, "memory.limit_in_bytes", value);
		/* v1: keep the kernel's OOM killer on, and no swapping out of the limit. */
		if (!err)
			write_file(cg->path, "memory.oom_control", "0");
		if (!err)
			write_file(cg->path, "memory.swappiness", "0");
	}
	if (err)
		fprintf(stderr, "memcg-run: setting the limit on %s: %s\n", cg->path,
			strerror(-err));
	return err;
}

static long long memcg_oom_kills(const struct memcg *cg)
{
	return keyed_value(cg->path, cg->v2 ? "memory.events" : "memory.oom_control", "oom_kill");
}

static long long memcg_peak(const struct memcg *cg)
{
	return number_file(cg->path, cg->v2 ? "memory.peak" : "memory.max_usage_in_bytes");
}

/* Kills whatever the command left in the cgroup, then removes the cgroup. */
static void memcg_remove(const struct memcg *cg)
{
	char buf[8192];

	for (int tries = 0; tries < 500; tries++) {
		if (rmdir(cg->path) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY) {
			fprintf(stderr, "memcg-run: rmdir %s: %s\n", cg->path, strerror(errno));
			return;
		}
		if (read_file(cg->path, "cgroup.procs", buf, sizeof(buf)) == 0) {
			char *save = NULL;
			for (char *l = strtok_r(buf, "\n", &save); l;
			     l = strtok_r(NULL, "\n", &save))
				kill((pid_t)atoi(l), SIGKILL);
		}
		usleep(10000);
	}
	fprintf(stderr, "memcg-run: could not remove %s\n", cg->path);
}

static int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10, end++;
		break;
	case 'm':
	case 'M':
		v <<= 20, end++;
		break;
	case 'g':
	case 'G':
		v <<= 30, end++;
		break;
	}
	if (*end || v == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: memcg-run --limit SIZE[K|M|G] [--name PREFIX] [--report FILE] "
		     "[--timeout SECS] -- CMD [ARG...]\n");
}

/* Child: join the cgroup, then exec the command. */
static void run_child(const struct memcg *cg, char **argv)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_file(cg->path, "cgroup.procs", pid) < 0) {
		fprintf(stderr, "memcg-run: joining %s: %s\n", cg->path, strerror(errno));
		_exit(126);
	}
	setenv("MEMCG_RUN_CGROUP", cg->path, 1);
	execvp(argv[0], argv);
	fprintf(stderr, "memcg-run: %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Waits for the child; after the timeout it is killed. Returns its wait status. */
static int wait_child(pid_t child, int timeout)
{
	time_t deadline = timeout > 0 ? time(NULL) + timeout : 0;
	int status;

	for (;;) {
		pid_t r = waitpid(child, &status, WNOHANG);
		if (r == child)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (forwarded_signal) {
			kill(child, forwarded_signal);
			forwarded_signal = 0;
		}
		if (deadline && time(NULL) >= deadline) {
			fprintf(stderr, "memcg-run: timed out after %ds, killing\n", timeout);
			kill(child, SIGKILL);
			deadline = 0;
		}
		usleep(5000);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"limit", required_argument, NULL, 'l'},  {"name", required_argument, NULL, 'n'},
	    {"report", required_argument, NULL, 'r'}, {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},	      {0}};
	const char *prefix = "memcg-run", *report = NULL, *outcome;
	unsigned long long limit = 0;
	int timeout = 0, c, status, rc;
	long long oom_kills, peak;
	struct memcg cg = {0};
	char line[1024];
	pid_t child;

	while ((c = getopt_long(argc, argv, "+l:n:r:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (parse_size(optarg, &limit) < 0) {
				fprintf(stderr, "memcg-run: bad --limit '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			prefix = optarg;
			break;
		case 'r':
			report = optarg;
			break;
		case 't':
			timeout = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!limit || optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (memcg_create(&cg, prefix) < 0)
		return 1;
	if (memcg_limit(&cg, limit) < 0) {
		memcg_remove(&cg);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	child = fork();
	if (child < 0) {
		perror("memcg-run: fork");
		memcg_remove(&cg);
		return 1;
	}
	if (child == 0)
		run_child(&cg, argv + optind);

	status = wait_child(child, timeout);
	oom_kills = memcg_oom_kills(&cg);
	peak = memcg_peak(&cg);
	memcg_remove(&cg);

	if (status < 0) {
		outcome = "unknown";
		rc = 1;
	} else if (WIFEXITED(status)) {
		outcome = "exited";
		rc = WEXITSTATUS(status);
	} else {
		outcome = WTERMSIG(status) == SIGKILL && oom_kills > 0 ? "oom-killed" : "signaled";
		rc = 128 + WTERMSIG(status);
	}
	snprintf(line, sizeof(line),
		 "outcome=%s exit_code=%d signal=%d oom_kills=%lld limit=%llu peak=%lld cgroup=%s "
		 "pid=%d",
		 outcome, status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		 status >= 0 && WIFSIGNALED(status) ? WTERMSIG(status) : 0, oom_kills, limit, peak,
		 cg.path, child);
	fprintf(stderr, "memcg-run: %s\n", line);
	if (report) {
		FILE *f = fopen(report, "w");
		if (f) {
			for (char *p = line; *p; p++)
				fputc(*p == ' ' ? '\n' : *p, f);
			fputc('\n', f);
			fclose(f);
		}
	}
	return rc;
}
