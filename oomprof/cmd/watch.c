/*
 * oomprof watch: the daemon. Finds Go processes (a /proc scan at start, then exec and
 * exit events from BPF), registers where each keeps its memory profile, and when the
 * OOM killer chooses one, writes the profile its threads streamed on their way out.
 *
 *   oomprof watch [-d DIR] [--enable-memprofile[=RATE]] [-v] [--log-format text|json]
 *                 [--before-oom PERCENT] [--psi THRESHOLD]
 *
 * The loop itself (watch_open/watch_poll/watch_close, oomprof/cmd/watch.h) also serves
 * `oomprof run`, restricted to the run's memory cgroup.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oomprof/base/bincache.h"
#include "oomprof/source/capture.h"
#include "oomprof/cmd/cli.h"
#include "oomprof/cmd/watch.h"
#include "oomprof/profile/heapprof.h"
#include "oomprof/base/log.h"
#include "oomprof/sink/dir.h"
#include "oomprof/profile/target.h"
#include "oomprof/profile/truth.h"
#include "oomprof/source/rate.h"

#define DEFAULT_DIR	    "/var/lib/oomprof"
#define DEFAULT_ENABLE_RATE 524288
/* How long a gone process's facts are kept for a profile still on its way. */
#define EXITED_KEEP_MS 30000
#define DEFAULT_COOLDOWN_MS  300000
#define DEFAULT_PSI_DURATION 10

struct watched {
	pid_t tgid;
	uint64_t start_ticks;
	struct bincache_entry *bin;
	struct go_target target;
	char memcg[512], container[80];
	/* MemProfileRate over its life; --enable-memprofile */
	struct rate_track rate;
	int64_t exited_ms; /* 0 while alive */
	bool victim;
	struct capture_victim kill;
	int64_t kill_time_ns;
	uint64_t memcg_limit;
};

struct watch {
	const char *dir;
	int64_t enable_rate; /* 0: leave profiling-disabled processes alone */
	struct capture *cap;
	struct bincache *bins;
	struct watched **procs;
	size_t nprocs, cap_procs;
	uint64_t profiles_written, victims;
	struct watch_config cfg;
	struct prekill *prekill;	  /* NULL: no snapshots before a kill */
	uint64_t go_victims, go_profiles; /* for watch_pending */
	int64_t next_tick;
};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct watched *find_proc(struct watch *w, pid_t tgid)
{
	for (size_t i = 0; i < w->nprocs; i++)
		if (w->procs[i]->tgid == tgid && !w->procs[i]->exited_ms)
			return w->procs[i];
	for (size_t i = 0; i < w->nprocs; i++) /* a victim's facts outlive it a while */
		if (w->procs[i]->tgid == tgid)
			return w->procs[i];
	return NULL;
}

static void forget_proc(struct watch *w, size_t i)
{
	struct watched *p = w->procs[i];

	capture_remove_process(w->cap, p->tgid);
	target_close(&p->target);
	bincache_put(w->bins, p->bin);
	free(p);
	w->procs[i] = w->procs[--w->nprocs];
}

static int add_proc(struct watch *w, struct watched *p)
{
	if (w->nprocs == w->cap_procs) {
		size_t cap = w->cap_procs ? w->cap_procs * 2 : 64;
		struct watched **v = realloc(w->procs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		w->procs = v;
		w->cap_procs = cap;
	}
	w->procs[w->nprocs++] = p;
	return 0;
}

static void register_proc(struct watch *w, struct watched *p)
{
	struct capture_target t = {
	    .mbuckets_addr = p->target.addrs.mbuckets,
	    .mem_profile_rate_addr = p->target.addrs.mem_profile_rate,
	    .prof_cycle_addr = p->target.addrs.prof_cycle,
	    .start_ticks = p->start_ticks,
	};
	int e = capture_add_process(w->cap, p->tgid, &t);

	if (e)
		log_warn("pid %d (%s): cannot watch it: %s", p->tgid, p->target.comm, strerror(-e));
	else
		log_debug("watching pid %d (%s, %s)", p->tgid, p->target.comm,
			  gosym_info(p->bin->sym)->go_version);
}

/* Whether pid is in the memory cgroup the loop is restricted to (or below it). */
static bool in_scope(const struct watch *w, pid_t pid)
{
	const char *only = w->cfg.only_memcg;
	char memcg[512];
	size_t n;

	if (!only)
		return true;
	if (proc_memcg_path(pid, memcg, sizeof(memcg)))
		return false;
	n = strlen(only);
	return !strncmp(memcg, only, n) && (memcg[n] == 0 || memcg[n] == '/');
}

/* A process that started or exec'd: if it is a Go program, watch it. */
static void consider(struct watch *w, pid_t pid)
{
	struct bincache_entry *bin;
	struct watched *p;
	char err[512];

	if (pid == getpid() || !in_scope(w, pid))
		return;
	for (size_t i = 0; i < w->nprocs; i++) /* an exec replaces the old image */
		if (w->procs[i]->tgid == pid && !w->procs[i]->exited_ms)
			forget_proc(w, i--);
	bin = bincache_get(w->bins, pid);
	if (!bin)
		return;
	if (!bin->is_go) {
		bincache_put(w->bins, bin);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p || target_open_with(pid, bin->sym, &p->target, err, sizeof(err))) {
		if (p)
			log_debug("pid %d: not watched: %s", pid, err);
		bincache_put(w->bins, bin);
		free(p);
		return;
	}
	p->tgid = pid;
	p->bin = bin;
	proc_start_time(pid, &p->start_ticks);
	if (proc_memcg_path(pid, p->memcg, sizeof(p->memcg)) == 0)
		container_id_from_cgroup(p->memcg, p->container, sizeof(p->container));
	if (add_proc(w, p)) {
		target_close(&p->target);
		bincache_put(w->bins, bin);
		free(p);
		return;
	}
	register_proc(w, p);
	rate_track_start(&p->rate, pid, p->target.addrs.mem_profile_rate, p->target.comm,
			 gosym_info(bin->sym)->profiling_disabled == 1, w->enable_rate, mono_ms());
}

static void scan_proc(struct watch *w)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d) {
		log_error("cannot list /proc: %s", strerror(errno));
		return;
	}
	while ((de = readdir(d)))
		if (isdigit((unsigned char)de->d_name[0]))
			consider(w, (pid_t)atoi(de->d_name));
	closedir(d);
	log_info("watching %zu Go processes (%zu binaries parsed)", w->nprocs,
		 (size_t)bincache_parses(w->bins));
}

static void on_exec(pid_t pid, pid_t old_pid, const char *comm, const char *filename, void *ctx)
{
	(void)old_pid;
	(void)comm;
	(void)filename;
	consider(ctx, pid);
}

static void on_exit_event(pid_t tgid, uint64_t start_ticks, void *ctx)
{
	struct watch *w = ctx;

	for (size_t i = 0; i < w->nprocs; i++) {
		struct watched *p = w->procs[i];
		if (p->tgid != tgid || p->exited_ms ||
		    (start_ticks && p->start_ticks && start_ticks != p->start_ticks))
			continue;
		if (p->victim) /* keep its facts for the profile still on its way */
			p->exited_ms = mono_ms();
		else
			forget_proc(w, i);
		return;
	}
}

static pid_t tgid_of(pid_t pid)
{
	char path[64], line[256];
	pid_t tgid = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "re")))
		return pid;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

/* Another mark of a process whose death is already being captured: TIF_MEMDIE is per
 * thread, so the kernel can mark several threads of one dying process. The kernel
 * says so (repeat) with tp_btf; with the classic tracepoint, or after the process's
 * exit, the victim's facts kept here tell. */
static bool same_death(const struct watched *p, const struct capture_victim *v)
{
	if (v->repeat)
		return true;
	if (!p || !p->victim)
		return false;
	return !p->exited_ms || !strncmp(p->kill.comm, v->comm, sizeof(v->comm));
}

static void on_victim(const struct capture_victim *v, void *ctx)
{
	struct watch *w = ctx;
	pid_t tgid = v->tgid_known ? v->tgid : tgid_of(v->pid);
	struct watched *p = find_proc(w, tgid);

	if (same_death(p, v)) {
		log_debug("OOM kill: pid %d: thread %d marked too; same death, same profile", tgid,
			  v->pid);
		return;
	}
	w->victims++;
	if (!p && w->cfg.only_memcg)
		return; /* not ours to tell about */
	if (!p) {
		log_info("OOM kill: pid %d (%.16s), anon-rss %llu kB: not a Go program oomprof "
			 "watches; no profile",
			 tgid, v->comm, (unsigned long long)v->anon_rss_kb);
		return;
	}
	if (!p->victim)
		w->go_victims++;
	p->victim = true;
	p->kill = *v;
	p->kill_time_ns = now_ns();
	if (memcg_limit_bytes(p->memcg, &p->memcg_limit) < 0)
		p->memcg_limit = 0;
	log_info("OOM kill: pid %d (%s, %s), anon-rss %llu kB, memory cgroup %s: capturing "
		 "its heap profile",
		 tgid, p->target.comm, gosym_info(p->bin->sym)->go_version,
		 (unsigned long long)v->anon_rss_kb, p->memcg);
}

/* "main.f 50.1%, main.g 30.0%, main.h 19.9%" from the profile just written. */
static void top_three(const char *path, char *buf, size_t len)
{
	struct pprof_profile *prof;
	struct pprof_top top;
	int idx;

	snprintf(buf, len, "(no samples)");
	if (pprof_profile_load(path, NULL, &prof, NULL, 0))
		return;
	idx = pprof_profile_sample_index(prof, "inuse_space");
	if (idx >= 0 && pprof_top_compute(prof, (size_t)idx, &top) == 0) {
		size_t used = 0;
		for (size_t i = 0; i < top.n && i < 3 && top.total > 0 && used < len; i++)
			used += (size_t)snprintf(buf + used, len - used, "%s%s %.1f%%",
						 i ? ", " : "", top.entries[i].name,
						 100.0 * (double)top.entries[i].flat /
						     (double)top.total);
		pprof_top_free(&top);
	}
	pprof_profile_free(prof);
}

static void kill_comments(const struct watched *p, const struct capture_meta *m, char lines[][160])
{
	char stamp[40];
	time_t secs = (time_t)(p->kill_time_ns / 1000000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(lines[0], 160, "kill time: %s", stamp);
	snprintf(lines[1], 160, "victim rss: anon %llu kB, file %llu kB, shmem %llu kB",
		 (unsigned long long)p->kill.anon_rss_kb, (unsigned long long)p->kill.file_rss_kb,
		 (unsigned long long)p->kill.shmem_rss_kb);
	if (p->memcg_limit && p->memcg_limit != UINT64_MAX)
		snprintf(lines[2], 160, "memory cgroup limit: %llu bytes",
			 (unsigned long long)p->memcg_limit);
	else
		snprintf(lines[2], 160, "memory cgroup limit: none");
	snprintf(lines[3], 160, "capture: %u buckets walked in %llu us over %u invocations",
		 m->kernel_nbuckets, (unsigned long long)(m->walk_ns / 1000), m->invocations);
}

static void handle_profile(struct watch *w, struct watched *p, const struct raw_profile *raw,
			   const struct capture_meta *m);

/* What the profile can claim (coverage, sampling switched off or changed): the
 * profile to write, and up to max comment lines into lines (NULL-terminated). */
static struct raw_profile assess_kill(const struct watched *p, const struct raw_profile *raw,
				      struct truth *t, const char **lines, size_t max)
{
	struct rate_facts rf;

	rate_track_facts(&p->rate, raw->mem_profile_rate, &rf);
	truth_assess(raw, CYCLES_LATEST, &rf, p->kill.anon_rss_kb, t);
	lines[truth_comment_lines(t, lines, max)] = NULL;
	return truth_apply(raw, t);
}

static void report_profile(struct watch *w, const struct watched *p, const char *path,
			   const char *trigger, uint64_t anon_rss_kb)
{
	struct watch_profile wp = {p->tgid, p->target.comm, path, trigger, anon_rss_kb};

	if (w->cfg.on_profile)
		w->cfg.on_profile(&wp, w->cfg.ctx);
}

static void write_kill_profile(struct watch *w, struct watched *p, const struct raw_profile *raw,
			       const struct capture_meta *m)
{
	char comments[4][160], path[4096], top[512], err[512];
	struct heap_binary bin = {
	    .sym = p->bin->sym, .bias = p->target.bias, .maps = &p->target.maps};
	struct heap_meta meta = {
	    .pid = p->tgid,
	    .comm = p->target.comm,
	    .memcg = p->memcg,
	    .container_id = p->container,
	    .trigger = "oom-kill",
	    .time_ns = p->kill_time_ns ? p->kill_time_ns : now_ns(),
	    .mode = CYCLES_LATEST,
	};
	struct pprof_builder *pb;
	struct raw_profile honest;
	struct truth t;
	int e;

	kill_comments(p, m, comments);
	for (int i = 0; i < 4; i++)
		meta.extra[i] = comments[i];
	honest = assess_kill(p, raw, &t, meta.extra + 4, 3);
	if ((e = heapprof_build(&honest, &bin, &meta, &pb, err, sizeof(err)))) {
		log_error("pid %d (%s): %s", p->tgid, p->target.comm, err);
		return;
	}
	sink_profile_path(path, sizeof(path), w->dir, p->target.comm, p->tgid, meta.time_ns);
	e = pprof_write_atomic(pb, path, PROFILE_FILE_MODE);
	pprof_builder_free(pb);
	if (e) {
		log_error("pid %d (%s): writing %s: %s", p->tgid, p->target.comm, path,
			  strerror(-e));
		return;
	}
	w->profiles_written++;
	top_three(path, top, sizeof(top));
	log_info("profile written: %s (pid %d %s, %zu buckets, capture %s%s%s; %s); %s: %s", path,
		 p->tgid, p->target.comm, raw->nbuckets, raw_status_name(honest.status),
		 t.partial ? ": " : "", t.partial ? t.status_detail : "", t.coverage,
		 t.partial ? "top of the allocations sampled before that, not the program's memory"
			   : "top inuse_space",
		 top);
	report_profile(w, p, path, "oom-kill", p->kill.anon_rss_kb);
}

static void on_profile(const struct raw_profile *raw, const struct capture_meta *m, void *ctx)
{
	struct watch *w = ctx;
	struct watched *p = find_proc(w, m->tgid);

	if (p && p->victim)
		w->go_profiles++;
	handle_profile(w, p, raw, m);
	/* A 50,000-bucket profile takes tens of MiB for a moment: give it back, so the
	 * daemon's footprint between kills stays small. */
	malloc_trim(0);
}

static void handle_profile(struct watch *w, struct watched *p, const struct raw_profile *raw,
			   const struct capture_meta *m)
{
	if (!p) {
		log_warn("profile of pid %d arrived, but its process is unknown; dropped", m->tgid);
		return;
	}
	if (!raw->nbuckets && !raw->mem_profile_rate &&
	    gosym_info(p->bin->sym)->profiling_disabled == 1) {
		log_warn("pid %d (%s): memory profiling is disabled in its binary (nothing in it "
			 "reaches runtime/pprof), so it had no heap samples; no profile. Fix: use "
			 "runtime/pprof or net/http/pprof in code the program can reach (a blank "
			 "import is not enough), or run oomprof watch --enable-memprofile",
			 p->tgid, p->target.comm);
		return;
	}
	write_kill_profile(w, p, raw, m);
}

/* A live snapshot of p for a reason before any kill. */
static bool snapshot_proc(struct watch *w, struct watched *p, const struct snap_reason *why)
{
	struct snap_opts o = {.dir = w->dir,
			      .mode = CYCLES_LATEST,
			      .partial = true,
			      .memcg = p->memcg,
			      .container = p->container,
			      .why = why};
	char path[4096], err[1024], top[512];
	uint64_t rss_kb = 0;

	proc_rss_anon_kb(p->tgid, &rss_kb);
	if (snap_take(&p->target, &o, path, sizeof(path), err, sizeof(err))) {
		log_warn("pid %d (%s): no %s snapshot: %s", p->tgid, p->target.comm, why->trigger,
			 err);
		return false;
	}
	w->profiles_written++;
	top_three(path, top, sizeof(top));
	log_info("pre-kill snapshot written: %s (pid %d %s, %s); top inuse_space: %s", path,
		 p->tgid, p->target.comm, why->detail, top);
	report_profile(w, p, path, why->trigger, rss_kb);
	return true;
}

/* --before-oom, --psi: snapshot the processes whose cgroup crossed the line. */
static void check_prekill(struct watch *w)
{
	struct snap_reason why;

	prekill_round(w->prekill, mono_ms());
	for (size_t i = 0; i < w->nprocs; i++) {
		struct watched *p = w->procs[i];
		if (!p->exited_ms && !p->victim &&
		    prekill_due(w->prekill, p->tgid, p->start_ticks, p->memcg, &why))
			snapshot_proc(w, p, &why);
	}
}

size_t watch_snapshot_all(struct watch *w, const struct snap_reason *why,
			  bool (*want)(pid_t pid, const struct gosym_info *info, void *ctx),
			  void *ctx)
{
	size_t n = 0;

	for (size_t i = 0; i < w->nprocs; i++) {
		struct watched *p = w->procs[i];
		if (!p->exited_ms && !p->victim &&
		    (!want || want(p->tgid, gosym_info(p->bin->sym), ctx)))
			n += snapshot_proc(w, p, why);
	}
	return n;
}

size_t watch_pending(const struct watch *w)
{
	return w->go_victims > w->go_profiles ? (size_t)(w->go_victims - w->go_profiles) : 0;
}

/* Once a second: follow (and with --enable-memprofile restore) sampling rates, drop
 * long-gone processes. */
static void tick(struct watch *w)
{
	int64_t now = mono_ms();

	for (size_t i = 0; i < w->nprocs; i++) {
		struct watched *p = w->procs[i];
		if (p->exited_ms && now - p->exited_ms > EXITED_KEEP_MS) {
			forget_proc(w, i--);
			continue;
		}
		if (!p->exited_ms)
			rate_track_tick(&p->rate, now);
	}
}

/*
 * Real-time priority for the reader: a victim's thread waits, preemption off, for room
 * in the ring buffer; a reader woken onto a busy CPU must still get to run and drain
 * it, or a 50,000-bucket capture comes out truncated. The daemon sleeps otherwise.
 */
static void realtime_self(void)
{
	struct sched_param sp = {.sched_priority = 10};

	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) < 0)
		log_warn("cannot run at real-time priority (%s): captures of very large "
			 "profiles may come out truncated on a busy host",
			 strerror(errno));
}

static void protect_self(void)
{
	FILE *f = fopen("/proc/self/oom_score_adj", "we");

	if (!f || fputs("-1000", f) < 0 || fclose(f) != 0)
		log_warn("cannot set own oom_score_adj to -1000: %s (the OOM killer may choose "
			 "oomprof itself)",
			 strerror(errno));
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: oomprof watch [-d DIR] [--enable-memprofile[=RATE]] [-v]\n"
		"                     [--log-format text|json] [--ring-buffer-size BYTES]\n"
		"\n"
		"Watches every Go process on the host; when the OOM killer chooses one, writes\n"
		"its heap profile (up to the moment of death) as DIR/<comm>-<pid>-<time>.pb.gz.\n"
		"Runs until SIGINT or SIGTERM. Needs root (BPF).\n"
		"\n"
		"  -d, --dir DIR               where profiles go (default: " DEFAULT_DIR ")\n"
		"      --enable-memprofile[=RATE]\n"
		"                              set runtime.MemProfileRate (default 524288) in\n"
		"                              processes whose binary disabled memory profiling;\n"
		"                              this writes into their memory, hence opt-in\n"
		"      --ring-buffer-size N    bytes of kernel ring buffer for bucket data\n"
		"                              (default 8 MiB)\n"
		"      --before-oom PERCENT    snapshot a Go process when its memory cgroup's\n"
		"                              usage crosses PERCENT of its limit\n"
		"      --psi THRESHOLD         snapshot the Go processes of a cgroup whose memory\n"
		"                              pressure (memory.pressure full avg10, percent)\n"
		"                              stays above THRESHOLD for --psi-duration seconds\n"
		"                              (default %d)\n"
		"      --cooldown SECONDS      at most one such snapshot per process this often\n"
		"                              (default %d)\n"
		"  -v, --verbose               log every process watched\n"
		"      --log-format FORMAT     text (default) or json\n"
		"\n"
		"Snapshots before a kill are named <comm>-<pid>-<time>.prekill-<why>.pb.gz and\n"
		"say in their comments what fired (usage, limit, pressure).\n",
		DEFAULT_PSI_DURATION, DEFAULT_COOLDOWN_MS / 1000);
}

struct watch_opts {
	const char *dir;
	int64_t enable_rate;
	uint32_t ringbuf;
	enum log_level level;
	enum log_format format;
	struct prekill_opts prekill;
};

/* --before-oom, --psi, --psi-duration, --cooldown. 0, or -EINVAL (message printed). */
static int parse_prekill_arg(int opt, const char *arg, struct prekill_opts *o)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || v < 0 || (opt == 'B' && (v < 1 || v > 100 || v != (int)v)) ||
	    (opt == 'P' && v > 100) || v > 1e6) {
		fprintf(stderr, "oomprof watch: bad value '%s' for --%s\n", arg,
			opt == 'B'   ? "before-oom"
			: opt == 'P' ? "psi"
			: opt == 'D' ? "psi-duration"
				     : "cooldown");
		return -EINVAL;
	}
	if (opt == 'B')
		o->before_oom_pct = (unsigned)v;
	else if (opt == 'P')
		o->psi_threshold = v;
	else if (opt == 'D')
		o->psi_duration_ms = (int64_t)(v * 1000);
	else
		o->cooldown_ms = (int64_t)(v * 1000);
	return 0;
}

static int parse_args(int argc, char **argv, struct watch_opts *o)
{
	static const struct option longopts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"enable-memprofile", optional_argument, NULL, 'e'},
	    {"ring-buffer-size", required_argument, NULL, 'r'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"log-format", required_argument, NULL, 'f'},
	    {"before-oom", required_argument, NULL, 'B'},
	    {"psi", required_argument, NULL, 'P'},
	    {"psi-duration", required_argument, NULL, 'D'},
	    {"cooldown", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "d:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->dir = optarg;
			break;
		case 'e':
			o->enable_rate = optarg ? strtoll(optarg, &end, 10) : DEFAULT_ENABLE_RATE;
			if (optarg && (*end || o->enable_rate <= 0)) {
				fprintf(stderr,
					"oomprof watch: --enable-memprofile takes a "
					"positive rate in bytes, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			o->ringbuf = (uint32_t)strtoul(optarg, &end, 10);
			if (*end || o->ringbuf < 4096) {
				fprintf(stderr, "oomprof watch: bad --ring-buffer-size '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'v':
			o->level = LOG_DEBUG;
			break;
		case 'f':
			if (!strcmp(optarg, "json"))
				o->format = LOG_JSON;
			else if (strcmp(optarg, "text")) {
				fprintf(stderr, "oomprof watch: --log-format takes text or json\n");
				return EXIT_USAGE;
			}
			break;
		case 'B':
		case 'P':
		case 'D':
		case 'C':
			if (parse_prekill_arg(c, optarg, &o->prekill))
				return EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "oomprof watch: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	return 0;
}

/* At exit: the capture counters (kernel and userspace), nonzero ones, on one line. */
static void log_counters(struct watch *w)
{
	struct capture_stats st;
	char line[1024];
	size_t used = 0;

	if (capture_stats(w->cap, &st))
		return;
	line[0] = 0;
	for (int i = 0; i < CAPTURE_C_MAX && used < sizeof(line); i++)
		if (st.c[i])
			used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s=%llu",
						 used ? " " : "", capture_counter_name(i),
						 (unsigned long long)st.c[i]);
	log_info("capture counters: %s", line);
}

static void cleanup(struct watch *w)
{
	while (w->nprocs)
		forget_proc(w, w->nprocs - 1);
	free(w->procs);
	capture_close(w->cap);
	bincache_free(w->bins);
	prekill_free(w->prekill);
	free(w);
}

struct watch *watch_open(const struct watch_config *cfg)
{
	struct watch *w = calloc(1, sizeof(*w));
	struct capture_opts copts = {0};

	if (!w)
		return NULL;
	w->cfg = *cfg;
	w->dir = cfg->dir;
	w->enable_rate = cfg->enable_rate;
	w->bins = bincache_new();
	if (cfg->prekill && (cfg->prekill->before_oom_pct || cfg->prekill->psi_threshold >= 0))
		w->prekill = prekill_new(cfg->prekill);
	copts.cb = (struct capture_callbacks){.on_victim = on_victim,
					      .on_profile = on_profile,
					      .on_exec = on_exec,
					      .on_exit = on_exit_event,
					      .ctx = w};
	copts.profile_ringbuf_bytes = cfg->ringbuf;
	protect_self();
	realtime_self();
	w->cap = w->bins ? capture_open(&copts) : NULL;
	if (!w->cap) {
		int e = errno;
		log_error("cannot load the BPF programs: %s%s", strerror(e),
			  e == EPERM ? " (run as root)" : "");
		cleanup(w);
		errno = e;
		return NULL;
	}
	log_info("oomprof watch: writing profiles to %s (BPF programs: %s)", w->dir,
		 capture_variant(w->cap));
	scan_proc(w);
	w->next_tick = mono_ms() + 1000;
	return w;
}

/* Waits for the capture's records or one of fds; true when one of fds is readable. */
static bool wait_any(struct watch *w, int timeout_ms, const int *fds, size_t nfds)
{
	struct pollfd pfd[64];
	size_t n = 0;
	int r;

	pfd[n++] = (struct pollfd){.fd = capture_fd(w->cap), .events = POLLIN};
	for (size_t i = 0; i < nfds && n < 32; i++)
		pfd[n++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	if (w->prekill) {
		int pk[32];
		size_t k = prekill_fds(w->prekill, pk, 32);
		for (size_t i = 0; i < k; i++)
			pfd[n++] = (struct pollfd){.fd = pk[i], .events = POLLIN};
	}
	r = poll(pfd, n, timeout_ms);
	for (size_t i = 1; r > 0 && i < n; i++)
		if (pfd[i].revents)
			return true;
	return false;
}

int watch_poll(struct watch *w, int timeout_ms, const int *fds, size_t nfds)
{
	bool woken = wait_any(w, timeout_ms, fds, nfds);
	int e = capture_poll(w->cap, 0);

	if (e < 0 && e != -EINTR) {
		log_error("polling the ring buffers: %s", strerror(-e));
		return e;
	}
	if (w->prekill && (woken || mono_ms() >= w->next_tick))
		check_prekill(w);
	if (mono_ms() >= w->next_tick) {
		tick(w);
		w->next_tick = mono_ms() + 1000;
	}
	return 0;
}

void watch_close(struct watch *w)
{
	if (!w)
		return;
	capture_flush(w->cap, true, 0); /* deliver whatever is still on its way */
	log_counters(w);
	log_info("oomprof watch: stopping (%llu victims seen, %llu profiles written)",
		 (unsigned long long)w->victims, (unsigned long long)w->profiles_written);
	cleanup(w);
}

int cmd_watch(int argc, char **argv)
{
	struct watch_opts o = {.dir = DEFAULT_DIR,
			       .level = LOG_INFO,
			       .format = LOG_TEXT,
			       .prekill = {.psi_threshold = -1,
					   .psi_duration_ms = DEFAULT_PSI_DURATION * 1000,
					   .cooldown_ms = DEFAULT_COOLDOWN_MS}};
	struct watch_config cfg = {0};
	struct watch *w;
	int rc = parse_args(argc, argv, &o), e;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	log_setup(o.level, o.format);
	if ((e = sink_make_dir(o.dir)) < 0) {
		log_error("cannot create %s: %s", o.dir, strerror(-e));
		return EXIT_FAILURE_;
	}
	cfg.dir = o.dir;
	cfg.enable_rate = o.enable_rate;
	cfg.ringbuf = o.ringbuf;
	cfg.prekill = &o.prekill;
	signal(SIGINT, on_stop_signal);
	signal(SIGTERM, on_stop_signal);
	if (!(w = watch_open(&cfg)))
		return EXIT_FAILURE_;
	while (!stop_requested)
		if (watch_poll(w, 250, NULL, 0) < 0) {
			rc = EXIT_FAILURE_;
			break;
		}
	watch_close(w);
	return rc;
}
