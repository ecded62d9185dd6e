/*
 * capture-probe: load the kill-time capture, register Go processes by address, wait
 * for their profiles and print what arrived.
 *
 *   capture-probe --mbuckets ADDR --rate ADDR --cycle ADDR [--pie]
 *                 (--pid PID | --exec SUFFIX) [--count N] [--dump FILE]
 *                 [--timeout SECS] [--ready FILE] [--victims N] [--classic] [--bounded] [--verbose]
 *                 [--ringbuf BYTES] [--wait-ms MS] [--budget N] [--no-exit-walk] [--rt]
 *                 [--binary PATH]
 *
 * --exec registers every process whose exec filename ends with SUFFIX (up to --count
 * of them); --pie adds each process's load bias (mapping at file offset 0) to the
 * addresses, which are then the binary's link-time addresses (go tool nm).
 * --victims N: also exit after N victim events (of any process). Output: one line of
 * key=value per event ("attached", "registered", "victim", "profile", "cycles",
 * "stats"). --dump FILE: per bucket "bucket TGID SIZE ALLOCS FREES ALLOC_BYTES
 * FREE_BYTES NSTK PC..." (counts summed over active and the three futures).
 * --rt: run as SCHED_FIFO 10, so that the consumer keeps draining while a victim's
 * thread walks (it runs with preemption disabled).
 * --binary PATH: the Go binary the buckets come from, to read its memRecord shape.
 * Exit status: 0 when --count profiles (or --victims victims) arrived, 1 otherwise.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gosym/gosym.h"
#include "oomprof/base/log.h"
#include "oomprof/profile/rawprof.h"
#include "oomprof/source/capture.h"
#include "oomprof/base/procinfo.h"

struct probe {
	struct capture *cap;
	struct capture_target t;
	bool pie;
	const char *exec_suffix;
	int count, registered, profiles, victims, want_victims;
	FILE *dump;
	bool counts_only; /* --binary's runtime keeps counts only in a memRecord cycle */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Lowest PT_LOAD vaddr of the process's executable (Go PIE links at 0x400000). */
static int lowest_vaddr(pid_t pid, uint64_t *out)
{
	char path[64];
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint64_t low = UINT64_MAX;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ph) || eh.e_phnum > 64) {
		err = -ENOEXEC;
		goto out;
	}
	for (int i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + (uint64_t)i * sizeof(ph)) !=
		    sizeof(ph)) {
			err = -ENOEXEC;
			goto out;
		}
		if (ph.p_type == PT_LOAD && ph.p_vaddr < low)
			low = ph.p_vaddr;
	}
	if (low == UINT64_MAX)
		err = -ENOEXEC;
	*out = low & ~0xfffull;
out:
	close(fd);
	return err;
}

static int register_pid(struct probe *pr, pid_t pid)
{
	struct capture_target t = pr->t;
	uint64_t bias = 0, dev, ino, low = 0;
	int err;

	if (pr->pie) {
		struct proc_maps maps = {0};

		err = proc_exe_id(pid, &dev, &ino);
		if (!err)
			err = proc_exe_mappings(pid, ino, &maps);
		if (err) {
			fprintf(stderr, "capture-probe: maps of %d: %s\n", pid, strerror(-err));
			return err;
		}
		bias = proc_maps_base(&maps);
		proc_maps_free(&maps);
		err = lowest_vaddr(pid, &low);
		if (err) {
			fprintf(stderr, "capture-probe: ELF of %d: %s\n", pid, strerror(-err));
			return err;
		}
		bias -= low;
		t.mbuckets_addr += bias;
		t.mem_profile_rate_addr += bias;
		t.prof_cycle_addr += bias;
	}
	if (proc_start_time(pid, &t.start_ticks))
		t.start_ticks = 0;
	err = capture_add_process(pr->cap, pid, &t);
	if (err) {
		fprintf(stderr, "capture-probe: register %d: %s\n", pid, strerror(-err));
		return err;
	}
	pr->registered++;
	printf("registered pid=%d bias=0x%" PRIx64 " mbuckets=0x%" PRIx64 " start_ticks=%" PRIu64
	       "\n",
	       pid, bias, t.mbuckets_addr, t.start_ticks);
	fflush(stdout);
	return 0;
}

static void on_exec(pid_t pid, pid_t old_pid, const char *comm, const char *filename, void *ctx)
{
	struct probe *pr = ctx;
	size_t n = strlen(filename), m;

	(void)old_pid;
	(void)comm;
	if (!pr->exec_suffix || pr->registered >= pr->count)
		return;
	m = strlen(pr->exec_suffix);
	if (n >= m && !strcmp(filename + n - m, pr->exec_suffix))
		register_pid(pr, pid);
}

static void on_victim(const struct capture_victim *v, void *ctx)
{
	struct probe *pr = ctx;

	pr->victims++;
	printf("victim pid=%d tgid=%d tgid_known=%d registered=%d comm=%s uid=%u "
	       "total_vm_kb=%" PRIu64 " anon_rss_kb=%" PRIu64 " file_rss_kb=%" PRIu64
	       " shmem_rss_kb=%" PRIu64 " pgtables_kb=%" PRIu64 " oom_score_adj=%d ktime=%" PRIu64
	       "\n",
	       v->pid, v->tgid, v->tgid_known, v->registered, v->comm, v->uid, v->total_vm_kb,
	       v->anon_rss_kb, v->file_rss_kb, v->shmem_rss_kb, v->pgtables_kb, v->oom_score_adj,
	       v->ktime_ns);
	fflush(stdout);
}

static void on_profile(const struct raw_profile *p, const struct capture_meta *m, void *ctx)
{
	struct probe *pr = ctx;
	struct raw_cycle sum[4] = {0};
	uint64_t inuse = 0, alloc = 0;
	uint32_t max_nstk = 0;

	pr->profiles++;
	for (size_t i = 0; i < p->nbuckets; i++) {
		struct raw_bucket shaped = p->buckets[i];
		const struct raw_bucket *b = &shaped;
		struct raw_cycle c;

		if (pr->counts_only)
			raw_bucket_counts_only(&shaped);
		c = b->active;

		sum[0].alloc_bytes += b->active.alloc_bytes;
		sum[0].free_bytes += b->active.free_bytes;
		for (int k = 0; k < 3; k++) {
			sum[k + 1].alloc_bytes += b->future[k].alloc_bytes;
			sum[k + 1].free_bytes += b->future[k].free_bytes;
			c.allocs += b->future[k].allocs;
			c.frees += b->future[k].frees;
			c.alloc_bytes += b->future[k].alloc_bytes;
			c.free_bytes += b->future[k].free_bytes;
		}
		inuse += c.alloc_bytes - c.free_bytes;
		alloc += c.alloc_bytes;
		if (b->nstk > max_nstk)
			max_nstk = b->nstk;
		if (pr->dump) {
			fprintf(pr->dump,
				"bucket %d %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
				" %u",
				p->pid, b->size, c.allocs, c.frees, c.alloc_bytes, c.free_bytes,
				b->nstk);
			for (uint32_t k = 0; k < b->nstk; k++)
				fprintf(pr->dump, " 0x%" PRIx64, b->pcs[k]);
			fputc('\n', pr->dump);
		}
	}
	if (pr->dump)
		fflush(pr->dump);
	printf("profile tgid=%d status=%s buckets=%zu kernel_buckets=%u rate=%" PRId64
	       " cycle=%u invocations=%u walk_ns=%" PRIu64 " ns_per_bucket=%" PRIu64
	       " wait_ns=%" PRIu64 " ringbuf_full=%u latency_us=%" PRIu64
	       " end_to_delivery_us=%" PRIu64
	       " missing=%u duplicates=%u rejected=%u have_end=%d gone=%d stale=%d max_nstk=%u"
	       " comm=%s detail=\"%s\"\n",
	       p->pid, raw_status_name(p->status), p->nbuckets, m->kernel_nbuckets,
	       p->mem_profile_rate, p->prof_cycle, m->invocations, m->walk_ns,
	       m->kernel_nbuckets ? m->walk_ns / m->kernel_nbuckets : 0, m->wait_ns,
	       m->ringbuf_full,
	       m->delivered_ktime > m->id ? (m->delivered_ktime - m->id) / 1000 : 0,
	       m->end_ktime && m->delivered_ktime > m->end_ktime
		   ? (m->delivered_ktime - m->end_ktime) / 1000
		   : 0,
	       m->missing, m->duplicates, m->rejected, m->have_end, m->process_gone, m->stale,
	       max_nstk, m->have_victim ? m->victim.comm : "?", p->status_detail);
	printf("cycles tgid=%d active_alloc=%" PRIu64 " active_free=%" PRIu64 " f0_alloc=%" PRIu64
	       " f0_free=%" PRIu64 " f1_alloc=%" PRIu64 " f1_free=%" PRIu64 " f2_alloc=%" PRIu64
	       " f2_free=%" PRIu64 " alloc_bytes=%" PRIu64 " inuse_bytes=%" PRIu64 "\n",
	       p->pid, sum[0].alloc_bytes, sum[0].free_bytes, sum[1].alloc_bytes, sum[1].free_bytes,
	       sum[2].alloc_bytes, sum[2].free_bytes, sum[3].alloc_bytes, sum[3].free_bytes, alloc,
	       inuse);
	fflush(stdout);
}

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "capture-probe: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* Whether BINARY's Go release keeps only counts in a memRecord cycle (Go 1.27+). */
static bool binary_counts_only(const char *path)
{
	struct gosym *g = gosym_open(path, &(struct gosym_opts){.no_dwarf = true});
	struct gosym_layout l;
	bool counts_only;

	if (!g || gosym_layout(g, &l)) {
		fprintf(stderr, "capture-probe: no runtime layout for %s\n", path);
		exit(2);
	}
	counts_only = !l.cycle_has_bytes;
	gosym_close(g);
	return counts_only;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: capture-probe --mbuckets ADDR --rate ADDR --cycle ADDR [--pie]\n"
		"         (--pid PID | --exec SUFFIX) [--count N] [--dump FILE]\n"
		"         [--timeout SECS] [--ready FILE] [--victims N] [--classic]\n"
		"         [--ringbuf BYTES] [--wait-ms MS] [--budget N] [--no-exit-walk] [--rt]\n"
		"         [--binary PATH]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"mbuckets", required_argument, 0, 'm'},
	    {"rate", required_argument, 0, 'r'},
	    {"cycle", required_argument, 0, 'c'},
	    {"pie", no_argument, 0, 'P'},
	    {"pid", required_argument, 0, 'p'},
	    {"exec", required_argument, 0, 'e'},
	    {"count", required_argument, 0, 'n'},
	    {"dump", required_argument, 0, 'd'},
	    {"timeout", required_argument, 0, 't'},
	    {"ready", required_argument, 0, 'R'},
	    {"victims", required_argument, 0, 'v'},
	    {"classic", no_argument, 0, 'C'},
	    {"bounded", no_argument, 0, 'L'},
	    {"verbose", no_argument, 0, 'V'},
	    {"ringbuf", required_argument, 0, 'b'},
	    {"wait-ms", required_argument, 0, 'w'},
	    {"budget", required_argument, 0, 'B'},
	    {"no-exit-walk", no_argument, 0, 'X'},
	    {"rt", no_argument, 0, 'T'},
	    {"binary", required_argument, 0, 'G'},
	    {0, 0, 0, 0},
	};
	struct capture_opts opts = {0};
	struct probe pr = {.count = 1};
	struct capture_stats st;
	const char *ready = NULL, *dump = NULL;
	pid_t pid = 0;
	int timeout = 120, c, err, rc = 1;
	bool rt = false;
	time_t deadline;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			pr.t.mbuckets_addr = num(optarg);
			break;
		case 'r':
			pr.t.mem_profile_rate_addr = num(optarg);
			break;
		case 'c':
			pr.t.prof_cycle_addr = num(optarg);
			break;
		case 'P':
			pr.pie = true;
			break;
		case 'p':
			pid = num(optarg);
			break;
		case 'e':
			pr.exec_suffix = optarg;
			break;
		case 'n':
			pr.count = num(optarg);
			break;
		case 'd':
			dump = optarg;
			break;
		case 't':
			timeout = num(optarg);
			break;
		case 'R':
			ready = optarg;
			break;
		case 'v':
			pr.want_victims = num(optarg);
			break;
		case 'C':
			opts.force_classic = true;
			break;
		case 'L':
			opts.force_bounded = true;
			break;
		case 'V':
			log_setup(LOG_DEBUG, LOG_TEXT);
			break;
		case 'b':
			opts.profile_ringbuf_bytes = num(optarg);
			break;
		case 'w':
			opts.wait_ms = num(optarg);
			break;
		case 'B':
			opts.budget = num(optarg);
			break;
		case 'X':
			opts.no_exit_walk = true;
			break;
		case 'T':
			rt = true;
			break;
		case 'G':
			pr.counts_only = binary_counts_only(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (!pid && !pr.exec_suffix && !pr.want_victims))
		usage();
	if ((pid || pr.exec_suffix) && !pr.t.mbuckets_addr)
		usage();

	if (rt) {
		/* The victim's walking thread cannot be preempted while it waits for ring
		 * space; a real-time consumer is not queued behind ordinary tasks. */
		struct sched_param sp = {.sched_priority = 10};

		if (sched_setscheduler(0, SCHED_FIFO, &sp))
			fprintf(stderr, "capture-probe: SCHED_FIFO: %s\n", strerror(errno));
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (dump) {
		pr.dump = fopen(dump, "we");
		if (!pr.dump) {
			fprintf(stderr, "capture-probe: %s: %s\n", dump, strerror(errno));
			return 1;
		}
	}
	opts.cb = (struct capture_callbacks){
	    .on_victim = on_victim, .on_profile = on_profile, .on_exec = on_exec, .ctx = &pr};
	pr.cap = capture_open(&opts);
	if (!pr.cap) {
		fprintf(stderr, "capture-probe: capture_open: %s\n", strerror(errno));
		goto cleanup;
	}
	capture_stats(pr.cap, &st);
	printf("attached variant=%s maps_kernel_bytes=%" PRIu64 " (%s)\n", capture_variant(pr.cap),
	       st.maps_kernel_bytes, capture_description(pr.cap));
	fflush(stdout);
	if (pid && register_pid(&pr, pid))
		goto cleanup;
	if (ready) {
		FILE *f = fopen(ready, "we");

		if (f)
			fclose(f);
	}

	deadline = time(NULL) + timeout;
	while (!stop && time(NULL) < deadline) {
		bool want_profiles = pid || pr.exec_suffix;

		if ((!want_profiles || pr.profiles >= pr.count) &&
		    (!pr.want_victims || pr.victims >= pr.want_victims))
			break;
		err = capture_poll(pr.cap, 200);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "capture-probe: poll: %s\n", strerror(-err));
			goto cleanup;
		}
	}
	if ((!(pid || pr.exec_suffix) || pr.profiles >= pr.count) &&
	    (!pr.want_victims || pr.victims >= pr.want_victims))
		rc = 0;
	else
		fprintf(stderr, "capture-probe: %s: %d profiles, %d victims\n",
			stop ? "interrupted" : "timed out", pr.profiles, pr.victims);

cleanup:
	if (pr.cap && !capture_stats(pr.cap, &st)) {
		printf("stats");
		for (int i = 0; i < CAPTURE_C_MAX; i++)
			printf(" %s=%" PRIu64, capture_counter_name(i), st.c[i]);
		printf(" maps_kernel_bytes=%" PRIu64 "\n", st.maps_kernel_bytes);
	}
	capture_close(pr.cap);
	if (pr.dump)
		fclose(pr.dump);
	return rc;
}
