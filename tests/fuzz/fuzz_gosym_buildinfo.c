/* Fuzz target: the .go.buildinfo parser (inline-string format; pointer format refused
 * without an ELF to follow pointers through). */
#include <stdint.h>
#include <stdlib.h>

#include "gosym/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char version[64], module[256];

	gs_buildinfo_parse(data, size, NULL, version, sizeof(version), module, sizeof(module));
	return 0;
}
