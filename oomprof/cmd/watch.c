/*
 * oomprof watch: the daemon. Finds Go processes (a /proc scan at start, then exec and
 * exit events from BPF), registers where each keeps its memory profile, and when the
 * OOM killer chooses one, writes the profile its threads streamed on their way out.
 *
 *   oomprof watch [-d DIR] [--enable-memprofile[=RATE]] [-v] [--log-format text|json]
 *                 [--before-oom PERCENT] [--psi THRESHOLD]
 *                 [--metrics-addr ADDR] [--upload URL]... [--max-profiles N] ...
 *
 * Every option is also a key of the configuration file (base/options.h); what happens
 * around each profile file (metrics, disk bounds, uploads) is sink/service.h.
 *
 * The loop itself (watch_open/watch_poll/watch_close, oomprof/cmd/watch.h) also serves
 * `oomprof run`, restricted to the run's memory cgroup.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oomprof/base/bincache.h"
#include "oomprof/base/memcg.h"
#include "oomprof/source/capture.h"
#include "oomprof/cmd/cli.h"
#include "oomprof/cmd/watch.h"
#include "oomprof/profile/heapprof.h"
#include "oomprof/base/log.h"
#include "oomprof/base/options.h"
#include "oomprof/sink/dir.h"
#include "oomprof/sink/service.h"
#include "oomprof/profile/target.h"
#include "oomprof/profile/truth.h"
#include "oomprof/source/rate.h"

#define DEFAULT_DIR    "/var/lib/oomprof"
#define DEFAULT_CONFIG "/etc/oomprof/oomprof.conf"
#ifndef OOMPROF_VERSION
#define OOMPROF_VERSION "0.1.0-dev"
#endif
#define DEFAULT_ENABLE_RATE 524288
/* How long a gone process's facts are kept for a profile still on its way. */
#define EXITED_KEEP_MS	     30000
#define DEFAULT_COOLDOWN_MS  300000
#define DEFAULT_PSI_DURATION 10

struct watched {
	pid_t tgid;
	uint64_t start_ticks;
	struct bincache_entry *bin;
	struct go_target target;
	char memcg[512], container[80], pod[40];
	/* MemProfileRate over its life; --enable-memprofile */
	struct rate_track rate;
	int64_t exited_ms; /* 0 while alive */
	bool victim;
	struct capture_victim kill;
	int64_t kill_time_ns;
	uint64_t memcg_limit;
	bool have_oom_kills;
	uint64_t memcg_oom_kills; /* memory.events oom_kill, read at the kill */
};

/* A Go process oomprof cannot profile: its OOM kill is reported as that, never "not Go". */
#define UNWATCHED_MAX 64
struct unwatched {
	pid_t tgid; /* 0: free */
	char version[32];
	char why[320];
};

struct watch {
	const char *dir;
	struct unwatched unwatched[UNWATCHED_MAX]; /* the latest ones, oldest overwritten */
	unsigned unwatched_next;
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
	char host[256];
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

static void note_unwatched(struct watch *w, pid_t pid, const struct gosym *sym, const char *version,
			   const char *why)
{
	struct unwatched *u = &w->unwatched[w->unwatched_next++ % UNWATCHED_MAX];
	char newer[160] = "";

	u->tgid = pid;
	snprintf(u->version, sizeof(u->version), "%s", version);
	if (sym && gosym_newer_release(sym, newer, sizeof(newer)))
		snprintf(u->why, sizeof(u->why), "%s; %s", newer, why);
	else
		snprintf(u->why, sizeof(u->why), "%s", why);
	log_debug("pid %d (%s): a Go program oomprof cannot profile: %s", pid, u->version, u->why);
}

static const struct unwatched *find_unwatched(const struct watch *w, pid_t tgid)
{
	for (size_t i = 0; i < UNWATCHED_MAX; i++)
		if (w->unwatched[i].tgid == tgid)
			return &w->unwatched[i];
	return NULL;
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
		if (bin->go_version[0])
			note_unwatched(w, pid, NULL, bin->go_version, bin->why);
		bincache_put(w->bins, bin);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p || target_open_with(pid, bin->sym, &p->target, err, sizeof(err))) {
		if (p)
			note_unwatched(w, pid, bin->sym, gosym_info(bin->sym)->go_version, err);
		bincache_put(w->bins, bin);
		free(p);
		return;
	}
	p->tgid = pid;
	p->bin = bin;
	proc_start_time(pid, &p->start_ticks);
	if (proc_memcg_path(pid, p->memcg, sizeof(p->memcg)) == 0) {
		container_id_from_cgroup(p->memcg, p->container, sizeof(p->container));
		pod_uid_from_cgroup(p->memcg, p->pod, sizeof(p->pod));
	}
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
	struct unwatched *u = (struct unwatched *)find_unwatched(w, tgid);

	if (u)
		u->tgid = 0;
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
	struct memcg cg;
	long long kills = -1;
	struct watch *w = ctx;
	pid_t tgid = v->tgid_known ? v->tgid : tgid_of(v->pid);
	struct watched *p = find_proc(w, tgid);
	const struct unwatched *u = p ? NULL : find_unwatched(w, tgid);
	char newer[160] = "";

	if (same_death(p, v)) {
		log_debug("OOM kill: pid %d: thread %d marked too; same death, same profile", tgid,
			  v->pid);
		return;
	}
	w->victims++;
	if (!p && w->cfg.only_memcg)
		return; /* not ours to tell about */
	service_count_kill(w->cfg.svc, p || u);
	if (u) {
		log_info("OOM kill: pid %d (%.16s, %s), anon-rss %llu kB: a Go program oomprof "
			 "cannot profile: %s; no profile",
			 tgid, v->comm, u->version, (unsigned long long)v->anon_rss_kb, u->why);
		return;
	}
	if (!p) {
		log_info("OOM kill: pid %d (%.16s), anon-rss %llu kB: not a Go program oomprof "
			 "watches; no profile",
			 tgid, v->comm, (unsigned long long)v->anon_rss_kb);
		return;
	}
	if (gosym_newer_release(p->bin->sym, newer + 2, sizeof(newer) - 2))
		memcpy(newer, "; ", 2);
	if (!p->victim)
		w->go_victims++;
	p->victim = true;
	p->kill = *v;
	p->kill_time_ns = now_ns();
	if (memcg_limit_bytes(p->memcg, &p->memcg_limit) < 0)
		p->memcg_limit = 0;
	p->have_oom_kills = memcg_open(&cg, p->memcg) == 0 && (kills = memcg_oom_kills(&cg)) >= 0;
	p->memcg_oom_kills = p->have_oom_kills ? (uint64_t)kills : 0;
	log_info("OOM kill: pid %d (%s, %s), anon-rss %llu kB, memory cgroup %s: capturing "
		 "its heap profile%s",
		 tgid, p->target.comm, gosym_info(p->bin->sym)->go_version,
		 (unsigned long long)v->anon_rss_kb, p->memcg, newer);
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
	if (p->have_oom_kills)
		snprintf(lines[4], 160, "memory cgroup oom kills: %llu",
			 (unsigned long long)p->memcg_oom_kills);
	else
		snprintf(lines[4], 160, "memory cgroup oom kills: unknown");
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

/* ", runtime layout not verified for go1.28.0" for a newer release, else "". */
static const char *unverified_note(const struct gosym *sym, char *buf, size_t len)
{
	struct gosym_layout l;

	buf[0] = 0;
	if (gosym_layout(sym, &l) == 0 && !l.verified)
		snprintf(buf, len, ", runtime layout not verified for %s",
			 gosym_info(sym)->go_version);
	return buf;
}

static void report_profile(struct watch *w, const struct watched *p, const char *path,
			   const char *trigger, uint64_t anon_rss_kb)
{
	struct watch_profile wp = {p->tgid, p->target.comm, path, trigger, anon_rss_kb};

	if (w->cfg.on_profile)
		w->cfg.on_profile(&wp, w->cfg.ctx);
}

/* The file is on disk: metrics, disk bounds, uploads. status < 0: a snapshot. */
static void profile_done(struct watch *w, const struct watched *p, const char *path,
			 const char *trigger, int status, int64_t time_ns)
{
	const char *module = gosym_info(p->bin->sym)->main_module;
	struct upload_profile up = {
	    .path = path,
	    .service = *module ? module : p->target.comm,
	    .host = w->host,
	    .pod = p->pod,
	    .container = p->container,
	    .trigger = trigger,
	    .status = status < 0 ? "snapshot" : raw_status_name((enum raw_status)status),
	    .time_s = time_ns / 1000000000,
	};
	struct timespec ts;
	double latency = -1;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (status >= 0 && p->kill.ktime_ns)
		latency =
		    ((double)ts.tv_sec * 1e9 + (double)ts.tv_nsec - (double)p->kill.ktime_ns) / 1e9;
	service_written(w->cfg.svc, &up, status, latency);
}

static void write_kill_profile(struct watch *w, struct watched *p, const struct raw_profile *raw,
			       const struct capture_meta *m)
{
	char comments[5][160], path[4096], top[512], err[512], note[128];
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
	struct raw_profile honest, shaped;
	struct truth t;
	int e;

	snprintf(err, sizeof(err), "pid %d (%s)", p->tgid, p->target.comm);
	if (!service_may_write(w->cfg.svc, err))
		return;
	kill_comments(p, m, comments);
	for (int i = 0; i < 5; i++)
		meta.extra[i] = comments[i];
	if ((e = heapprof_shape(raw, p->bin->sym, &shaped, err, sizeof(err)))) {
		log_error("pid %d (%s): %s", p->tgid, p->target.comm, err);
		service_count_lost(w->cfg.svc, LOST_BUILD_ERROR);
		return;
	}
	honest = assess_kill(p, &shaped, &t, meta.extra + 4, 3);
	e = heapprof_build(&honest, &bin, &meta, &pb, err, sizeof(err));
	free(shaped.buckets);
	if (e) {
		log_error("pid %d (%s): %s", p->tgid, p->target.comm, err);
		service_count_lost(w->cfg.svc, LOST_BUILD_ERROR);
		return;
	}
	sink_profile_path(path, sizeof(path), w->dir, p->target.comm, p->tgid, meta.time_ns);
	e = pprof_write_atomic(pb, path, PROFILE_FILE_MODE);
	pprof_builder_free(pb);
	if (e) {
		log_error("pid %d (%s): writing %s: %s", p->tgid, p->target.comm, path,
			  strerror(-e));
		service_count_lost(w->cfg.svc, LOST_WRITE_ERROR);
		return;
	}
	w->profiles_written++;
	top_three(path, top, sizeof(top));
	log_info("profile written: %s (pid %d %s, %zu buckets, capture %s%s%s%s; %s); %s: %s", path,
		 p->tgid, p->target.comm, raw->nbuckets, raw_status_name(honest.status),
		 t.partial ? ": " : "", t.partial ? t.status_detail : "",
		 unverified_note(p->bin->sym, note, sizeof(note)), t.coverage,
		 t.partial ? "top of the allocations sampled before that, not the program's memory"
			   : "top inuse_space",
		 top);
	report_profile(w, p, path, "oom-kill", p->kill.anon_rss_kb);
	profile_done(w, p, path, "oom-kill", (int)raw->status, meta.time_ns);
}

static void on_profile(const struct raw_profile *raw, const struct capture_meta *m, void *ctx)
{
	struct watch *w = ctx;
	struct watched *p = find_proc(w, m->tgid);

	if (p && p->victim)
		w->go_profiles++;
	/* Where mark_victim's context had no rss (the classic tracepoint before 6.9), the
	 * walk's own reading stands in. */
	if (p && !p->kill.anon_rss_kb && m->walk_rss.anon_rss_kb) {
		p->kill.anon_rss_kb = m->walk_rss.anon_rss_kb;
		p->kill.file_rss_kb = m->walk_rss.file_rss_kb;
		p->kill.shmem_rss_kb = m->walk_rss.shmem_rss_kb;
	}
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
		service_count_lost(w->cfg.svc, LOST_UNKNOWN_PROCESS);
		return;
	}
	/* Such a process may still hold one bucket per P (Go 1.25+): the allocation that
	 * reached the sample point drawn before the runtime zeroed MemProfileRate. */
	if (!raw->mem_profile_rate && gosym_info(p->bin->sym)->profiling_disabled == 1) {
		log_warn("pid %d (%s): memory profiling is disabled in its binary (nothing in it "
			 "reaches runtime/pprof), so it had no heap samples; no profile. Fix: use "
			 "runtime/pprof or net/http/pprof in code the program can reach (a blank "
			 "import is not enough), or run oomprof watch --enable-memprofile",
			 p->tgid, p->target.comm);
		service_count_lost(w->cfg.svc, LOST_PROFILING_DISABLED);
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
	profile_done(w, p, path, why->trigger, -1, now_ns());
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

/*
 * Memory pressure comes before every OOM kill: file pages are evicted, and a daemon
 * whose code must be read back from disk drains a capture too late (the victim's
 * threads give up waiting for ring space, the OOM reaper takes its memory). So what is
 * mapped now (code, libraries, the ring buffers' bookkeeping) is locked in memory, and
 * later mappings are locked as they are touched (MCL_ONFAULT): the Go binaries that
 * the per-binary cache maps count only with the pages actually read.
 */
static void lock_memory(void)
{
	if (mlockall(MCL_CURRENT) < 0 || mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0)
		log_warn("cannot lock the daemon's memory (%s): under memory pressure before "
			 "an OOM kill, captures may be lost",
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

struct watch_opts {
	const char *dir;
	int64_t enable_rate;
	int64_t ringbuf;
	bool verbose;
	int log_format; /* index into log_formats */
	const char *metrics_addr;
	struct opt_list upload;
	int upload_format; /* index into upload_formats */
	const char *upload_tenant, *upload_queue;
	int64_t upload_queue_max, max_profiles, max_bytes, min_free;
	int64_t before_oom;			/* percent; 0: off */
	double psi, psi_duration_s, cooldown_s; /* psi < 0: off */
};

static const char *const log_formats[] = {"text", "json", NULL};
static const char *const upload_formats[] = {"auto", "pyroscope", "parca", NULL};

#define O(field)    offsetof(struct watch_opts, field)
#define HELP_INDENT "                               " /* under the help column */
static const struct opt_def watch_defs[] = {
    {"dir", 'd', OPT_STRING, O(dir), "DIR", "where profiles go (default " DEFAULT_DIR ")"},
    {"enable-memprofile", 0, OPT_INT_IMPLIED, O(enable_rate), "RATE",
     "set MemProfileRate (default 524288) in processes\n" HELP_INDENT
     "whose binary disabled memory profiling\n" HELP_INDENT "(writes into them, hence opt-in)",
     .min = 1, .implied = DEFAULT_ENABLE_RATE},
    {"ring-buffer-size", 0, OPT_SIZE, O(ringbuf), "SIZE",
     "kernel ring buffer for bucket data (default 8M)", .min = 4096, .max = 1 << 30},
    {"verbose", 'v', OPT_BOOL, O(verbose), NULL, "log every process watched"},
    {"log-format", 0, OPT_CHOICE, O(log_format), "FORMAT", "text (default) or json",
     .choices = log_formats},
    {"metrics-addr", 0, OPT_STRING, O(metrics_addr), "ADDR",
     "serve Prometheus metrics on http://ADDR/metrics\n" HELP_INDENT "(HOST:PORT; off by default)"},
    {"upload", 0, OPT_LIST, O(upload), "URL",
     "send each profile to a store too (repeatable):\n" HELP_INDENT
     "pyroscope+http(s)://HOST:PORT or\n" HELP_INDENT "parca+http(s)://HOST:PORT"},
    {"upload-format", 0, OPT_CHOICE, O(upload_format), "FORMAT",
     "pyroscope or parca, for URLs without a prefix", .choices = upload_formats},
    {"upload-tenant", 0, OPT_STRING, O(upload_tenant), "ID",
     "Pyroscope's X-Scope-OrgID (multi-tenant)"},
    {"upload-queue", 0, OPT_STRING, O(upload_queue), "DIR",
     "jobs still to upload (default DIR/.upload-queue)"},
    {"upload-queue-max", 0, OPT_INT, O(upload_queue_max), "N",
     "uploads kept waiting at most (default 256)", .min = 1, .max = 100000},
    {"max-profiles", 0, OPT_INT, O(max_profiles), "N",
     "keep the newest N profiles (default 1000;\n" HELP_INDENT "0: no limit)"},
    {"max-bytes", 0, OPT_SIZE, O(max_bytes), "SIZE",
     "keep at most SIZE of profiles (default 1G;\n" HELP_INDENT "0: no limit)"},
    {"min-free", 0, OPT_SIZE, O(min_free), "SIZE", "write nothing with less free (default 100M)"},
    {"before-oom", 0, OPT_INT, O(before_oom), "PERCENT",
     "snapshot a Go process when its memory cgroup's\n" HELP_INDENT
     "usage crosses PERCENT of its limit",
     .min = 1, .max = 100},
    {"psi", 0, OPT_DOUBLE, O(psi), "THRESHOLD",
     "snapshot the Go processes of a cgroup whose\n" HELP_INDENT
     "memory pressure (full avg10, percent) stays\n" HELP_INDENT
     "above THRESHOLD for --psi-duration seconds",
     .min = 0, .max = 100},
    {"psi-duration", 0, OPT_DOUBLE, O(psi_duration_s), "SECONDS",
     "how long pressure must last (default 10)", .min = 0, .max = 1000000},
    {"cooldown", 0, OPT_DOUBLE, O(cooldown_s), "SECONDS",
     "at most one such snapshot per process this often\n" HELP_INDENT "(default 300)", .min = 0,
     .max = 1000000},
    {0}};
#undef O

static const struct opt_command watch_cmd = {
    .name = "oomprof watch",
    .synopsis = "usage: oomprof watch [OPTIONS]\n"
		"\n"
		"Watches every Go process on the host; when the OOM killer chooses one, writes\n"
		"its heap profile (up to the moment of death) as DIR/<comm>-<pid>-<time>.pb.gz.\n"
		"Runs until SIGINT or SIGTERM. Needs root (BPF). Every option is also a key of\n"
		"the configuration file (key = value, one a line). Snapshots before a kill are\n"
		"named <comm>-<pid>-<time>.prekill-<why>.pb.gz and say in their comments what\n"
		"fired (usage, limit, pressure).\n"
		"\n",
    .defs = watch_defs,
    .default_config = DEFAULT_CONFIG,
};

static int parse_args(int argc, char **argv, struct watch_opts *o, struct opt_store *st)
{
	int rc = opts_parse(&watch_cmd, o, st, argc, argv);

	if (!rc && o->upload_format == 0)
		for (size_t i = 0; i < o->upload.n; i++)
			if (strncmp(o->upload.v[i], "pyroscope+", 10) &&
			    strncmp(o->upload.v[i], "parca+", 6)) {
				fprintf(stderr,
					"oomprof watch: --upload %s: which store? Write "
					"pyroscope+%s or parca+%s, or give --upload-format\n",
					o->upload.v[i], o->upload.v[i], o->upload.v[i]);
				return EXIT_USAGE;
			}
	return rc;
}

/* For /metrics: the gauges only the daemon knows. */
static bool fill_metrics(struct metrics *m, struct capture_stats *st, void *ctx)
{
	struct watch *w = ctx;
	size_t alive = 0;

	for (size_t i = 0; i < w->nprocs; i++)
		alive += !w->procs[i]->exited_ms;
	m->watched = alive;
	m->binaries_parsed = (uint64_t)bincache_parses(w->bins);
	return w->cap && capture_stats(w->cap, st) == 0;
}

static struct service *open_service(const struct watch_opts *o, char *queue_dir, size_t len)
{
	static const enum upload_format formats[] = {UPLOAD_FORMAT_NONE, UPLOAD_FORMAT_PYROSCOPE,
						     UPLOAD_FORMAT_PARCA};
	struct service_opts so = {
	    .metrics_addr = o->metrics_addr,
	    .version = OOMPROF_VERSION,
	    .retention = {.dir = o->dir,
			  .max_profiles = o->max_profiles,
			  .max_bytes = o->max_bytes,
			  .min_free = o->min_free},
	    .upload = {.urls = o->upload.v,
		       .nurls = o->upload.n,
		       .format = formats[o->upload_format],
		       .tenant = o->upload_tenant,
		       .queue_dir = queue_dir,
		       .queue_max = (size_t)o->upload_queue_max},
	};
	char err[512];
	struct service *svc;

	if (o->upload_queue)
		snprintf(queue_dir, len, "%s", o->upload_queue);
	else
		snprintf(queue_dir, len, "%s/.upload-queue", o->dir);
	if (!(svc = service_open(&so, err, sizeof(err))))
		log_error("oomprof watch: %s", err);
	return svc;
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
	if (gethostname(w->host, sizeof(w->host) - 1) < 0)
		w->host[0] = 0;
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
	log_info("oomprof watch: writing profiles to %s (BPF programs: %s; %s)", w->dir,
		 capture_variant(w->cap), capture_description(w->cap));
	scan_proc(w);
	w->next_tick = mono_ms() + 1000;
	return w;
}

/* Waits for the capture's records or one of fds; true when one of fds is readable. */
static bool wait_any(struct watch *w, int timeout_ms, const int *fds, size_t nfds)
{
	struct pollfd pfd[1 + 32 + 32 + SERVICE_MAX_POLLFDS];
	size_t n = 0, woken_end;
	int r;

	pfd[n++] = (struct pollfd){.fd = capture_fd(w->cap), .events = POLLIN};
	for (size_t i = 0; i < nfds && i < 32; i++)
		pfd[n++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	if (w->prekill) {
		int pk[32];
		size_t k = prekill_fds(w->prekill, pk, 32);
		for (size_t i = 0; i < k; i++)
			pfd[n++] = (struct pollfd){.fd = pk[i], .events = POLLIN};
	}
	woken_end = n; /* a scraper or an upload wakes the loop, not the caller */
	n += service_pollfds(w->cfg.svc, pfd + n, SERVICE_MAX_POLLFDS);
	r = poll(pfd, n, service_timeout_ms(w->cfg.svc, timeout_ms));
	for (size_t i = 1; r > 0 && i < woken_end; i++)
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
	service_step(w->cfg.svc);
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
			       .upload_queue_max = 256,
			       .max_profiles = 1000,
			       .max_bytes = 1LL << 30,
			       .min_free = 100LL << 20,
			       .psi = -1,
			       .psi_duration_s = DEFAULT_PSI_DURATION,
			       .cooldown_s = DEFAULT_COOLDOWN_MS / 1000};
	struct watch_config cfg = {0};
	struct prekill_opts pk = {0};
	struct opt_store store = {0};
	char queue_dir[1024];
	struct watch *w;
	int rc = parse_args(argc, argv, &o, &store), e;

	if (rc) {
		opts_free(&store);
		return rc < 0 ? EXIT_OK : rc;
	}
	log_setup(o.verbose ? LOG_DEBUG : LOG_INFO, o.log_format ? LOG_JSON : LOG_TEXT);
	if ((e = sink_make_dir(o.dir)) < 0) {
		log_error("cannot create %s: %s", o.dir, strerror(-e));
		opts_free(&store);
		return EXIT_FAILURE_;
	}
	pk = (struct prekill_opts){.before_oom_pct = (unsigned)o.before_oom,
				   .psi_threshold = o.psi,
				   .psi_duration_ms = (int64_t)(o.psi_duration_s * 1000),
				   .cooldown_ms = (int64_t)(o.cooldown_s * 1000)};
	cfg.dir = o.dir;
	cfg.enable_rate = o.enable_rate;
	cfg.ringbuf = (uint32_t)o.ringbuf;
	cfg.prekill = &pk;
	if (!(cfg.svc = open_service(&o, queue_dir, sizeof(queue_dir)))) {
		opts_free(&store);
		return EXIT_FAILURE_;
	}
	signal(SIGINT, on_stop_signal);
	signal(SIGTERM, on_stop_signal);
	if (!(w = watch_open(&cfg))) {
		service_close(cfg.svc);
		opts_free(&store);
		return EXIT_FAILURE_;
	}
	service_set_fill(cfg.svc, fill_metrics, w);
	lock_memory();
	while (!stop_requested)
		if (watch_poll(w, 250, NULL, 0) < 0) {
			rc = EXIT_FAILURE_;
			break;
		}
	watch_close(w);
	service_close(cfg.svc);
	opts_free(&store);
	return rc;
}
