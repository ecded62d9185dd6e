/*
 * pprof: build, encode, read and summarise profile.proto files (the format of
 * `go tool pprof`, Pyroscope, Parca). Knows nothing about Go or BPF: callers hand it
 * strings, addresses and numbers.
 *
 * Conventions: functions returning int give 0 or -errno; constructors return NULL and
 * set errno. Messages printed or stored by this module start with "pprof: ".
 *
 * Building:
 *	b = pprof_builder_new();
 *	pprof_set_sample_types(b, types, n);      // before any sample
 *	pprof_add_mapping / pprof_add_function / pprof_add_location  → ids (interned)
 *	pprof_add_sample(b, loc_ids, n, values, nvalues, labels, nlabels);  // never merged
 *	pprof_write_atomic(b, "/var/lib/x.pb.gz", 0640);
 *	pprof_builder_free(b);
 *
 * Reading (hostile input is fine: every size is bounded, every reference checked):
 *	pprof_profile_parse(buf, len, NULL, &p, err, sizeof(err));
 *	for (i = 0; i < pprof_profile_nsamples(p); i++) s = pprof_profile_sample(p, i);
 *	pprof_profile_free(p);
 */
#ifndef PPROF_PPROF_H
#define PPROF_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- Builder ------------------------------------------------------------------ */

struct pprof_builder;

/* A (type, unit) pair such as ("inuse_space", "bytes"). */
struct pprof_value_type {
	const char *type;
	const char *unit;
};

struct pprof_mapping {
	uint64_t start, limit, offset;
	const char *filename; /* NULL = "" */
	const char *build_id; /* NULL = "" */
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct pprof_function {
	const char *name;	 /* NULL = "" */
	const char *system_name; /* NULL = "" */
	const char *filename;	 /* NULL = "" */
	int64_t start_line;
};

/* One source line of a location; a location lists its lines innermost first. */
struct pprof_line {
	uint64_t function_id;
	int64_t line;
};

/* A sample label: a string label when str is not NULL, numeric otherwise. */
struct pprof_label {
	const char *key;
	const char *str;
	int64_t num;
	const char *num_unit; /* numeric labels only; NULL = no unit */
};

/* An empty builder; NULL with errno set when out of memory. */
struct pprof_builder *pprof_builder_new(void);
/* Frees everything; NULL is fine. */
void pprof_builder_free(struct pprof_builder *b);

/*
 * The meaning of each sample value. Must be called once, before the first sample
 * (every sample then carries exactly n values): -EINVAL otherwise.
 */
int pprof_set_sample_types(struct pprof_builder *b, const struct pprof_value_type *types, size_t n);
/* What one sampling period counts, e.g. ("space", "bytes") and 524288. */
int pprof_set_period(struct pprof_builder *b, const struct pprof_value_type *type, int64_t period);
/* Collection start (ns since the epoch) and duration (ns). */
void pprof_set_time(struct pprof_builder *b, int64_t time_nanos, int64_t duration_nanos);
/* The sample type viewers show first; must name one of the sample types (-EINVAL). */
int pprof_set_default_sample_type(struct pprof_builder *b, const char *type);
/* Free-form text shown by viewers (`go tool pprof -comments`). */
int pprof_add_comment(struct pprof_builder *b, const char *text);
/* Regexps of frames viewers should drop / keep; NULL clears. */
int pprof_set_drop_frames(struct pprof_builder *b, const char *regexp);
int pprof_set_keep_frames(struct pprof_builder *b, const char *regexp);

/*
 * Interning: the same contents give the same id; ids count up from 1 in order of
 * first appearance. Strings (NULL = "") go to the string table, whose index 0 is "".
 */
int pprof_add_string(struct pprof_builder *b, const char *s, int64_t *index);
int pprof_add_mapping(struct pprof_builder *b, const struct pprof_mapping *m, uint64_t *id);
int pprof_add_function(struct pprof_builder *b, const struct pprof_function *f, uint64_t *id);
/*
 * A location is (mapping id or 0, address, lines innermost first); nlines may be 0.
 * Unknown mapping or function ids give -EINVAL.
 */
int pprof_add_location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
		       const struct pprof_line *lines, size_t nlines, uint64_t *id);
/*
 * One sample: location ids leaf first, one value per sample type, labels. Samples
 * are kept as given, never merged with identical ones.
 */
int pprof_add_sample(struct pprof_builder *b, const uint64_t *location_ids, size_t nlocations,
		     const int64_t *values, size_t nvalues, const struct pprof_label *labels,
		     size_t nlabels);

/* Counts, for callers that report sizes and for tests. */
size_t pprof_builder_nsamples(const struct pprof_builder *b);
size_t pprof_builder_nlocations(const struct pprof_builder *b);
size_t pprof_builder_nfunctions(const struct pprof_builder *b);
size_t pprof_builder_nmappings(const struct pprof_builder *b);
size_t pprof_builder_nstrings(const struct pprof_builder *b);

/* ---- Writing (gzipped profile.proto) -------------------------------------------- */

/* Receives the gzipped bytes in order; returns 0 or -errno (which stops the write). */
typedef int (*pprof_sink_fn)(void *ctx, const void *data, size_t len);

/* Streams the encoded, gzipped profile to sink; nothing is held in memory whole. */
int pprof_write(const struct pprof_builder *b, pprof_sink_fn sink, void *ctx);
/* To a stdio stream (flushed) or a file descriptor (all bytes written, not synced). */
int pprof_write_file(const struct pprof_builder *b, FILE *f);
int pprof_write_fd(const struct pprof_builder *b, int fd);
/* To a malloc'd buffer the caller frees. */
int pprof_write_mem(const struct pprof_builder *b, void **buf, size_t *len);
/*
 * To path, atomically: a temporary file in the same directory is written, synced,
 * given mode, renamed over path, and the directory synced. On error nothing is left
 * behind (and an existing file at path is untouched).
 */
int pprof_write_atomic(const struct pprof_builder *b, const char *path, mode_t mode);

/* ---- Reading ------------------------------------------------------------------ */

struct pprof_profile;

/* Bounds for a parse; zero fields take the defaults below. */
struct pprof_read_limits {
	size_t max_input;   /* file size accepted by pprof_profile_load */
	size_t max_decoded; /* size after gunzip */
	size_t max_memory;  /* bytes allocated for the decoded and resolved profile */
};
#define PPROF_DEFAULT_MAX_INPUT	  (256u << 20)
#define PPROF_DEFAULT_MAX_DECODED (1024u << 20)
#define PPROF_DEFAULT_MAX_MEMORY  (4096ul << 20)

struct pprof_value_type_info {
	const char *type, *unit;
};

struct pprof_mapping_info {
	uint64_t id, start, limit, offset;
	const char *filename, *build_id;
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct pprof_function_info {
	uint64_t id;
	const char *name, *system_name, *filename;
	int64_t start_line;
};

struct pprof_line_info {
	const struct pprof_function_info *function;
	int64_t line;
};

struct pprof_location_info {
	uint64_t id, address;
	const struct pprof_mapping_info *mapping; /* NULL when mapping_id is 0 */
	size_t nlines;
	const struct pprof_line_info *lines; /* innermost first */
};

struct pprof_label_info {
	const char *key;
	const char *str; /* NULL for a numeric label */
	int64_t num;
	const char *num_unit; /* "" when none */
};

struct pprof_sample_info {
	size_t nlocations;
	const struct pprof_location_info *const *locations; /* leaf first */
	size_t nvalues;					    /* == number of sample types */
	const int64_t *values;
	size_t nlabels;
	const struct pprof_label_info *labels;
};

struct pprof_header_info {
	size_t ntypes;
	const struct pprof_value_type_info *sample_types;
	struct pprof_value_type_info period_type;
	int64_t period, time_nanos, duration_nanos;
	const char *default_sample_type; /* "" when unset */
	const char *drop_frames, *keep_frames;
	size_t ncomments;
	const char *const *comments;
};

/*
 * Parses a gzipped or plain profile.proto held in data, validating every id and
 * string index. On error returns -EBADMSG (malformed), -EFBIG (a limit hit) or
 * -ENOMEM, and writes a one-line reason into err (which may be NULL).
 */
int pprof_profile_parse(const void *data, size_t len, const struct pprof_read_limits *limits,
			struct pprof_profile **out, char *err, size_t errlen);
/* The same from a file ("-" is stdin). */
int pprof_profile_load(const char *path, const struct pprof_read_limits *limits,
		       struct pprof_profile **out, char *err, size_t errlen);
void pprof_profile_free(struct pprof_profile *p);

const struct pprof_header_info *pprof_profile_header(const struct pprof_profile *p);
size_t pprof_profile_nsamples(const struct pprof_profile *p);
/* The i-th sample, or NULL when i is out of range. */
const struct pprof_sample_info *pprof_profile_sample(const struct pprof_profile *p, size_t i);
size_t pprof_profile_nlocations(const struct pprof_profile *p);
const struct pprof_location_info *pprof_profile_location(const struct pprof_profile *p, size_t i);
size_t pprof_profile_nfunctions(const struct pprof_profile *p);
const struct pprof_function_info *pprof_profile_function(const struct pprof_profile *p, size_t i);
size_t pprof_profile_nmappings(const struct pprof_profile *p);
const struct pprof_mapping_info *pprof_profile_mapping(const struct pprof_profile *p, size_t i);

/* Index of the sample type named type, or -ENOENT. */
int pprof_profile_sample_index(const struct pprof_profile *p, const char *type);
/*
 * The index viewers show by default: default_sample_type when set and known, else the
 * last sample type (as `go tool pprof` does); -ENOENT when there are no sample types.
 */
int pprof_profile_default_index(const struct pprof_profile *p);

/* ---- Summaries ---------------------------------------------------------------- */

/*
 * The table of `go tool pprof -top -nodefraction=0 -edgefraction=0`: nothing is
 * trimmed. Per function name, as pprof groups (functions of one name merge; a
 * frame without a name is "[file of its mapping]" or "<unknown>").
 */
struct pprof_top_entry {
	const char *name;
	const char *inline_label; /* "", "(inline)" or "(partial-inline)", as pprof shows */
	int64_t flat;		  /* samples whose leaf frame (innermost line) is this function */
	int64_t cum;		  /* samples with this function anywhere, counted once per sample */
};

struct pprof_top {
	int64_t total; /* sum of |value| over all samples, pprof's "total" */
	size_t n;
	struct pprof_top_entry *entries; /* flat desc, then name asc, then cum desc */
};

/*
 * Builds the table for one value index; free with pprof_top_free. Entries whose flat
 * and cum are both 0 are left out, and zero-valued samples are ignored, as in pprof.
 * drop_frames/keep_frames are not applied.
 */
int pprof_top_compute(const struct pprof_profile *p, size_t value_index, struct pprof_top *out);
void pprof_top_free(struct pprof_top *t);

/*
 * The table of `go tool pprof -top -diff_base=BASE P`: P's samples minus BASE's
 * (merged as pprof does, base values negated), flat and cum signed, sorted by |flat|;
 * total is the sum of |values| of BASE (of P when BASE has none), as pprof reports it.
 */
int pprof_top_compute_diff(const struct pprof_profile *base, size_t base_index,
			   const struct pprof_profile *p, size_t value_index,
			   struct pprof_top *out);

/*
 * Formats value of unit the way pprof does ("1.50MB", "512kB", "42"): memory and time
 * units are scaled, to out_unit ("kB", "ms", ...) or, when NULL, to the largest unit
 * the value holds one of; other units are printed as plain integers.
 */
void pprof_format_value(int64_t value, const char *unit, const char *out_unit, char *buf,
			size_t len);
/*
 * The one unit pprof's text reports use for a whole table of values in unit (its
 * "minimum" unit choice), or NULL when unit is not scaled (counts).
 */
const char *pprof_top_unit(const struct pprof_top *t, const char *unit);
/* A percentage the way pprof prints it ("  100%", "12.34%", "0.12%"). */
void pprof_format_percent(int64_t value, int64_t total, char *buf, size_t len);

#endif
