/*
 * gosym-mkcorpus DIR: writes seed inputs for the gosym fuzz targets, built from the
 * hand-made fixture ELF, into DIR/gosym_elf, DIR/gosym_pclntab and DIR/gosym_buildinfo.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "tests/unit/test_gosym_fixture.h"

static int write_file(const char *dir, const char *sub, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n) {
		perror(path);
		return 1;
	}
	return fclose(f) ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		struct fixture_opts o;
	} variants[] = {
	    {"fixture-go120", {0}},
	    {"fixture-go120-symtab", {.symtab = true}},
	    {"fixture-go118-pie", {.go118 = true, .pie = true}},
	    {"fixture-scan", {.no_pcln_name = true}},
	    {"fixture-disabled", {.disabled = true, .symtab = true}},
	};
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: gosym-mkcorpus DIR\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		struct fx_buf b;
		if (!fixture_build(&variants[i].o, &b))
			return 1;
		err |= write_file(argv[1], "gosym_elf", variants[i].name, b.p, b.len);
		/* pclntab seed: the pclntab room followed by the funcdata room */
		if (i == 0 || i == 2)
			err |= write_file(argv[1], "gosym_pclntab", variants[i].name,
					  b.p + (FX_PCLN - FX_BASE), 0x2000);
		if (i == 0 || i == 2)
			err |= write_file(argv[1], "gosym_buildinfo", variants[i].name,
					  b.p + (FX_BUILDINFO - FX_BASE), 0x100);
		free(b.p);
	}
	return err;
}
