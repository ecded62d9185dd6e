/* Internal to pprof/: the builder's state, shared by the builder and the writer. */
#ifndef PPROF_BUILDER_INT_H
#define PPROF_BUILDER_INT_H

#include "pprof/htab.h"
#include "pprof/pprof.h"
#include "pprof/profile.pb-c.h"

/* A growable array of pointers (or of int64 for comments). */
struct ptrvec {
	void **v;
	size_t n, cap;
};

/* Bytes, grown by doubling. */
struct bytebuf {
	uint8_t *p;
	size_t len, cap;
};

struct pprof_builder {
	uint64_t seed;
	struct ptrvec strings;			      /* char *, index 0 = "" */
	struct ptrvec mappings, functions, locations; /* protobuf-c messages */
	/*
	 * Samples, already encoded as Profile.sample fields (tag, length, Sample bytes):
	 * a heap profile of 50,000 stacks of 128 frames takes ~15 MB this way instead of
	 * ~60 MB as protobuf-c structs, and the writer appends them as they are.
	 */
	struct bytebuf sample_bytes;
	size_t nsamples;
	struct htab string_tab, mapping_tab, function_tab, location_tab;
	Perftools__Profiles__ValueType *sample_types; /* array of ntypes */
	Perftools__Profiles__ValueType **sample_type_ptrs;
	size_t ntypes;
	Perftools__Profiles__ValueType period_type;
	int64_t period, time_nanos, duration_nanos;
	int64_t default_sample_type, drop_frames, keep_frames;
	int64_t *comments;
	size_t ncomments, capcomments;
};

#endif
