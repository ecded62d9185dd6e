/*
 * Fuzz target: the pclntab parser and every table walk behind a lookup. The input is
 * spliced into a well-formed fixture ELF: its first 6 KiB become .gopclntab, the next
 * 2 KiB the funcdata area (inline trees), so the fuzzer spends its time on pclntab
 * contents rather than on ELF headers.
 */
#include <stdint.h>
#include <stdlib.h>

#include "gosym/gosym.h"
#include "tests/unit/test_gosym_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PCLN_ROOM   0x1800
#define GOFUNC_ROOM 0x800

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fixture_opts fo = {0};
	struct gosym_opts o = {.no_dwarf = true};
	struct fx_buf b;
	struct gosym *g;
	struct gosym_frame fr[16];
	size_t npcln = size < PCLN_ROOM ? size : PCLN_ROOM;
	size_t ngofunc = size > PCLN_ROOM ? size - PCLN_ROOM : 0;
	uint8_t *pcln;

	if (!fixture_build(&fo, &b))
		return 0;
	pcln = b.p + (FX_PCLN - FX_BASE);
	memset(pcln, 0, PCLN_ROOM + GOFUNC_ROOM);
	memcpy(pcln, data, npcln);
	memcpy(pcln + PCLN_ROOM, data + npcln, ngofunc < GOFUNC_ROOM ? ngofunc : GOFUNC_ROOM);
	/* .gopclntab is section 2; its size is the input's. */
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b.p;
	Elf64_Shdr *sh = (Elf64_Shdr *)(b.p + eh->e_shoff);
	sh[2].sh_size = npcln;
	g = gosym_open_mem(b.p, b.len, &o);
	if (g) {
		const struct gosym_info *in = gosym_info(g);
		uint64_t step = (in->text_end - in->text_start) / 2048 + 1, pcs[6];
		for (uint64_t pc = in->text_start; pc < in->text_end && pc >= in->text_start;
		     pc += step)
			gosym_lookup(g, pc, 0, fr, 16);
		for (int i = 0; i < 6; i++)
			pcs[i] = in->text_start + (uint64_t)i * 13 + 1;
		gosym_stack(g, pcs, 6, 0, fr, 16);
		for (uint32_t i = 0; i < in->nfunc && i < 64; i++) {
			uint64_t e, z;
			const char *n;
			gosym_func_at(g, i, &e, &z, &n);
		}
		gosym_close(g);
	}
	free(b.p);
	return 0;
}
