/*
 * oomprof watch: the daemon. Finds Go processes (a /proc scan at start, then exec and
 * exit events from BPF), registers where each keeps its memory profile, and when the
 * OOM killer chooses one, writes the profile its threads streamed on their way out.
 *
 *   oomprof watch [-d DIR] [--enable-memprofile[=RATE]] [-v] [--log-format text|json]
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
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

/* A process that started or exec'd: if it is a Go program, watch it. */
static void consider(struct watch *w, pid_t pid)
{
	struct bincache_entry *bin;
	struct watched *p;
	char err[512];

	if (pid == getpid())
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
	if (!p) {
		log_info("OOM kill: pid %d (%.16s), anon-rss %llu kB: not a Go program oomprof "
			 "watches; no profile",
			 tgid, v->comm, (unsigned long long)v->anon_rss_kb);
		return;
	}
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
}

static void on_profile(const struct raw_profile *raw, const struct capture_meta *m, void *ctx)
{
	struct watch *w = ctx;
	struct watched *p = find_proc(w, m->tgid);

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
		"  -v, --verbose               log every process watched\n"
		"      --log-format FORMAT     text (default) or json\n");
}

struct watch_opts {
	const char *dir;
	int64_t enable_rate;
	uint32_t ringbuf;
	enum log_level level;
	enum log_format format;
};

static int parse_args(int argc, char **argv, struct watch_opts *o)
{
	static const struct option longopts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"enable-memprofile", optional_argument, NULL, 'e'},
	    {"ring-buffer-size", required_argument, NULL, 'r'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"log-format", required_argument, NULL, 'f'},
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
}

int cmd_watch(int argc, char **argv)
{
	struct watch_opts o = {.dir = DEFAULT_DIR, .level = LOG_INFO, .format = LOG_TEXT};
	struct watch w = {0};
	struct capture_opts copts = {0};
	int rc = parse_args(argc, argv, &o), e;

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	log_setup(o.level, o.format);
	if ((e = sink_make_dir(o.dir)) < 0) {
		log_error("cannot create %s: %s", o.dir, strerror(-e));
		return EXIT_FAILURE_;
	}
	w.dir = o.dir;
	w.enable_rate = o.enable_rate;
	w.bins = bincache_new();
	copts.cb = (struct capture_callbacks){.on_victim = on_victim,
					      .on_profile = on_profile,
					      .on_exec = on_exec,
					      .on_exit = on_exit_event,
					      .ctx = &w};
	copts.profile_ringbuf_bytes = o.ringbuf;
	signal(SIGINT, on_stop_signal);
	signal(SIGTERM, on_stop_signal);
	protect_self();
	realtime_self();
	w.cap = w.bins ? capture_open(&copts) : NULL;
	if (!w.cap) {
		log_error("cannot load the BPF programs: %s%s", strerror(errno),
			  errno == EPERM ? " (run as root)" : "");
		cleanup(&w);
		return EXIT_FAILURE_;
	}
	log_info("oomprof watch: writing profiles to %s (BPF programs: %s)", w.dir,
		 capture_variant(w.cap));
	scan_proc(&w);
	for (int64_t next_tick = mono_ms() + 1000; !stop_requested;) {
		e = capture_poll(w.cap, 250);
		if (e < 0 && e != -EINTR) {
			log_error("polling the ring buffers: %s", strerror(-e));
			rc = EXIT_FAILURE_;
			break;
		}
		if (mono_ms() >= next_tick) {
			tick(&w);
			next_tick = mono_ms() + 1000;
		}
	}
	capture_flush(w.cap, true, 0); /* deliver whatever is still on its way */
	log_counters(&w);
	log_info("oomprof watch: stopping (%llu victims seen, %llu profiles written)",
		 (unsigned long long)w.victims, (unsigned long long)w.profiles_written);
	cleanup(&w);
	return rc;
}
