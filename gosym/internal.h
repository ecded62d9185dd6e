/* gosym internals shared by its source files. Not a public interface. */
#ifndef GOSYM_INTERNAL_H
#define GOSYM_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <string.h>

#include "gosym/gosym.h"

/* Hard limits: a crafted file never makes gosym allocate or loop more than this. */
#define GOSYM_MAX_SECTIONS     4096
#define GOSYM_MAX_PHDRS	       256
#define GOSYM_MAX_INLINE_DEPTH 64   /* inline chain walked for one PC */
#define GOSYM_MAX_NAME	       4096 /* longest name we accept from a string table */

struct gs_section {
	const char *name;
	uint64_t addr, offset, size;
	uint32_t type;
	uint64_t flags;
};

struct gs_segment {
	uint64_t vaddr, offset, filesz, memsz;
	uint32_t flags;
};

/* pclntab header and the bounds of its tables (all offsets from pcln). */
struct gs_pcln {
	const uint8_t *base; /* header */
	uint64_t size;	     /* bytes available from base */
	uint32_t magic;
	uint8_t quantum, ptrsize;
	uint64_t nfunc, nfiles, text_start;
	/* tables: [off, end) inside base */
	uint64_t funcname_off, funcname_end;
	uint64_t cu_off, cu_end;
	uint64_t file_off, file_end;
	uint64_t pc_off, pc_end;
	uint64_t pcln_off, pcln_end;
	uint32_t func_size; /* 40 (1.18–1.19) or 44 (1.20+) */
	uint32_t inl_size;  /* 20 or 16 */
};

/* A cached print name ("pkg.F[...]") of a generic function, keyed by name offset. */
struct gs_name {
	uint32_t key; /* name offset + 1; 0 = empty slot */
	char *val;
};

struct gosym {
	const uint8_t *buf;
	size_t len;
	void *map; /* non-NULL when we mmapped the file */
	size_t map_len;
	void *elf; /* Elf * */
	uint16_t machine;
	struct gs_section *secs;
	size_t nsecs;
	struct gs_segment phdrs[GOSYM_MAX_PHDRS];
	size_t nphdrs;
	struct gosym_info info;
	struct gs_pcln pcln;
	uint32_t *page_index; /* first function of each 4 KiB of text */
	uint64_t npages;
	uint8_t wrapper_id, gopanic_id, sigpanic_id, panicwrap_id;
	bool ids_known;
	uint64_t globals[GOSYM_NGLOBALS][3]; /* by method: [0] unused, [1] symtab, [2] code */
	/* print names of generic functions, filled on first use */
	pthread_mutex_t names_mu;
	struct gs_name *names;
	size_t names_cap, names_len;
	/* DWARF for non-Go code, opened on first use */
	pthread_mutex_t dw_mu;
	bool dw_tried;
	void *dw;     /* Dwarf * */
	void *dw_elf; /* Elf * of a separate debug file, if used */
	int dw_fd;
	char *path; /* for finding separate debug files */
	char *debug_root;
	bool no_dwarf;
};

/* Little-endian reads; callers check bounds first. */
static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* True when [off, off+n) lies within [0, size). */
static inline bool in_bounds(uint64_t off, uint64_t n, uint64_t size)
{
	return off <= size && n <= size - off;
}

void gs_err(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* elf.c */
int gs_elf_load(struct gosym *g, char *err, size_t errlen);
void gs_elf_free(struct gosym *g);
const struct gs_section *gs_section(const struct gosym *g, const char *name);
const uint8_t *gs_section_data(const struct gosym *g, const struct gs_section *s);
const uint8_t *gs_vaddr_ptr(const struct gosym *g, uint64_t addr, uint64_t n, uint64_t *avail);
int gs_vaddr_to_offset(const struct gosym *g, uint64_t addr, uint64_t *off);
bool gs_vaddr_is_nobits(const struct gosym *g, uint64_t addr);
void gs_elf_notes(struct gosym *g);
int gs_symtab_globals(struct gosym *g);
bool gs_is_exec_addr(const struct gosym *g, uint64_t addr);

/* buildinfo.c */
int gs_buildinfo_parse(const uint8_t *p, size_t n, const struct gosym *g, char *version,
		       size_t vlen, char *module, size_t mlen);
void gs_buildinfo(struct gosym *g);

/* pclntab.c */
int gs_pcln_parse(struct gs_pcln *t, const uint8_t *p, uint64_t size, char *err, size_t errlen);
int gs_pcln_find(struct gosym *g, char *err, size_t errlen);
int64_t gs_find_func(const struct gosym *g, uint64_t pc);
const uint8_t *gs_func(const struct gosym *g, uint64_t i);
uint64_t gs_func_entry(const struct gosym *g, const uint8_t *f);
const char *gs_name_at(const struct gosym *g, int64_t nameoff);
int32_t gs_pcvalue(const struct gosym *g, const uint8_t *f, uint32_t table_off, uint64_t pc);
int32_t gs_pcdata(const struct gosym *g, const uint8_t *f, uint32_t table, uint64_t pc);
const char *gs_file(const struct gosym *g, const uint8_t *f, int32_t fileno);
const uint8_t *gs_funcdata(const struct gosym *g, const uint8_t *f, uint32_t i, uint64_t n);
void gs_pcln_index(struct gosym *g);

/* frames.c */
const char *gs_print_name(const struct gosym *g, int64_t nameoff, const char *raw);
void gs_names_free(struct gosym *g);
void gs_func_ids(struct gosym *g);
void gs_funcs_by_names(const struct gosym *g, const char *const *names, int64_t *idx, size_t k);

/* releases.c: per-release facts (see the table there) */
enum gs_rate_code {
	GS_RATE_IN_INIT,      /* runtime.init sets MemProfileRate from disableMemoryProfiling */
	GS_RATE_IN_SCHEDINIT, /* runtime.schedinit zeroes it when disableMemoryProfiling */
};

struct gs_release {
	int minor;			   /* Go 1.minor */
	uint32_t pcln_magic;		   /* pcHeader.magic it writes */
	uint16_t md_text, md_gofunc;	   /* moduledata field offsets */
	enum gs_rate_code rate_code;	   /* where MemProfileRate is decoded from */
	uint8_t cycle_words;		   /* memRecordCycle: 4 (counts and bytes) or 2 (counts) */
	uint16_t stack_depth, stack_limit; /* profiling stack depth: default, deepest */
	uint16_t g_sched_bp, g_atomicstatus, g_goid, g_waitreason, g_gopc;
	bool pprof_hides_internal; /* runtime/pprof hides leading internal/runtime/ frames */
	const char *checked_by;	   /* the tests that confirm the row */
};

const struct gs_release *gs_release_at(size_t i);
const struct gs_release *gs_release_for(int major, int minor, bool *verified);
const struct gs_release *gs_release(const struct gosym *g, bool *verified);

/* globals.c */
void gs_decode_globals(struct gosym *g);
void gs_profiling_disabled(struct gosym *g);

/* dwarf.c */
int gs_dwarf_lookup(const struct gosym *g, uint64_t pc, struct gosym_frame *out, size_t max);
void gs_dwarf_free(struct gosym *g);

#endif
