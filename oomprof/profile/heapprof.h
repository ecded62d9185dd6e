/*
 * Turns raw memory-profile buckets into a pprof heap profile, the way runtime/pprof
 * writes one (runtime/pprof/protomem.go and proto.go): the four heap sample types,
 * leading runtime.* frames hidden, runtime.goexit dropped, consecutive inlined frames
 * of one physical function grouped into one Location, label "bytes" = object size.
 * One decoder and one symbolizer serve every source (live read, BPF capture).
 */
#ifndef OOMPROF_HEAPPROF_H
#define OOMPROF_HEAPPROF_H

#include <stdint.h>
#include <sys/types.h>

#include "gosym/gosym.h"
#include "oomprof/profile/decode.h"
#include "oomprof/base/procinfo.h"
#include "oomprof/profile/rawprof.h"
#include "pprof/pprof.h"

/* What the profile says about where it came from; every field may be empty/NULL. */
struct heap_meta {
	pid_t pid;
	const char *comm;
	const char *memcg; /* memory cgroup path */
	const char *container_id;
	const char *trigger; /* "snapshot", "oom-kill" */
	int64_t time_ns;     /* capture time, ns since the epoch */
	enum cycle_mode mode;
	const char *extra[8]; /* further comment lines, NULL-terminated */
};

/* The binary behind the buckets, and where the process mapped it. */
struct heap_binary {
	const struct gosym *sym;
	uint64_t bias;		      /* runtime address - file vaddr */
	const struct proc_maps *maps; /* the executable's mappings in the process */
};

/*
 * raw's buckets in the canonical shape (each cycle with its bytes) for the binary's
 * release, checked against a release newer than oomprof knows; *shaped shares raw's
 * pcs, owns its bucket array (free(shaped->buckets)) and is marked canonical, so that
 * everything that reads values (the coverage figure, heapprof_build) sees the same
 * buckets. 0, -ENOTSUP with a message in err, or -ENOMEM.
 */
int heapprof_shape(const struct raw_profile *raw, const struct gosym *sym,
		   struct raw_profile *shaped, char *err, size_t errlen);

/*
 * Builds the profile into a new builder (*out, free with pprof_builder_free).
 * Returns 0 or -errno with a message in err.
 */
int heapprof_build(const struct raw_profile *raw, const struct heap_binary *bin,
		   const struct heap_meta *meta, struct pprof_builder **out, char *err,
		   size_t errlen);

#endif
