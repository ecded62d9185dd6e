/*
 * gosym: read a Go ELF binary — build info, build IDs, pclntab symbolization with
 * inlining, and the addresses of the runtime globals oomprof needs — even when the
 * binary is stripped (-s -w), PIE, or linked externally (cgo).
 *
 * Addresses: gosym works in *file* virtual addresses (the p_vaddr space of the ELF).
 * For a process, translate a runtime address with
 *
 *	bias = start of the mapping at file offset 0 - info->lowest_load_vaddr
 *	file_vaddr = runtime_addr - bias
 *
 * (gosym_load_bias() does the subtraction). For non-PIE binaries bias is 0.
 *
 * Errors follow libbpf: functions returning int give 0 (or a count) on success and
 * -errno on failure; constructors return NULL and set errno. A human-readable reason
 * ("gosym: …") goes to the caller's errbuf when one is given.
 *
 * Thread safety: a handle may be used by several threads at once for lookups.
 * Lookups allocate nothing (except once per distinct generic function name, cached).
 */
#ifndef GOSYM_GOSYM_H
#define GOSYM_GOSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gosym;

struct gosym_opts {
	/* Where a message is written on failure; may be NULL. */
	char *errbuf;
	size_t errbuf_len;
	/*
	 * Root of separate debug files ("/usr/lib/debug" when NULL); searched by GNU
	 * build-id and .gnu_debuglink for DWARF of non-Go code. Path-opened handles only.
	 */
	const char *debug_root;
	/* Do not look for DWARF (no libdw, no extra files). */
	bool no_dwarf;
};

/*
 * Opens a Go binary held in memory. The buffer is not copied: it must stay valid and
 * unchanged until gosym_close(). Returns NULL and sets errno (EINVAL for a malformed
 * file, ENOEXEC for a valid ELF that is not a Go binary, ENOTSUP for a pclntab
 * format gosym does not read, ENOMEM).
 */
struct gosym *gosym_open_mem(const void *buf, size_t len, const struct gosym_opts *opts);

/* Opens a file by path (mapped read-only). Same errors as gosym_open_mem, plus open(2)'s. */
struct gosym *gosym_open(const char *path, const struct gosym_opts *opts);

/*
 * The Go version in a file's build info ("go1.28.0"), read even when gosym_open cannot
 * read the rest (a pclntab format it does not know): 0, -ENOENT when the file has no
 * Go build info, or gosym_open's errors.
 */
int gosym_build_version(const char *path, char *buf, size_t len);

/* Releases everything; accepts NULL. */
void gosym_close(struct gosym *g);

enum gosym_pcln_format {
	GOSYM_PCLN_UNKNOWN = 0,
	GOSYM_PCLN_GO116, /* magic 0xfffffffa, Go 1.16–1.17 (detected, not read) */
	GOSYM_PCLN_GO118, /* magic 0xfffffff0, Go 1.18–1.19 */
	GOSYM_PCLN_GO120, /* magic 0xfffffff1, Go 1.20+ */
};

struct gosym_info {
	char go_version[64];	/* "go1.23.5" from .go.buildinfo, "" if absent */
	int go_major, go_minor; /* 1, 23; 0 when unknown */
	char main_module[256];	/* main module path, "" if absent */
	char go_build_id[256];	/* .note.go.buildid, "" if absent */
	char gnu_build_id[41];	/* hex of NT_GNU_BUILD_ID, "" if absent */
	bool is_pie;		/* ET_DYN */
	bool is_stripped;	/* no .symtab */
	bool has_dwarf;		/* .debug_info in the file itself */
	bool is_cgo;		/* non-Go code in the text (external link) */
	enum gosym_pcln_format pcln_format;
	uint32_t pcln_magic;
	uint64_t pclntab_addr;	       /* file vaddr of the pclntab header */
	const char *pclntab_where;     /* section name, or "scan" when found by scanning */
	uint64_t text_start, text_end; /* Go text: moduledata.text + the pclntab's offsets */
	uint32_t nfunc;
	uint64_t lowest_load_vaddr; /* p_vaddr of the lowest PT_LOAD (page aligned) */
	uint64_t exec_load_vaddr, exec_load_offset, exec_load_size; /* executable PT_LOAD */
	uint64_t gofunc;	  /* moduledata.gofunc (base of funcdata offsets), 0 if unknown */
	uint64_t moduledata_addr; /* runtime.firstmoduledata, 0 if not found */
	/* 1: the linker disabled memory profiling; 0: enabled; -1: unknown. */
	int profiling_disabled;
};

/* The handle's facts; valid until gosym_close(). */
const struct gosym_info *gosym_info(const struct gosym *g);

/* bias = map_start - lowest_load_vaddr, where map_start is where the mapping at file
 * offset 0 begins in the process. */
uint64_t gosym_load_bias(const struct gosym *g, uint64_t map_start);

enum gosym_global {
	GOSYM_MBUCKETS,	       /* runtime.mbuckets (*bucket) */
	GOSYM_MEMPROFILERATE,  /* runtime.MemProfileRate (int) */
	GOSYM_DISABLE_MEMPROF, /* runtime.disableMemoryProfiling (bool) */
	GOSYM_MPROFCYCLE,      /* runtime.mProfCycle (uint32) */
	GOSYM_ALLGLEN,	       /* runtime.allglen (uintptr) */
	GOSYM_ALLGPTR,	       /* runtime.allgptr (**g) */
	GOSYM_NGLOBALS,
};

enum gosym_method {
	GOSYM_NOT_FOUND = 0,
	GOSYM_BY_SYMTAB, /* .symtab entry */
	GOSYM_BY_CODE,	 /* decoded from RIP-relative instructions of a runtime function */
};

/* The global's Go name ("runtime.mbuckets"), or NULL for a bad index. */
const char *gosym_global_name(enum gosym_global which);
/* "symtab", "code", "not found". */
const char *gosym_method_name(enum gosym_method how);

/*
 * File vaddr of a runtime global and how it was found (symtab preferred, code
 * decoding otherwise). -ENOENT when neither method found it.
 */
int gosym_global(const struct gosym *g, enum gosym_global which, uint64_t *addr,
		 enum gosym_method *how);

/* The same, by one method only (for cross-checks): -ENOENT if that method fails. */
int gosym_global_by(const struct gosym *g, enum gosym_global which, enum gosym_method how,
		    uint64_t *addr);

/* Struct layouts of the runtime version this binary was built with. */
struct gosym_layout {
	/* bucket header and its trailing stack and memRecord (runtime/mprof.go) */
	uint32_t bucket_size; /* 48: header; stack follows */
	uint32_t bucket_next, bucket_allnext, bucket_typ, bucket_hash, bucket_size_field,
	    bucket_nstk;
	uint32_t bucket_typ_memory;		     /* 1 */
	uint32_t memrecord_size;		     /* 128 (64 from 1.27) */
	uint32_t memrecord_active, memrecord_future; /* cycle 0 and future[0] */
	uint32_t cycle_size;			     /* 32 (16 from 1.27) */
	uint32_t cycle_allocs, cycle_frees;
	/* Up to 1.26 a cycle also holds its bytes; from 1.27 bytes = count * bucket size. */
	bool cycle_has_bytes;
	uint32_t cycle_alloc_bytes, cycle_free_bytes; /* when cycle_has_bytes */
	uint32_t max_stack_depth;	/* default profiling depth: 32 (≤1.22), 128 (1.23+) */
	uint32_t max_stack_depth_limit; /* deepest possible: 32 (≤1.22), 1024 (1.23+) */
	/* moduledata */
	uint32_t moduledata_text, moduledata_gofunc;
	/* g (goroutine) on amd64 */
	uint32_t g_stack_lo, g_stack_hi, g_sched_sp, g_sched_pc, g_sched_bp, g_atomicstatus, g_goid,
	    g_waitreason, g_gopc;

	/* The release these facts are for (Go 1.release_minor), and whether they were
	 * confirmed for the binary's own release: false for a release newer than the
	 * newest oomprof knows, which gets that newest release's layout. */
	int release_minor;
	bool verified;
	/* runtime/pprof of this release hides leading internal/runtime/ frames (1.24+)
	 * as well as runtime.* ones */
	bool pprof_hides_internal_runtime;
};

/*
 * Fills *out for this binary's Go version: the known release's facts, or for a newer
 * release the newest known one's with verified false. -ENOTSUP when the version is
 * older than the oldest known release, or unknown.
 */
int gosym_layout(const struct gosym *g, struct gosym_layout *out);

/* The releases oomprof knows: Go 1.first_minor to 1.last_minor. */
void gosym_known_releases(int *first_minor, int *last_minor);

/* Go 1.N of the i-th known release and the tests that confirm it; -1 past the end. */
int gosym_release_minor(size_t i, const char **checked_by);

/*
 * For a binary built by a release newer than the newest oomprof knows, writes
 * "Go 1.28.0 is newer than the releases this oomprof knows (1.19–1.27)" and returns
 * true; false (buf untouched) otherwise.
 */
bool gosym_newer_release(const struct gosym *g, char *buf, size_t len);

/* Whether a pclntab magic is one that some known release writes. */
bool gosym_magic_known(uint32_t magic);

enum gosym_frame_kind {
	GOSYM_FRAME_GO,	     /* from the pclntab */
	GOSYM_FRAME_NATIVE,  /* non-Go code, from DWARF */
	GOSYM_FRAME_UNKNOWN, /* outside any known code: only map offset is meaningful */
};

struct gosym_frame {
	uint64_t pc;	       /* the PC looked up (pc-1 for a return PC past entry) */
	uint64_t entry;	       /* entry of the physical function (0 if unknown) */
	const char *name;      /* print name: generic shape args shown as "[...]" */
	const char *raw_name;  /* symbol name as stored */
	const char *func_name; /* raw name of the physical (outermost) function */
	const char *function;  /* exactly runtime.Frame.Function: print name from Go 1.21,
				* raw name before */
	const char *file;      /* "?" when unknown */
	int line;	       /* 0 when unknown */
	int start_line;	       /* line of the func keyword; 0 when unknown (Go ≤1.19) */
	bool inlined;	       /* this logical frame was inlined into its caller */
	uint8_t func_id;       /* runtime funcID of the logical function */
	enum gosym_frame_kind kind;
	uint64_t file_offset; /* pc's offset in the ELF file (for mapping+offset) */
	size_t index;	      /* for gosym_stack: which input PC produced this frame */
};

/* Lookup flags. */
#define GOSYM_RETURN_PC 0x1 /* pc is a return address: look up pc-1 when pc > entry */

/*
 * Symbolizes one PC into its inline chain, innermost first (like addr2line -f -i).
 * Returns the number of frames written (≥1), or -ENOENT when pc is in no known code,
 * -ENOSPC when max is too small for the chain (max frames are still written).
 * Non-Go PCs are answered from DWARF when present (kind NATIVE), else -ENOENT.
 */
int gosym_lookup(const struct gosym *g, uint64_t pc, unsigned flags, struct gosym_frame *out,
		 size_t max);

/*
 * One logical frame for a return PC from a stack, as runtime.CallersFrames gives it
 * for a stack holding virtual PCs of inlined calls (each PC maps to one frame).
 */
int gosym_pc(const struct gosym *g, uint64_t pc, struct gosym_frame *out);

/* Stack flags. */
#define GOSYM_STACK_KEEP_UNKNOWN 0x1 /* keep frames for PCs outside Go code (NATIVE/UNKNOWN) */

/*
 * Expands a stack of return PCs (as stored in a profile bucket or returned by
 * runtime.Callers) into logical frames exactly as runtime.CallersFrames would,
 * including the re-insertion of missing inlined callers and wrapper elision (Go 1.21+).
 * PCs outside Go code are skipped unless GOSYM_STACK_KEEP_UNKNOWN.
 * Returns the number of frames written, or -ENOSPC when max is too small.
 */
int gosym_stack(const struct gosym *g, const uint64_t *pcs, size_t npcs, unsigned flags,
		struct gosym_frame *out, size_t max);

/*
 * Function by exact name (raw symbol name): its entry and end. -ENOENT if absent.
 * Linear in the number of functions: for set-up, not for hot paths.
 */
int gosym_func_by_name(const struct gosym *g, const char *name, uint64_t *entry, uint64_t *end);

/* Number of functions and the entry/end/raw name of the i-th (for tests and tools). */
int gosym_func_at(const struct gosym *g, uint32_t i, uint64_t *entry, uint64_t *end,
		  const char **name);

#endif
