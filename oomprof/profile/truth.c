/*
 * Coverage and sampling-rate honesty of kill-time profiles. See truth.h.
 */
#include "oomprof/profile/truth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The rate the sampled counts were taken at: the rate at the kill when sampling
 * was on; otherwise the last one seen, or the runtime's default. */
static int64_t sampled_rate(const struct rate_facts *rf)
{
	if (rf->at_kill > 0)
		return rf->at_kill;
	if (rf->last_nonzero > 0)
		return rf->last_nonzero;
	return GO_DEFAULT_MEM_PROFILE_RATE;
}

static int64_t inuse_bytes(const struct raw_profile *raw, enum cycle_mode mode, int64_t rate)
{
	struct raw_profile p = *raw;
	struct heap_values *v;
	int64_t sum = 0;

	if (!raw->nbuckets)
		return 0;
	v = calloc(raw->nbuckets, sizeof(*v));
	if (!v)
		return -1;
	p.mem_profile_rate = rate;
	decode_values(&p, mode, v);
	for (size_t i = 0; i < raw->nbuckets; i++)
		if (v[i].v[HEAP_INUSE_SPACE] > 0)
			sum += v[i].v[HEAP_INUSE_SPACE];
	free(v);
	return sum;
}

static void rate_notes(const struct rate_facts *rf, int64_t rate, struct truth *t)
{
	if (rf->at_kill < 0)
		snprintf(t->rate_note, sizeof(t->rate_note),
			 "sampling rate: MemProfileRate unreadable at the kill; unsampled with "
			 "%lld, the last rate read",
			 (long long)rate);
	else if (rf->at_kill > 0 && rf->at_kill != GO_DEFAULT_MEM_PROFILE_RATE && !rf->restored_ns)
		snprintf(t->rate_note, sizeof(t->rate_note),
			 "sampling rate: MemProfileRate %lld was set at run time (the runtime's "
			 "default is %d): allocations sampled before the change were taken at "
			 "the earlier rate, yet are unsampled here with %lld",
			 (long long)rf->at_kill, GO_DEFAULT_MEM_PROFILE_RATE,
			 (long long)rf->at_kill);
	if (rf->restored_ns) {
		char stamp[40];
		time_t secs = (time_t)(rf->restored_ns / 1000000000);
		struct tm tm;

		gmtime_r(&secs, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(t->restored_note, sizeof(t->restored_note),
			 "sampling restored: the program set MemProfileRate=0 at run time; "
			 "oomprof watch --enable-memprofile set it to %lld at %s.%03dZ; "
			 "allocations before that are not in the profile",
			 (long long)rf->restored_rate, stamp,
			 (int)(rf->restored_ns / 1000000 % 1000));
	}
}

void truth_assess(const struct raw_profile *raw, enum cycle_mode mode, const struct rate_facts *rf,
		  uint64_t anon_rss_kb, struct truth *t)
{
	memset(t, 0, sizeof(*t));
	t->unsample_rate = sampled_rate(rf);
	t->partial = rf->at_kill == 0 && raw->nbuckets > 0 && raw->status == RAW_COMPLETE;
	if (t->partial)
		snprintf(t->status_detail, sizeof(t->status_detail),
			 "the program set MemProfileRate=0 at run time; only allocations "
			 "before that are sampled (unsampled with %lld)",
			 (long long)t->unsample_rate);
	t->inuse_bytes = inuse_bytes(raw, mode, t->unsample_rate);
	t->coverage_pct = -1;
	if (anon_rss_kb && t->inuse_bytes >= 0) {
		t->coverage_pct = 100.0 * (double)t->inuse_bytes / ((double)anon_rss_kb * 1024);
		snprintf(t->coverage, sizeof(t->coverage),
			 "profile explains %.*f %% of anon-rss %llu MiB",
			 t->coverage_pct < 10 ? 1 : 0, t->coverage_pct,
			 (unsigned long long)((anon_rss_kb + 512) / 1024));
	} else {
		snprintf(t->coverage, sizeof(t->coverage),
			 "profile explains an unknown share of the memory (anon-rss unknown)");
	}
	rate_notes(rf, t->unsample_rate, t);
}

struct raw_profile truth_apply(const struct raw_profile *raw, const struct truth *t)
{
	struct raw_profile p = *raw;

	p.mem_profile_rate = t->unsample_rate;
	if (t->partial) {
		p.status = RAW_PARTIAL;
		snprintf(p.status_detail, sizeof(p.status_detail), "%s", t->status_detail);
	}
	return p;
}

size_t truth_comment_lines(const struct truth *t, const char **lines, size_t max)
{
	const char *all[] = {t->coverage, t->rate_note, t->restored_note};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]) && n < max; i++)
		if (all[i][0])
			lines[n++] = all[i];
	return n;
}
