/*
 * Fuzz target: a whole file through gosym_open_mem, then every query a caller makes
 * (info, layout, globals, lookups over the text, a stack). DWARF stays off: libdw is
 * not ours to fuzz.
 */
#include <stdint.h>
#include <stdlib.h>

#include "gosym/gosym.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gosym_opts o = {.no_dwarf = true};
	struct gosym *g = gosym_open_mem(data, size, &o);
	const struct gosym_info *in;
	struct gosym_frame fr[16];
	struct gosym_layout l;
	uint64_t a, step, pcs[8];

	if (!g)
		return 0;
	in = gosym_info(g);
	gosym_layout(g, &l);
	for (int i = 0; i < GOSYM_NGLOBALS; i++)
		gosym_global(g, i, &a, NULL);
	/* At most ~4096 lookups, spread over the claimed text whatever its size. */
	step = (in->text_end - in->text_start) / 4096 + 1;
	for (uint64_t pc = in->text_start; pc < in->text_end && pc >= in->text_start; pc += step)
		gosym_lookup(g, pc, GOSYM_RETURN_PC, fr, 16);
	for (int i = 0; i < 8; i++)
		pcs[i] = in->text_start + (uint64_t)i * 37;
	gosym_stack(g, pcs, 8, GOSYM_STACK_KEEP_UNKNOWN, fr, 16);
	gosym_func_by_name(g, "main.main", &a, &a);
	gosym_close(g);
	return 0;
}
