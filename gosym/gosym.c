/* gosym: opening and closing, facts about the binary, per-version layouts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gosym/internal.h"

void gs_err(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static struct gosym *alloc_handle(const struct gosym_opts *opts)
{
	struct gosym *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	pthread_mutex_init(&g->names_mu, NULL);
	pthread_mutex_init(&g->dw_mu, NULL);
	g->dw_fd = -1;
	if (opts) {
		g->no_dwarf = opts->no_dwarf;
		if (opts->debug_root && !(g->debug_root = strdup(opts->debug_root))) {
			free(g);
			return NULL;
		}
	}
	return g;
}

/* Everything after the ELF layer; the order matters (each step uses the previous). */
static int load(struct gosym *g, bool info_only, char *err, size_t errlen)
{
	int ret = gs_elf_load(g, err, errlen);

	if (ret)
		return ret;
	gs_elf_notes(g);
	gs_buildinfo(g);
	if (info_only)
		return 0;
	ret = gs_pcln_find(g, err, errlen);
	if (ret)
		return ret;
	gs_pcln_index(g);
	gs_func_ids(g);
	gs_symtab_globals(g);
	gs_decode_globals(g);
	gs_profiling_disabled(g);
	{
		const struct gs_section *text = gs_section(g, ".text");
		g->info.is_cgo = text && (text->addr < g->info.text_start ||
					  text->addr + text->size > g->info.text_end + 64);
	}
	return 0;
}

static struct gosym *open_common(struct gosym *g, const struct gosym_opts *opts, bool info_only)
{
	char *err = opts ? opts->errbuf : NULL;
	size_t errlen = opts ? opts->errbuf_len : 0;
	int ret = load(g, info_only, err, errlen);

	if (ret) {
		gosym_close(g);
		errno = -ret;
		return NULL;
	}
	return g;
}

struct gosym *gosym_open_mem(const void *buf, size_t len, const struct gosym_opts *opts)
{
	struct gosym *g;

	if (!buf) {
		gs_err(opts ? opts->errbuf : NULL, opts ? opts->errbuf_len : 0, "gosym: no buffer");
		errno = EINVAL;
		return NULL;
	}
	g = alloc_handle(opts);
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	g->buf = buf;
	g->len = len;
	return open_common(g, opts, false);
}

static struct gosym *open_path(const char *path, const struct gosym_opts *opts, bool info_only)
{
	char *err = opts ? opts->errbuf : NULL;
	size_t errlen = opts ? opts->errbuf_len : 0;
	struct gosym *g;
	struct stat st;
	void *map;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		gs_err(err, errlen, "gosym: cannot open %s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		gs_err(err, errlen, "gosym: %s is not a regular, non-empty file", path);
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	e = errno;
	close(fd);
	if (map == MAP_FAILED) {
		gs_err(err, errlen, "gosym: cannot map %s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	g = alloc_handle(opts);
	if (!g || !(g->path = strdup(path))) {
		munmap(map, (size_t)st.st_size);
		if (g)
			gosym_close(g);
		errno = ENOMEM;
		return NULL;
	}
	g->buf = map;
	g->len = g->map_len = (size_t)st.st_size;
	g->map = map;
	return open_common(g, opts, info_only);
}

struct gosym *gosym_open(const char *path, const struct gosym_opts *opts)
{
	return open_path(path, opts, false);
}

int gosym_build_version(const char *path, char *buf, size_t len)
{
	struct gosym_opts opts = {.no_dwarf = true};
	struct gosym *g = open_path(path, &opts, true);
	int ret = 0;

	if (!g)
		return -errno;
	if (!g->info.go_version[0])
		ret = -ENOENT;
	else
		snprintf(buf, len, "%s", g->info.go_version);
	gosym_close(g);
	return ret;
}

void gosym_close(struct gosym *g)
{
	if (!g)
		return;
	gs_dwarf_free(g);
	gs_elf_free(g);
	gs_names_free(g);
	free(g->page_index);
	if (g->map)
		munmap(g->map, g->map_len);
	pthread_mutex_destroy(&g->names_mu);
	pthread_mutex_destroy(&g->dw_mu);
	free(g->path);
	free(g->debug_root);
	free(g);
}

const struct gosym_info *gosym_info(const struct gosym *g)
{
	return g ? &g->info : NULL;
}

uint64_t gosym_load_bias(const struct gosym *g, uint64_t map_start)
{
	return map_start - g->info.lowest_load_vaddr;
}

/* The release's facts as the public layout (every number from gosym/releases.c). */
int gosym_layout(const struct gosym *g, struct gosym_layout *l)
{
	const struct gs_release *r;
	bool verified;

	if (!g || !l)
		return -EINVAL;
	r = gs_release(g, &verified);
	if (!r || !g->info.go_minor)
		return -ENOTSUP;
	*l = (struct gosym_layout){
	    .bucket_size = 48,
	    .bucket_next = 0,
	    .bucket_allnext = 8,
	    .bucket_typ = 16,
	    .bucket_hash = 24,
	    .bucket_size_field = 32,
	    .bucket_nstk = 40,
	    .bucket_typ_memory = 1,
	    .memrecord_size = 4 * 8 * r->cycle_words,
	    .memrecord_active = 0,
	    .memrecord_future = 8 * r->cycle_words,
	    .cycle_size = 8 * r->cycle_words,
	    .cycle_allocs = 0,
	    .cycle_frees = 8,
	    .cycle_has_bytes = r->cycle_words == 4,
	    .cycle_alloc_bytes = r->cycle_words == 4 ? 16 : 0,
	    .cycle_free_bytes = r->cycle_words == 4 ? 24 : 0,
	    .max_stack_depth = r->stack_depth,
	    .max_stack_depth_limit = r->stack_limit,
	    .moduledata_text = r->md_text,
	    .moduledata_gofunc = r->md_gofunc,
	    .g_stack_lo = 0,
	    .g_stack_hi = 8,
	    .g_sched_sp = 56,
	    .g_sched_pc = 64,
	    .g_sched_bp = r->g_sched_bp,
	    .g_atomicstatus = r->g_atomicstatus,
	    .g_goid = r->g_goid,
	    .g_waitreason = r->g_waitreason,
	    .g_gopc = r->g_gopc,
	    .release_minor = r->minor,
	    .verified = verified,
	    .pprof_hides_internal_runtime = r->pprof_hides_internal,
	};
	return 0;
}
