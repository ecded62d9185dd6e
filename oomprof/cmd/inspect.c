/*
 * oomprof inspect BINARY [--json]: what gosym finds in a Go binary, and one verdict
 * line: can oomprof profile this program at OOM, and if not, what to do about it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "gosym/gosym.h"
#include "oomprof/cmd/cli.h"

struct verdict {
	bool ok;
	char text[512];
};

static const char *format_name(enum gosym_pcln_format f)
{
	switch (f) {
	case GOSYM_PCLN_GO118:
		return "Go 1.18-1.19";
	case GOSYM_PCLN_GO120:
		return "Go 1.20+";
	case GOSYM_PCLN_GO116:
		return "Go 1.16-1.17";
	default:
		return "unknown";
	}
}

static const char *profiling_name(int disabled)
{
	return disabled == 0 ? "enabled" : disabled == 1 ? "disabled by the linker" : "unknown";
}

static void decide(const struct gosym *g, struct verdict *v)
{
	const struct gosym_info *in = gosym_info(g);
	struct gosym_layout l;
	uint64_t a;

	char newer[160] = "";
	int first, last;

	v->ok = false;
	gosym_known_releases(&first, &last);
	if (gosym_layout(g, &l)) {
		snprintf(v->text, sizeof(v->text),
			 "no: Go version '%s' is not one oomprof knows the runtime layout of "
			 "(Go 1.%d–1.%d); rebuild with a supported toolchain",
			 in->go_version[0] ? in->go_version : "unknown", first, last);
	} else if (gosym_global(g, GOSYM_MBUCKETS, &a, NULL) ||
		   gosym_global(g, GOSYM_MEMPROFILERATE, &a, NULL)) {
		if (gosym_newer_release(g, newer, sizeof(newer)))
			snprintf(v->text, sizeof(v->text),
				 "no: %s, and runtime.mbuckets or runtime.MemProfileRate could not "
				 "be located in this binary (its runtime code may differ); build "
				 "without -s to keep the symbol table, or with Go 1.%d",
				 newer, last);
		else
			snprintf(
			    v->text, sizeof(v->text),
			    "no: runtime.mbuckets or runtime.MemProfileRate could not be "
			    "located in this binary; build without -s to keep the symbol table");
	} else if (in->profiling_disabled == 1) {
		snprintf(v->text, sizeof(v->text),
			 "no: the linker disabled memory profiling (nothing in the program "
			 "reaches runtime/pprof), so it records no heap samples; use "
			 "runtime/pprof or net/http/pprof in code the program can reach (a blank "
			 "import is not enough), or run the daemon with --enable-memprofile (only "
			 "allocations after it starts are sampled)");
	} else if (gosym_newer_release(g, newer, sizeof(newer))) {
		/* Everything read from the file was recognised; the bucket shapes are
		 * checked against the process's own buckets when it is profiled. */
		v->ok = true;
		snprintf(v->text, sizeof(v->text),
			 "yes, runtime layout not verified for %s: %s; its pclntab and runtime "
			 "globals were recognised, and each profile checks the Go 1.%d bucket "
			 "layout against the process's own buckets%s",
			 in->go_version, newer, l.release_minor,
			 in->profiling_disabled < 0 ? " (memory profiling state unknown)" : "");
	} else {
		v->ok = true;
		snprintf(v->text, sizeof(v->text), "yes: oomprof can profile this program at OOM%s",
			 in->profiling_disabled < 0 ? " (memory profiling state unknown)" : "");
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_json(const char *path, const struct gosym *g, const struct verdict *v)
{
	const struct gosym_info *in = gosym_info(g);

	printf("{\"binary\":");
	json_str(path);
	printf(",\"go_version\":");
	json_str(in->go_version);
	printf(",\"main_module\":");
	json_str(in->main_module);
	printf(",\"go_build_id\":");
	json_str(in->go_build_id);
	printf(",\"gnu_build_id\":");
	json_str(in->gnu_build_id);
	printf(",\"pie\":%s,\"stripped\":%s,\"cgo\":%s,\"dwarf\":%s", in->is_pie ? "true" : "false",
	       in->is_stripped ? "true" : "false", in->is_cgo ? "true" : "false",
	       in->has_dwarf ? "true" : "false");
	printf(",\"pclntab\":{\"magic\":\"0x%08x\",\"format\":\"%s\",\"address\":\"0x%llx\","
	       "\"where\":",
	       in->pcln_magic, format_name(in->pcln_format), (unsigned long long)in->pclntab_addr);
	json_str(in->pclntab_where ? in->pclntab_where : "");
	printf(",\"functions\":%u}", in->nfunc);
	printf(",\"lowest_load_vaddr\":\"0x%llx\"", (unsigned long long)in->lowest_load_vaddr);
	printf(",\"globals\":{");
	for (int i = 0; i < GOSYM_NGLOBALS; i++) {
		uint64_t a = 0;
		enum gosym_method how;
		gosym_global(g, (enum gosym_global)i, &a, &how);
		printf("%s\"%s\":{\"address\":\"0x%llx\",\"method\":\"%s\"}", i ? "," : "",
		       gosym_global_name((enum gosym_global)i), (unsigned long long)a,
		       gosym_method_name(how));
	}
	printf("},\"memory_profiling\":\"%s\"", in->profiling_disabled == 0   ? "enabled"
						: in->profiling_disabled == 1 ? "disabled"
									      : "unknown");
	printf(",\"can_profile\":%s,\"verdict\":", v->ok ? "true" : "false");
	json_str(v->text);
	printf("}\n");
}

static void print_text(const char *path, const struct gosym *g, const struct verdict *v)
{
	const struct gosym_info *in = gosym_info(g);

	printf("binary:            %s\n", path);
	printf("go version:        %s\n", in->go_version[0] ? in->go_version : "(unknown)");
	printf("main module:       %s\n", in->main_module[0] ? in->main_module : "(unknown)");
	printf("go build id:       %s\n", in->go_build_id[0] ? in->go_build_id : "(none)");
	printf("gnu build id:      %s\n", in->gnu_build_id[0] ? in->gnu_build_id : "(none)");
	printf("pie:               %s\n", in->is_pie ? "yes" : "no");
	printf("stripped:          %s\n", in->is_stripped ? "yes" : "no");
	printf("cgo / external:    %s\n", in->is_cgo ? "yes" : "no");
	printf("dwarf:             %s\n", in->has_dwarf ? "yes" : "no");
	printf("pclntab:           0x%08x (%s) at 0x%llx (%s), %u functions\n", in->pcln_magic,
	       format_name(in->pcln_format), (unsigned long long)in->pclntab_addr,
	       in->pclntab_where ? in->pclntab_where : "?", in->nfunc);
	for (int i = 0; i < GOSYM_NGLOBALS; i++) {
		uint64_t a = 0;
		enum gosym_method how;
		if (gosym_global(g, (enum gosym_global)i, &a, &how))
			printf("%-30s not found\n", gosym_global_name((enum gosym_global)i));
		else
			printf("%-30s 0x%llx (%s)\n", gosym_global_name((enum gosym_global)i),
			       (unsigned long long)a, gosym_method_name(how));
	}
	printf("memory profiling:  %s\n", profiling_name(in->profiling_disabled));
	printf("verdict:           %s\n", v->text);
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	char err[512] = "";
	struct gosym_opts go = {.errbuf = err, .errbuf_len = sizeof(err), .no_dwarf = true};
	struct verdict v;
	struct gosym *g;
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+jh", longopts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
		} else if (c == 'h') {
			printf("usage: oomprof inspect [--json] BINARY\n"
			       "Prints what oomprof finds in a Go binary and whether it can "
			       "profile it at OOM.\n");
			return EXIT_OK;
		} else {
			fprintf(stderr, "usage: oomprof inspect [--json] BINARY\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: oomprof inspect [--json] BINARY\n");
		return EXIT_USAGE;
	}
	g = gosym_open(argv[optind], &go);
	if (!g) {
		fprintf(stderr, "oomprof inspect: %s\n", err[0] ? err : strerror(errno));
		return EXIT_FAILURE_;
	}
	decide(g, &v);
	if (json)
		print_json(argv[optind], g, &v);
	else
		print_text(argv[optind], g, &v);
	gosym_close(g);
	return EXIT_OK;
}
