#include "oomprof/sink/run_report.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pprof/pprof.h"

void run_report_add(struct run_report *rep, const struct watch_profile *wp)
{
	struct run_report_entry *e;

	if (rep->n == rep->cap) {
		size_t cap = rep->cap ? rep->cap * 2 : 16;
		struct run_report_entry *v = realloc(rep->e, cap * sizeof(*v));
		if (!v) {
			rep->add_errors++;
			return;
		}
		rep->e = v;
		rep->cap = cap;
	}
	e = &rep->e[rep->n++];
	e->pid = wp->pid;
	snprintf(e->comm, sizeof(e->comm), "%s", wp->comm);
	snprintf(e->path, sizeof(e->path), "%s", wp->path);
	snprintf(e->trigger, sizeof(e->trigger), "%s", wp->trigger);
	e->anon_rss_kb = wp->anon_rss_kb;
}

void run_report_drop_trigger(struct run_report *rep, const char *trigger)
{
	size_t kept = 0;

	for (size_t i = 0; i < rep->n; i++) {
		if (!strcmp(rep->e[i].trigger, trigger)) {
			unlink(rep->e[i].path);
			continue;
		}
		rep->e[kept++] = rep->e[i];
	}
	rep->n = kept;
}

void run_report_measure(struct run_report *rep, const struct memcg *cg, uint64_t peak_seen)
{
	uint64_t peak;

	rep->limit = cg->limit;
	rep->peak = peak_seen;
	if (memcg_peak(cg, &peak) == 0 && peak > rep->peak)
		rep->peak = peak;
	rep->oom_kills = memcg_oom_kills(cg);
	snprintf(rep->cgroup, sizeof(rep->cgroup), "%s", cg->dir);
}

void run_format_bytes(uint64_t v, char *buf, size_t len)
{
	if (v == UINT64_MAX)
		snprintf(buf, len, "none");
	else if (v >= (1ull << 30))
		snprintf(buf, len, "%.2f GiB", (double)v / (1 << 30));
	else
		snprintf(buf, len, "%.1f MiB", (double)v / (1 << 20));
}

/* "main.f 50.1%, main.g 30.0%, main.h 19.9%; explains 93% of anon-rss 240.0 MiB". */
static void summarize(const struct run_report_entry *e, char *buf, size_t len)
{
	struct pprof_profile *prof;
	struct pprof_top top;
	size_t used = 0;
	int idx;

	snprintf(buf, len, "(unreadable)");
	if (pprof_profile_load(e->path, NULL, &prof, NULL, 0))
		return;
	idx = pprof_profile_sample_index(prof, "inuse_space");
	if (idx < 0 || pprof_top_compute(prof, (size_t)idx, &top)) {
		pprof_profile_free(prof);
		return;
	}
	buf[0] = 0;
	for (size_t i = 0; i < top.n && i < 3 && top.entries[i].flat > 0 && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s %.1f%%", i ? ", " : "",
					 top.entries[i].name,
					 100.0 * (double)top.entries[i].flat / (double)top.total);
	if (!top.total && used < len)
		used += (size_t)snprintf(buf + used, len - used, "(no samples)");
	if (e->anon_rss_kb && used < len) {
		char rss[32];
		run_format_bytes(e->anon_rss_kb * 1024, rss, sizeof(rss));
		snprintf(buf + used, len - used, "; explains %.0f%% of anon-rss %s",
			 100.0 * (double)top.total / ((double)e->anon_rss_kb * 1024), rss);
	}
	pprof_top_free(&top);
	pprof_profile_free(prof);
}

static int by_pid(const void *a, const void *b)
{
	const struct run_report_entry *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

static void print_profiles(const struct run_report *rep, FILE *out)
{
	struct run_report_entry *sorted = malloc((rep->n + 1) * sizeof(*sorted));
	char sum[1024];

	if (!sorted)
		return;
	memcpy(sorted, rep->e, rep->n * sizeof(*sorted));
	qsort(sorted, rep->n, sizeof(*sorted), by_pid); /* stable enough: time order kept by
							   the names, which sort by time */
	for (size_t i = 0; i < rep->n; i++) {
		const struct run_report_entry *e = &sorted[i];
		if (!i || sorted[i - 1].pid != e->pid)
			fprintf(out, "  pid %d (%s):\n", e->pid, e->comm);
		summarize(e, sum, sizeof(sum));
		fprintf(out, "    %-10s %s\n               top inuse_space: %s\n", e->trigger,
			e->path, sum);
	}
	free(sorted);
}

static void print_ending(const struct run_report *rep, FILE *out, int status)
{
	if (WIFEXITED(status))
		fprintf(out, "oomprof run: COMMAND exited with status %d", WEXITSTATUS(status));
	else if (WTERMSIG(status) == SIGKILL && rep->oom_kills > 0)
		fprintf(out, "oomprof run: COMMAND was killed by the OOM killer (SIGKILL)");
	else
		fprintf(out, "oomprof run: COMMAND was killed by signal %d (%s)", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
	fprintf(out, "; %lld OOM kill%s in its memory cgroup %s (%s)\n",
		rep->oom_kills < 0 ? 0 : rep->oom_kills, rep->oom_kills == 1 ? "" : "s",
		rep->cgroup, rep->cgroup_removed ? "removed" : "NOT removed");
}

void run_report_print(const struct run_report *rep, FILE *out, int status, uint64_t fail_above,
		      int rc)
{
	char peak[32], limit[32], mark[32];

	print_ending(rep, out, status);
	run_format_bytes(rep->peak, peak, sizeof(peak));
	run_format_bytes(rep->limit, limit, sizeof(limit));
	if (rep->limit != UINT64_MAX)
		fprintf(out, "oomprof run: peak memory %s of limit %s (%.1f%%)\n", peak, limit,
			100.0 * (double)rep->peak / (double)rep->limit);
	else
		fprintf(out, "oomprof run: peak memory %s (no limit)\n", peak);
	if (fail_above) {
		run_format_bytes(fail_above, mark, sizeof(mark));
		fprintf(out, "oomprof run: peak %s --fail-above %s%s\n",
			rep->peak > fail_above ? "passed" : "stayed under", mark,
			rep->peak > fail_above ? ": failing" : "");
	}
	fprintf(out, "oomprof run: %zu profile%s of Go processes%s\n", rep->n,
		rep->n == 1 ? "" : "s", rep->n ? ":" : "");
	print_profiles(rep, out);
	fprintf(out, "oomprof run: exit status %d\n", rc);
}

void run_report_free(struct run_report *rep)
{
	free(rep->e);
	memset(rep, 0, sizeof(*rep));
}
