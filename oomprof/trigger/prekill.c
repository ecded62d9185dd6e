#include "oomprof/trigger/prekill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oomprof/base/log.h"
#include "oomprof/base/memcg.h"
#include "oomprof/base/procinfo.h"
#include "oomprof/trigger/psi.h"
#include "oomprof/trigger/threshold.h"

/* A cgroup nobody was checked against for this long is forgotten. */
#define FORGET_MS 60000
/* Bounds on what is tracked, whatever the host runs. */
#define MAX_TRACKED 4096
/* v1's "no limit": PAGE_COUNTER_MAX pages, 0x7ffffffffffff000 with 4 KiB pages. */
#define V1_UNLIMITED (1ull << 62)

struct pk_memcg {
	struct memcg cg; /* path, and the v1 threshold eventfd */
	struct threshold th;
	uint64_t usage;
	uint32_t round;
	bool crossed; /* in that round */
	int64_t seen_ms;
};

struct pk_psi {
	char path[512];
	struct psi_rule rule;
	double avg10;
	uint32_t round;
	bool fired; /* in that round */
	int64_t seen_ms;
};

struct pk_cool {
	pid_t pid;
	uint64_t start_ticks;
	int64_t at_ms;
};

struct prekill {
	struct prekill_opts o;
	uint32_t round;
	int64_t now_ms;
	struct pk_memcg *memcgs;
	size_t nmemcgs;
	struct pk_psi *psis;
	size_t npsis;
	struct pk_cool *cools;
	size_t ncools;
};

struct prekill *prekill_new(const struct prekill_opts *o)
{
	struct prekill *pk = calloc(1, sizeof(*pk));

	if (!pk)
		return NULL;
	pk->o = *o;
	pk->memcgs = calloc(MAX_TRACKED, sizeof(*pk->memcgs));
	pk->psis = calloc(MAX_TRACKED, sizeof(*pk->psis));
	pk->cools = calloc(MAX_TRACKED, sizeof(*pk->cools));
	if (!pk->memcgs || !pk->psis || !pk->cools) {
		prekill_free(pk);
		errno = ENOMEM;
		return NULL;
	}
	return pk;
}

void prekill_free(struct prekill *pk)
{
	if (!pk)
		return;
	for (size_t i = 0; i < pk->nmemcgs; i++)
		if (pk->memcgs[i].cg.event_fd >= 0)
			close(pk->memcgs[i].cg.event_fd);
	free(pk->memcgs);
	free(pk->psis);
	free(pk->cools);
	free(pk);
}

/* Drops cgroups not checked for a while and cooldowns that are over. */
static void prune(struct prekill *pk)
{
	for (size_t i = 0; i < pk->nmemcgs; i++)
		if (pk->now_ms - pk->memcgs[i].seen_ms > FORGET_MS) {
			if (pk->memcgs[i].cg.event_fd >= 0)
				close(pk->memcgs[i].cg.event_fd);
			pk->memcgs[i--] = pk->memcgs[--pk->nmemcgs];
		}
	for (size_t i = 0; i < pk->npsis; i++)
		if (pk->now_ms - pk->psis[i].seen_ms > FORGET_MS)
			pk->psis[i--] = pk->psis[--pk->npsis];
	for (size_t i = 0; i < pk->ncools; i++)
		if (pk->now_ms - pk->cools[i].at_ms > pk->o.cooldown_ms)
			pk->cools[i--] = pk->cools[--pk->ncools];
}

void prekill_round(struct prekill *pk, int64_t now_ms)
{
	uint64_t junk;

	pk->round++;
	pk->now_ms = now_ms;
	for (size_t i = 0; i < pk->nmemcgs; i++) /* clear the crossing notifications */
		if (pk->memcgs[i].cg.event_fd >= 0 &&
		    read(pk->memcgs[i].cg.event_fd, &junk, sizeof(junk)) < 0)
			continue;
	prune(pk);
}

size_t prekill_fds(const struct prekill *pk, int *fds, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < pk->nmemcgs && n < max; i++)
		if (pk->memcgs[i].cg.event_fd >= 0)
			fds[n++] = pk->memcgs[i].cg.event_fd;
	return n;
}

/* Re-reads the limit; on v1, asks the kernel to signal the crossing (again, when the
 * limit changed). */
static void arm(struct pk_memcg *m, unsigned pct)
{
	uint64_t limit;

	if (memcg_limit_bytes(m->cg.path, &limit) < 0)
		return;
	if (limit >= V1_UNLIMITED) /* v1 says "no limit" with a huge number */
		limit = UINT64_MAX;
	if (limit == m->th.limit)
		return;
	threshold_init(&m->th, limit, &pct, 1);
	if (m->cg.event_fd >= 0)
		close(m->cg.event_fd);
	m->cg.event_fd = -1;
	if (limit != UINT64_MAX && !m->cg.v2 && memcg_notify_at(&m->cg, threshold_bytes(&m->th, 0)))
		log_debug("memory cgroup %s: no kernel threshold notification; polling its usage",
			  m->cg.path);
}

static struct pk_memcg *memcg_state(struct prekill *pk, const char *path)
{
	struct pk_memcg *m = NULL;

	for (size_t i = 0; i < pk->nmemcgs && !m; i++)
		if (!strcmp(pk->memcgs[i].cg.path, path))
			m = &pk->memcgs[i];
	if (!m) {
		if (pk->nmemcgs == MAX_TRACKED)
			return NULL;
		m = &pk->memcgs[pk->nmemcgs];
		memset(m, 0, sizeof(*m));
		if (memcg_open(&m->cg, path))
			return NULL;
		pk->nmemcgs++;
	}
	m->seen_ms = pk->now_ms;
	if (m->round != pk->round) {
		m->round = pk->round;
		arm(m, pk->o.before_oom_pct);
		m->crossed = memcg_read_u64(path, "memory.current", "memory.usage_in_bytes",
					    &m->usage) == 0 &&
			     threshold_update(&m->th, m->usage);
	}
	return m;
}

static struct pk_psi *psi_state(struct prekill *pk, const char *path)
{
	struct pk_psi *s = NULL;

	for (size_t i = 0; i < pk->npsis && !s; i++)
		if (!strcmp(pk->psis[i].path, path))
			s = &pk->psis[i];
	if (!s) {
		if (pk->npsis == MAX_TRACKED)
			return NULL;
		s = &pk->psis[pk->npsis++];
		memset(s, 0, sizeof(*s));
		snprintf(s->path, sizeof(s->path), "%s", path);
		s->rule.threshold = pk->o.psi_threshold;
		s->rule.duration_ms = pk->o.psi_duration_ms;
	}
	s->seen_ms = pk->now_ms;
	if (s->round != pk->round) {
		s->round = pk->round;
		s->fired = psi_full_avg10(path, &s->avg10) == 0 &&
			   psi_rule_update(&s->rule, s->avg10, pk->now_ms);
	}
	return s;
}

static bool cooling(struct prekill *pk, pid_t pid, uint64_t start_ticks)
{
	for (size_t i = 0; i < pk->ncools; i++)
		if (pk->cools[i].pid == pid && pk->cools[i].start_ticks == start_ticks)
			return true;
	return false;
}

static void cool(struct prekill *pk, pid_t pid, uint64_t start_ticks)
{
	if (pk->ncools < MAX_TRACKED)
		pk->cools[pk->ncools++] = (struct pk_cool){pid, start_ticks, pk->now_ms};
}

static bool threshold_due(struct prekill *pk, const char *memcg, struct snap_reason *why)
{
	struct pk_memcg *m = pk->o.before_oom_pct ? memcg_state(pk, memcg) : NULL;

	if (!m || !m->crossed)
		return false;
	why->trigger = "before-oom";
	snprintf(why->tag, sizeof(why->tag), "prekill-%upct", pk->o.before_oom_pct);
	snprintf(why->detail, sizeof(why->detail), "memory cgroup %.100s crossed %u%% of its limit",
		 memcg, pk->o.before_oom_pct);
	why->usage = m->usage;
	why->limit = m->th.limit;
	return true;
}

static bool psi_due(struct prekill *pk, pid_t pid, struct snap_reason *why)
{
	char path[512];
	struct pk_psi *s;

	if (pk->o.psi_threshold < 0 || proc_cgroup2_path(pid, path, sizeof(path)))
		return false;
	s = psi_state(pk, path);
	if (!s || !s->fired)
		return false;
	why->trigger = "psi";
	snprintf(why->tag, sizeof(why->tag), "prekill-psi");
	/* a cut-short line is fine: the value that counts is written just below */
	if (snprintf(why->detail, sizeof(why->detail),
		     "memory pressure of cgroup %.80s: full avg10 above %.1f for %lld s", path,
		     pk->o.psi_threshold, (long long)(pk->o.psi_duration_ms / 1000)) < 0)
		why->detail[0] = 0;
	why->pressure = s->avg10;
	return true;
}

bool prekill_due(struct prekill *pk, pid_t pid, uint64_t start_ticks, const char *memcg,
		 struct snap_reason *why)
{
	struct snap_reason pressure = {.pressure = -1};
	bool due, pressed;

	memset(why, 0, sizeof(*why));
	why->pressure = -1;
	/* Both are evaluated, so that every cgroup's state follows its readings. */
	due = threshold_due(pk, memcg, why);
	pressed = psi_due(pk, pid, &pressure);
	if (due && pressed) {
		why->pressure = pressure.pressure;
	} else if (pressed) {
		*why = pressure;
		due = true;
		if (memcg_read_u64(memcg, "memory.current", "memory.usage_in_bytes", &why->usage) ||
		    memcg_limit_bytes(memcg, &why->limit))
			why->usage = why->limit = 0;
	}
	if (!due || cooling(pk, pid, start_ticks))
		return false;
	cool(pk, pid, start_ticks);
	return true;
}
