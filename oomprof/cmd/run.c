/*
 * oomprof run [--memory-limit SIZE] [-d DIR] [--fail-above SIZE]
 *             [--snapshot-at PERCENT[,PERCENT...]] [-v] [--] COMMAND [ARGS...]
 *
 * Runs COMMAND in a memory cgroup of its own, watches the Go processes it starts (at
 * any depth) with the daemon's loop restricted to that cgroup, and writes: a kill-time
 * profile of every Go process the OOM killer chooses there, live snapshots when the
 * cgroup's usage first crosses each PERCENT of the limit, and with --fail-above the
 * snapshot nearest to the peak. Ends with a report on stderr and COMMAND's status.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oomprof/base/log.h"
#include "oomprof/base/memcg.h"
#include "oomprof/base/procinfo.h"
#include "oomprof/cmd/cli.h"
#include "oomprof/sink/run_report.h"
#include "oomprof/cmd/watch.h"
#include "oomprof/sink/dir.h"
#include "oomprof/trigger/threshold.h"

/* A process is snapshotted at a threshold only if it holds this share of the usage. */
#define MIN_SHARE_PCT 10
/* How long kill-time profiles still on their way are waited for after COMMAND ends. */
#define PENDING_WAIT_MS 5000
/* After a forwarded SIGINT/SIGTERM, how long COMMAND gets before everything is killed. */
#define STOP_GRACE_MS 5000
/* --fail-above: a new peak snapshot each time usage rises this share above the last. */
#define PEAK_STEP_PCT 5

struct run_opts {
	uint64_t limit, fail_above; /* 0: none */
	const char *dir;
	unsigned pct[THRESHOLD_MAX];
	size_t npct;
	bool verbose;
	char **argv;
};

struct run {
	struct run_opts o;
	struct memcg cg;
	struct watch *w;
	struct threshold th;
	uint32_t fired; /* thresholds already snapshotted */
	uint64_t usage, peak_seen, peak_snapped;
	struct run_report rep;
	bool progress;
	int64_t next_progress;
};

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: oomprof run [--memory-limit SIZE] [-d DIR] [--fail-above SIZE]\n"
	    "                   [--snapshot-at PERCENT[,PERCENT...]] [-v] [--] COMMAND [ARGS...]\n"
	    "\n"
	    "Runs COMMAND in a fresh memory cgroup (removed afterwards) and writes heap\n"
	    "profiles of the Go processes it starts, at any depth, into DIR:\n"
	    "  - at the kill, for every Go process the OOM killer chooses in the cgroup;\n"
	    "  - live snapshots when the cgroup's usage first crosses each PERCENT of the\n"
	    "    limit (default 80,95), of each Go process holding at least %d%% of the\n"
	    "    usage; the Go toolchain's own commands (go, compile, link, vet: main\n"
	    "    package cmd/...) are not snapshotted, only profiled if the OOM killer\n"
	    "    chooses them;\n"
	    "  - with --fail-above, the snapshot nearest to the peak usage.\n"
	    "Then prints a report on stderr. Needs root (BPF programs, cgroups).\n"
	    "\n"
	    "  -m, --memory-limit SIZE   the cgroup's limit, e.g. 256M (default: none)\n"
	    "  -d, --dir DIR             where profiles go (default: .)\n"
	    "      --fail-above SIZE     fail when the peak usage passes SIZE\n"
	    "      --snapshot-at LIST    percents of the limit (default 80,95)\n"
	    "  -v, --verbose             log every event of the watch loop\n"
	    "\n"
	    "Exit status: COMMAND's own (128+N when a signal N ended it); %d when\n"
	    "--fail-above was passed by a COMMAND that succeeded; %d when oomprof itself\n"
	    "failed (not root, no BPF, no memory cgroup); 126/127 when COMMAND could not\n"
	    "be executed / found.\n",
	    MIN_SHARE_PCT, EXIT_RUN_FAIL_ABOVE, EXIT_RUN_FAILED);
}

static int bad_arg(const char *opt, const char *arg)
{
	fprintf(stderr, "oomprof run: bad %s '%s'\n", opt, arg);
	return EXIT_USAGE;
}

static int parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {{"memory-limit", required_argument, NULL, 'm'},
						 {"dir", required_argument, NULL, 'd'},
						 {"fail-above", required_argument, NULL, 'F'},
						 {"snapshot-at", required_argument, NULL, 'S'},
						 {"verbose", no_argument, NULL, 'v'},
						 {"help", no_argument, NULL, 'h'},
						 {0}};
	int c;

	while ((c = getopt_long(argc, argv, "+m:d:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_size(optarg, &o->limit) || o->limit < (1u << 20))
				return bad_arg("--memory-limit (at least 1M)", optarg);
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'F':
			if (parse_size(optarg, &o->fail_above) || !o->fail_above)
				return bad_arg("--fail-above", optarg);
			break;
		case 'S':
			if (threshold_parse(optarg, o->pct, THRESHOLD_MAX, &o->npct))
				return bad_arg("--snapshot-at (percents 1-100, comma-separated)",
					       optarg);
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "oomprof run: no COMMAND given\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	o->argv = argv + optind;
	return 0;
}

/* Threshold snapshots are for processes whose heap is what fills the cgroup. */
static bool worth_a_snapshot(pid_t pid, const struct gosym_info *info, void *ctx)
{
	const struct run *r = ctx;
	uint64_t kb;

	if (!strncmp(info->main_module, "cmd/", 4)) /* the go command, compile, link, vet */
		return false;
	if (proc_rss_anon_kb(pid, &kb))
		return false;
	return kb * 1024 * 100 >= r->usage * MIN_SHARE_PCT;
}

static void on_profile(const struct watch_profile *wp, void *ctx)
{
	run_report_add(&((struct run *)ctx)->rep, wp);
}

static void snapshot_threshold(struct run *r, size_t i)
{
	struct snap_reason why = {
	    .trigger = "threshold", .usage = r->usage, .limit = r->cg.limit, .pressure = -1};

	snprintf(why.tag, sizeof(why.tag), "prekill-%upct", r->th.pct[i]);
	snprintf(why.detail, sizeof(why.detail),
		 "oomprof run: memory cgroup usage crossed %u%% of its limit", r->th.pct[i]);
	watch_snapshot_all(r->w, &why, worth_a_snapshot, r);
}

/* --fail-above: keep one set of snapshots, the one taken nearest to the peak. */
static void snapshot_peak(struct run *r)
{
	struct snap_reason why = {
	    .trigger = "peak", .usage = r->usage, .limit = r->cg.limit, .pressure = -1};
	uint64_t step = r->o.fail_above / 100 * PEAK_STEP_PCT;

	if (r->usage <= r->o.fail_above || (r->peak_snapped && r->usage < r->peak_snapped + step))
		return;
	snprintf(why.tag, sizeof(why.tag), "peak");
	snprintf(why.detail, sizeof(why.detail),
		 "oomprof run: usage %llu bytes, above --fail-above %llu, a new peak",
		 (unsigned long long)r->usage, (unsigned long long)r->o.fail_above);
	run_report_drop_trigger(&r->rep, "peak"); /* the older peak snapshots go */
	if (watch_snapshot_all(r->w, &why, worth_a_snapshot, r))
		r->peak_snapped = r->usage;
}

static void show_progress(struct run *r)
{
	char u[32], p[32], l[32];

	if (!r->progress || mono_ms() < r->next_progress)
		return;
	r->next_progress = mono_ms() + 500;
	run_format_bytes(r->usage, u, sizeof(u));
	run_format_bytes(r->peak_seen, p, sizeof(p));
	run_format_bytes(r->cg.limit, l, sizeof(l));
	fprintf(stderr, "\roomprof run: usage %s, limit %s, peak %s, %zu profiles\033[K", u, l, p,
		r->rep.n);
}

/* One round: kernel records, usage, the triggers it fires. */
static int watch_round(struct run *r, int timeout_ms)
{
	int fds[1] = {r->cg.event_fd};
	uint64_t junk;
	uint32_t crossed;
	int e = watch_poll(r->w, timeout_ms, fds, r->cg.event_fd >= 0);

	if (r->cg.event_fd >= 0 && read(r->cg.event_fd, &junk, sizeof(junk)) < 0)
		junk = 0; /* nothing signalled: a timeout */
	if (memcg_usage(&r->cg, &r->usage) == 0 && r->usage > r->peak_seen)
		r->peak_seen = r->usage;
	crossed = threshold_update(&r->th, r->usage) & ~r->fired;
	r->fired |= crossed;
	for (size_t i = 0; i < r->th.n; i++)
		if (crossed & (1u << i))
			snapshot_threshold(r, i);
	if (r->o.fail_above)
		snapshot_peak(r);
	show_progress(r);
	return e;
}

/* The child: into the cgroup, back to a normal OOM score, then COMMAND. */
static void start_command(const struct run *r)
{
	FILE *f = fopen("/proc/self/oom_score_adj", "we");
	int e;

	if (f) { /* oomprof protects itself with -1000; COMMAND must be killable */
		fputs("0", f);
		fclose(f);
	}
	if ((e = memcg_join(&r->cg))) {
		fprintf(stderr, "oomprof run: joining %s: %s\n", r->cg.dir, strerror(-e));
		_exit(EXIT_RUN_FAILED);
	}
	execvp(r->o.argv[0], r->o.argv);
	fprintf(stderr, "oomprof run: %s: %s\n", r->o.argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* Waits for COMMAND, forwarding SIGINT/SIGTERM; a COMMAND that ignores them for
 * STOP_GRACE_MS is killed with everything in the cgroup. Returns its wait status. */
static int wait_command(struct run *r, pid_t child, int *status)
{
	int64_t kill_at = 0;

	for (;;) {
		pid_t got = waitpid(child, status, WNOHANG);
		if (got == child)
			return 0;
		if (got < 0 && errno != EINTR)
			return -errno;
		if (stop_signal) {
			kill(child, stop_signal);
			stop_signal = 0;
			if (!kill_at)
				kill_at = mono_ms() + STOP_GRACE_MS;
		}
		if (kill_at && mono_ms() >= kill_at)
			memcg_kill_all(&r->cg);
		if (watch_round(r, 100) < 0)
			return -EIO;
	}
}

/* Kill-time profiles still on their way arrive, then nothing is left running. */
static void finish(struct run *r)
{
	int64_t until = mono_ms() + PENDING_WAIT_MS;

	memcg_kill_all(&r->cg); /* what COMMAND left behind */
	while (watch_pending(r->w) && mono_ms() < until)
		watch_round(r, 100);
	if (r->progress)
		fprintf(stderr, "\r\033[K");
}

static int setup(struct run *r)
{
	char err[1024];
	int e;

	if (geteuid() != 0) {
		fprintf(stderr, "oomprof run: needs root (BPF programs and a memory cgroup of its "
				"own); run it with sudo\n");
		return -EPERM;
	}
	if ((e = sink_make_dir(r->o.dir)) < 0) {
		fprintf(stderr, "oomprof run: cannot create %s: %s\n", r->o.dir, strerror(-e));
		return e;
	}
	if ((e = memcg_create(&r->cg, "oomprof-run", r->o.limit, err, sizeof(err)))) {
		fprintf(stderr, "oomprof run: %s\n", err);
		return e;
	}
	threshold_init(&r->th, r->cg.limit, r->o.pct, r->o.npct);
	for (size_t i = 0; i < r->th.n && r->cg.limit != UINT64_MAX; i++)
		memcg_notify_at(&r->cg, threshold_bytes(&r->th, i)); /* v1; v2 polls */
	if (r->o.fail_above)
		memcg_notify_at(&r->cg, r->o.fail_above);
	return 0;
}

static int exit_status(const struct run *r, int status)
{
	int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

	if (rc == 0 && r->o.fail_above && r->rep.peak > r->o.fail_above)
		rc = EXIT_RUN_FAIL_ABOVE;
	return rc;
}

int cmd_run(int argc, char **argv)
{
	struct run r = {.o = {.dir = ".", .pct = {80, 95}, .npct = 2}};
	struct watch_config cfg = {.on_profile = on_profile, .ctx = &r};
	char err[1024];
	int rc = parse_args(argc, argv, &r.o), status = 0, e;
	pid_t child;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	log_setup(r.o.verbose ? LOG_INFO : LOG_WARN, LOG_TEXT);
	r.cg.event_fd = -1;
	/* Before the cgroup exists, so that no signal can leave it behind. */
	signal(SIGINT, on_stop_signal);
	signal(SIGTERM, on_stop_signal);
	signal(SIGHUP, on_stop_signal);
	if (setup(&r)) {
		memcg_destroy(&r.cg, err, sizeof(err));
		return EXIT_RUN_FAILED;
	}
	cfg.dir = r.o.dir;
	cfg.only_memcg = r.cg.path;
	r.progress = isatty(STDERR_FILENO);
	if (!(r.w = watch_open(&cfg))) {
		memcg_destroy(&r.cg, err, sizeof(err));
		return EXIT_RUN_FAILED;
	}
	if (stop_signal) { /* stopped while the BPF programs loaded: COMMAND never ran */
		watch_close(r.w);
		memcg_destroy(&r.cg, err, sizeof(err));
		return 128 + stop_signal;
	}
	child = fork();
	if (child == 0)
		start_command(&r);
	if (child < 0 || (e = wait_command(&r, child, &status)) < 0) {
		fprintf(stderr, "oomprof run: %s\n", strerror(child < 0 ? errno : -e));
		rc = EXIT_RUN_FAILED;
		if (child > 0)
			kill(child, SIGKILL), waitpid(child, NULL, 0);
	}
	finish(&r);
	watch_close(r.w);
	run_report_measure(&r.rep, &r.cg, r.peak_seen);
	if (memcg_destroy(&r.cg, err, sizeof(err))) {
		fprintf(stderr, "oomprof run: %s\n", err);
		rc = EXIT_RUN_FAILED;
	} else {
		r.rep.cgroup_removed = true;
	}
	if (!rc)
		rc = exit_status(&r, status);
	run_report_print(&r.rep, stderr, status, r.o.fail_above, rc);
	run_report_free(&r.rep);
	return rc;
}
