/*
 * oomprof symbolize BINARY [ADDR...]: print each address's frames like
 * `addr2line -f -i`: function, then file:line, inlined frames first. Addresses are
 * file virtual addresses (hex, 0x optional); with none on the command line they are
 * read from stdin, one per line, so large batches run in one process.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gosym/gosym.h"
#include "oomprof/cmd/cli.h"

#define MAX_CHAIN 64

struct sym_opts {
	bool return_pc, raw_names, addresses;
	const char *binary, *debug_root;
};

static void sym_usage(FILE *out)
{
	fprintf(out, "usage: oomprof symbolize [OPTIONS] BINARY [ADDR...]\n"
		     "Prints function and file:line for each address, inlined frames first.\n"
		     "Addresses are hex file addresses; without any, they are read from stdin.\n\n"
		     "  -r, --return     addresses are return PCs: look up pc-1 (as stacks need)\n"
		     "      --raw-names  print symbol names as stored (generic shapes included)\n"
		     "  -a, --addresses  print each address before its frames\n"
		     "      --debug-root DIR  where separate debug files live (/usr/lib/debug)\n"
		     "  -h, --help       this help\n");
}

static bool parse_addr(const char *s, uint64_t *out)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return false;
	errno = 0;
	*out = strtoull(s, &end, 16);
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	return !errno && !*end;
}

static void print_frames(const struct gosym *g, const struct sym_opts *o, uint64_t addr)
{
	struct gosym_frame fr[MAX_CHAIN];
	int n = gosym_lookup(g, addr, o->return_pc ? GOSYM_RETURN_PC : 0, fr, MAX_CHAIN);

	if (o->addresses)
		printf("0x%016llx\n", (unsigned long long)addr);
	if (n == -ENOSPC)
		n = MAX_CHAIN;
	if (n <= 0) {
		uint64_t off = 0;
		const struct gosym_info *in = gosym_info(g);
		/* Outside known code: report the mapping and the offset in the file. */
		if (addr >= in->exec_load_vaddr && addr - in->exec_load_vaddr < in->exec_load_size)
			off = addr - in->exec_load_vaddr + in->exec_load_offset;
		if (off)
			printf("?? (%s+0x%llx)\n??:0\n", o->binary, (unsigned long long)off);
		else
			printf("??\n??:0\n");
		return;
	}
	for (int i = 0; i < n; i++)
		printf("%s\n%s:%d\n", o->raw_names ? fr[i].raw_name : fr[i].name, fr[i].file,
		       fr[i].line);
}

static int parse_sym_args(int argc, char **argv, struct sym_opts *o)
{
	static const struct option longopts[] = {
	    {"return", no_argument, NULL, 'r'},	   {"raw-names", no_argument, NULL, 'R'},
	    {"addresses", no_argument, NULL, 'a'}, {"debug-root", required_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},	   {0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+rah", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->return_pc = true;
			break;
		case 'R':
			o->raw_names = true;
			break;
		case 'a':
			o->addresses = true;
			break;
		case 'D':
			o->debug_root = optarg;
			break;
		case 'h':
			sym_usage(stdout);
			return -1;
		default:
			sym_usage(stderr);
			return -2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "oomprof symbolize: missing BINARY\n");
		sym_usage(stderr);
		return -2;
	}
	o->binary = argv[optind++];
	for (int i = optind; i < argc; i++) {
		uint64_t a;
		if (!parse_addr(argv[i], &a)) {
			fprintf(stderr, "oomprof symbolize: bad address '%s'\n", argv[i]);
			return -2;
		}
	}
	return optind;
}

int cmd_symbolize(int argc, char **argv)
{
	struct sym_opts o = {0};
	char err[512] = "", line[256];
	struct gosym_opts go = {.errbuf = err, .errbuf_len = sizeof(err)};
	struct gosym *g;
	int first = parse_sym_args(argc, argv, &o), rc = EXIT_OK;

	if (first < 0)
		return first == -1 ? EXIT_OK : EXIT_USAGE;
	go.debug_root = o.debug_root;
	g = gosym_open(o.binary, &go);
	if (!g) {
		fprintf(stderr, "oomprof symbolize: %s\n", err[0] ? err : strerror(errno));
		return EXIT_FAILURE_;
	}
	for (int i = first; i < argc; i++) {
		uint64_t a;
		parse_addr(argv[i], &a);
		print_frames(g, &o, a);
	}
	if (first == argc) {
		while (fgets(line, sizeof(line), stdin)) {
			uint64_t a;
			if (line[0] == '\n')
				continue;
			if (!parse_addr(line, &a)) {
				fprintf(stderr, "oomprof symbolize: bad address '%.*s'\n",
					(int)strcspn(line, "\n"), line);
				rc = EXIT_USAGE;
				break;
			}
			print_frames(g, &o, a);
		}
	}
	if (fflush(stdout)) {
		fprintf(stderr, "oomprof symbolize: write failed: %s\n", strerror(errno));
		rc = EXIT_FAILURE_;
	}
	gosym_close(g);
	return rc;
}
