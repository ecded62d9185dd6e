/*
 * Runtime globals in binaries without .symtab: find a runtime function that uses the
 * global through the pclntab, then match the RIP-relative instruction that touches
 * it (target = address of the next instruction + disp32). The patterns are tied to
 * what the Go compiler emits for those functions (checked on every release in
 * gosym/releases.c, see GO_RUNTIME.md §4), and every target must land in writable data, so a
 * pattern that matches by accident in the middle of another instruction is rejected.
 */
#include <elf.h>
#include <errno.h>

#include "gosym/internal.h"

enum { F_FLUSHLOCKED, F_FOREACHG, F_FLUSH, F_SCHEDINIT, F_INIT, NFUNCS };

static const char *const func_names[NFUNCS] = {
    "runtime.mProf_FlushLocked", "runtime.forEachGRace", "runtime.mProf_Flush",
    "runtime.schedinit",	 "runtime.init",
};

struct code {
	const uint8_t *p;
	uint64_t len, addr;
};

static bool writable(const struct gosym *g, uint64_t addr)
{
	for (size_t i = 0; i < g->nphdrs; i++) {
		const struct gs_segment *s = &g->phdrs[i];
		if ((s->flags & PF_W) && addr >= s->vaddr && addr - s->vaddr < s->memsz)
			return true;
	}
	return false;
}

/* Target of the disp32 at code offset disp_off for an instruction ending at end_off. */
static uint64_t rip_target(const struct code *c, uint64_t disp_off, uint64_t end_off)
{
	return c->addr + end_off + (int64_t)(int32_t)rd32(c->p + disp_off);
}

/* REX.W mov r64, [rip+disp32] (48/4c 8b modrm): the nth (0-based) writable target. */
static uint64_t nth_load64(const struct gosym *g, const struct code *c, int nth)
{
	for (uint64_t i = 0; i + 7 <= c->len; i++) {
		if ((c->p[i] & 0xfb) != 0x48 || c->p[i + 1] != 0x8b || (c->p[i + 2] & 0xc7) != 0x05)
			continue;
		uint64_t t = rip_target(c, i + 3, i + 7);
		if (writable(g, t) && nth-- == 0)
			return t;
	}
	return 0;
}

/* mov eax, [rip+disp32] (8b 05, no REX prefix): the first writable target. */
static uint64_t first_load32_eax(const struct gosym *g, const struct code *c)
{
	for (uint64_t i = 0; i + 6 <= c->len; i++) {
		if (c->p[i] != 0x8b || c->p[i + 1] != 0x05 || (i && (c->p[i - 1] & 0xf0) == 0x40))
			continue;
		uint64_t t = rip_target(c, i + 2, i + 6);
		if (writable(g, t))
			return t;
	}
	return 0;
}

/*
 * Go 1.20+ schedinit: "if disableMemoryProfiling { MemProfileRate = 0 }" is
 * cmpb $0,[rip+d] (80 3d d32 00); je; movq $0,[rip+d] (48 c7 05 d32 00000000).
 */
static bool schedinit_pair(const struct gosym *g, const struct code *c, uint64_t *dis,
			   uint64_t *rate)
{
	for (uint64_t i = 0; i + 7 <= c->len; i++) {
		if (c->p[i] != 0x80 || c->p[i + 1] != 0x3d || c->p[i + 6] != 0)
			continue;
		uint64_t d = rip_target(c, i + 2, i + 7);
		for (uint64_t j = i + 7; j + 11 <= c->len && j < i + 24; j++) {
			if (c->p[j] != 0x48 || c->p[j + 1] != 0xc7 || c->p[j + 2] != 0x05 ||
			    rd32(c->p + j + 7) != 0)
				continue;
			uint64_t r = rip_target(c, j + 3, j + 11);
			if (writable(g, d) && writable(g, r)) {
				*dis = d;
				*rate = r;
				return true;
			}
		}
	}
	return false;
}

/*
 * Go 1.19 runtime.init: MemProfileRate = defaultMemProfileRate(512 KiB) reads
 * disableMemoryProfiling (0f b6 05 d32), loads 0x80000 (b8 00 00 08 00) and stores
 * the result (48 89 05 d32).
 */
static bool init_pair(const struct gosym *g, const struct code *c, uint64_t *dis, uint64_t *rate)
{
	static const uint8_t k512[5] = {0xb8, 0x00, 0x00, 0x08, 0x00};

	for (uint64_t i = 0; i + 7 <= c->len; i++) {
		if (c->p[i] != 0x0f || c->p[i + 1] != 0xb6 || c->p[i + 2] != 0x05)
			continue;
		uint64_t d = rip_target(c, i + 3, i + 7), j = i + 7, lim = i + 48;
		bool seen_k = false;
		for (; j + 7 <= c->len && j < lim; j++) {
			if (j + 5 <= c->len && !memcmp(c->p + j, k512, 5))
				seen_k = true;
			if (seen_k && c->p[j] == 0x48 && c->p[j + 1] == 0x89 &&
			    c->p[j + 2] == 0x05) {
				uint64_t r = rip_target(c, j + 3, j + 7);
				if (!writable(g, d) || !writable(g, r))
					break;
				*dis = d;
				*rate = r;
				return true;
			}
		}
	}
	return false;
}

/* disableMemoryProfiling and MemProfileRate, from where the binary's release sets them. */
static bool rate_pair(const struct gosym *g, const struct code *c, uint64_t *dis, uint64_t *rate)
{
	bool verified;
	const struct gs_release *r = gs_release(g, &verified);

	if (!r)
		return schedinit_pair(g, &c[F_SCHEDINIT], dis, rate) ||
		       init_pair(g, &c[F_INIT], dis, rate);
	if (r->rate_code == GS_RATE_IN_INIT)
		return init_pair(g, &c[F_INIT], dis, rate);
	return schedinit_pair(g, &c[F_SCHEDINIT], dis, rate);
}

static void set(struct gosym *g, enum gosym_global w, uint64_t addr)
{
	if (addr)
		g->globals[w][GOSYM_BY_CODE] = addr;
}

void gs_decode_globals(struct gosym *g)
{
	int64_t idx[NFUNCS];
	struct code c[NFUNCS] = {0};
	uint64_t dis = 0, rate = 0;

	if (g->machine != EM_X86_64 || !g->pcln.base)
		return;
	gs_funcs_by_names(g, func_names, idx, NFUNCS);
	for (int i = 0; i < NFUNCS; i++) {
		uint64_t entry, end;
		if (idx[i] < 0 || gosym_func_at(g, (uint32_t)idx[i], &entry, &end, NULL) ||
		    end <= entry)
			continue;
		c[i].p = gs_vaddr_ptr(g, entry, end - entry, NULL);
		c[i].len = c[i].p ? end - entry : 0;
		c[i].addr = entry;
	}
	set(g, GOSYM_MBUCKETS, nth_load64(g, &c[F_FLUSHLOCKED], 0));
	set(g, GOSYM_ALLGLEN, nth_load64(g, &c[F_FOREACHG], 0));
	set(g, GOSYM_ALLGPTR, nth_load64(g, &c[F_FOREACHG], 1));
	set(g, GOSYM_MPROFCYCLE, first_load32_eax(g, &c[F_FLUSH]));
	if (rate_pair(g, c, &dis, &rate)) {
		set(g, GOSYM_DISABLE_MEMPROF, dis);
		set(g, GOSYM_MEMPROFILERATE, rate);
	}
}

/*
 * The linker sets runtime.disableMemoryProfiling to true (initialized data) when
 * nothing reads memory profiles; otherwise it stays in zeroed memory.
 */
void gs_profiling_disabled(struct gosym *g)
{
	uint64_t addr;
	const uint8_t *p;

	g->info.profiling_disabled = -1;
	if (gosym_global(g, GOSYM_DISABLE_MEMPROF, &addr, NULL))
		return;
	if (gs_vaddr_is_nobits(g, addr)) {
		g->info.profiling_disabled = 0;
		return;
	}
	p = gs_vaddr_ptr(g, addr, 1, NULL);
	if (p && *p <= 1)
		g->info.profiling_disabled = *p;
}

const char *gosym_method_name(enum gosym_method how)
{
	switch (how) {
	case GOSYM_BY_SYMTAB:
		return "symtab";
	case GOSYM_BY_CODE:
		return "code";
	default:
		return "not found";
	}
}

int gosym_global_by(const struct gosym *g, enum gosym_global which, enum gosym_method how,
		    uint64_t *addr)
{
	if (!g || (unsigned)which >= GOSYM_NGLOBALS ||
	    (how != GOSYM_BY_SYMTAB && how != GOSYM_BY_CODE))
		return -EINVAL;
	if (!g->globals[which][how])
		return -ENOENT;
	if (addr)
		*addr = g->globals[which][how];
	return 0;
}

int gosym_global(const struct gosym *g, enum gosym_global which, uint64_t *addr,
		 enum gosym_method *how)
{
	static const enum gosym_method order[] = {GOSYM_BY_SYMTAB, GOSYM_BY_CODE};

	if (how)
		*how = GOSYM_NOT_FOUND;
	for (int i = 0; i < 2; i++) {
		if (gosym_global_by(g, which, order[i], addr) == 0) {
			if (how)
				*how = order[i];
			return 0;
		}
	}
	return (unsigned)which < GOSYM_NGLOBALS && g ? -ENOENT : -EINVAL;
}
