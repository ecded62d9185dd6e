/*
 * MemProfileRate tracking and --enable-memprofile. See rate.h.
 */
#include "oomprof/source/rate.h"

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "oomprof/base/log.h"
#include "oomprof/sink/dir.h"
#include "oomprof/source/live.h"

int64_t rate_read(pid_t tgid, uint64_t addr)
{
	int64_t rate = -1;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/mem", tgid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fseeko(f, (off_t)addr, SEEK_SET) || fread(&rate, sizeof(rate), 1, f) != 1)
		rate = -1;
	fclose(f);
	return rate;
}

/* Sampling is off (rate 0): turn it on, and say why it was off. */
static void restore(struct rate_track *rt)
{
	int e = live_write_u64(rt->tgid, rt->addr, (uint64_t)rt->enable_rate);

	if (e) {
		log_warn("pid %d (%s): cannot enable memory profiling: %s", rt->tgid, rt->comm,
			 strerror(-e));
		return;
	}
	if (rt->linker_disabled) {
		if (!rt->enabled_by_us)
			log_info("pid %d (%s): memory profiling was disabled in its binary; "
				 "enabled it (MemProfileRate=%lld)",
				 rt->tgid, rt->comm, (long long)rt->enable_rate);
		rt->enabled_by_us = true;
		return;
	}
	/* The program zeroed the rate itself (cmd/compile does, at start-up). */
	if (!rt->restored_ns)
		log_info("pid %d (%s): the program set MemProfileRate=0 at run time; "
			 "restored sampling (MemProfileRate=%lld): only allocations from now "
			 "on are sampled",
			 rt->tgid, rt->comm, (long long)rt->enable_rate);
	rt->restored_ns = now_ns();
	rt->restored_rate = rt->enable_rate;
}

static void check(struct rate_track *rt)
{
	int64_t rate = rate_read(rt->tgid, rt->addr);

	if (rate > 0 && !(rt->restored_ns && rate == rt->restored_rate) &&
	    !(rt->enabled_by_us && rate == rt->enable_rate))
		rt->last_nonzero = rate;
	if (rate == 0 && rt->enable_rate)
		restore(rt);
}

void rate_track_start(struct rate_track *rt, pid_t tgid, uint64_t addr, const char *comm,
		      bool linker_disabled, int64_t enable_rate, int64_t now_ms)
{
	memset(rt, 0, sizeof(*rt));
	rt->tgid = tgid;
	rt->addr = addr;
	rt->comm = comm;
	rt->enable_rate = enable_rate;
	rt->linker_disabled = linker_disabled;
	rt->watch_until_ms = now_ms + RATE_WATCH_MS;
	check(rt);
}

void rate_track_tick(struct rate_track *rt, int64_t now_ms)
{
	if (rt->addr && now_ms < rt->watch_until_ms)
		check(rt);
}

void rate_track_facts(const struct rate_track *rt, int64_t at_kill, struct rate_facts *rf)
{
	memset(rf, 0, sizeof(*rf));
	rf->at_kill = at_kill;
	rf->last_nonzero = rt->last_nonzero;
	if (rt->restored_ns && at_kill == rt->restored_rate) {
		rf->restored_ns = rt->restored_ns;
		rf->restored_rate = rt->restored_rate;
	}
}
