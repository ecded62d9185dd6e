/*
 * Non-Go code (cgo, external linking): PCs outside the pclntab are symbolized from
 * DWARF with libdw, from the binary itself or from its separate debug file (GNU
 * build-id or .gnu_debuglink under the debug root). Opened on first use; lookups are
 * serialized because libdw builds its line tables lazily.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gosym/internal.h"

#define DEFAULT_DEBUG_ROOT "/usr/lib/debug"

/* Opens path as a debug file; on success keeps its fd and Elf in g. */
static Dwarf *open_debug_file(struct gosym *g, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Dwarf *dw;

	if (fd < 0)
		return NULL;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	dw = elf ? dwarf_begin_elf(elf, DWARF_C_READ, NULL) : NULL;
	if (!dw) {
		if (elf)
			elf_end(elf);
		close(fd);
		return NULL;
	}
	g->dw_fd = fd;
	g->dw_elf = elf;
	return dw;
}

static Dwarf *by_build_id(struct gosym *g, const char *root)
{
	const char *id = g->info.gnu_build_id;
	char path[4096];

	if (strlen(id) < 4)
		return NULL;
	snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", root, id, id + 2);
	return open_debug_file(g, path);
}

static Dwarf *by_debuglink(struct gosym *g, const char *root)
{
	const struct gs_section *s = gs_section(g, ".gnu_debuglink");
	const uint8_t *d = gs_section_data(g, s);
	char dir[2048], path[4096];
	const char *slash;
	Dwarf *dw;

	if (!d || !g->path || !memchr(d, 0, s->size > 256 ? 256 : s->size))
		return NULL;
	slash = strrchr(g->path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - g->path) : 1,
		 slash ? g->path : ".");
	snprintf(path, sizeof(path), "%s/%s", dir, (const char *)d);
	if (strcmp(path, g->path) && (dw = open_debug_file(g, path)))
		return dw;
	snprintf(path, sizeof(path), "%s/.debug/%s", dir, (const char *)d);
	if ((dw = open_debug_file(g, path)))
		return dw;
	snprintf(path, sizeof(path), "%s%s/%s", root, dir, (const char *)d);
	return open_debug_file(g, path);
}

static Dwarf *open_dwarf(struct gosym *g)
{
	const char *root = g->debug_root ? g->debug_root : DEFAULT_DEBUG_ROOT;
	Dwarf *dw;

	if (g->no_dwarf || !g->path)
		return NULL;
	/*
	 * The binary's own DWARF is read through a second, file-backed Elf: libdw
	 * decompresses .zdebug/SHF_COMPRESSED sections in place, which must not touch the
	 * caller's read-only image. (So handles opened from memory get no DWARF.)
	 */
	if (g->info.has_dwarf && (dw = open_debug_file(g, g->path)))
		return dw;
	if ((dw = by_build_id(g, root)))
		return dw;
	return by_debuglink(g, root);
}

void gs_dwarf_free(struct gosym *g)
{
	if (g->dw)
		dwarf_end(g->dw);
	if (g->dw_elf)
		elf_end(g->dw_elf);
	if (g->dw_fd >= 0)
		close(g->dw_fd);
	g->dw = g->dw_elf = NULL;
	g->dw_fd = -1;
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name = NULL;

	if (dwarf_attr_integrate(die, DW_AT_name, &attr))
		name = dwarf_formstring(&attr);
	return name ? name : "??";
}

static bool is_func_scope(Dwarf_Die *die)
{
	int tag = dwarf_tag(die);
	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine;
}

/* The call site (file, line) recorded on an inlined subroutine. */
static void call_site(Dwarf_Die *cu, Dwarf_Die *inl, const char **file, int *line)
{
	Dwarf_Attribute attr;
	Dwarf_Word w;
	Dwarf_Files *files;
	size_t nfiles;

	*file = "??";
	*line = 0;
	if (dwarf_attr(inl, DW_AT_call_line, &attr) && !dwarf_formudata(&attr, &w))
		*line = (int)w;
	if (dwarf_attr(inl, DW_AT_call_file, &attr) && !dwarf_formudata(&attr, &w) &&
	    !dwarf_getsrcfiles(cu, &files, &nfiles) && w < nfiles) {
		const char *f = dwarf_filesrc(files, w, NULL, NULL);
		if (f)
			*file = f;
	}
}

static void native_frame(const struct gosym *g, uint64_t pc, Dwarf_Die *fn, const char *file,
			 int line, bool inlined, struct gosym_frame *out)
{
	Dwarf_Addr low = 0;

	memset(out, 0, sizeof(*out));
	out->kind = GOSYM_FRAME_NATIVE;
	out->pc = pc;
	out->name = out->raw_name = out->function = die_name(fn);
	out->file = file;
	out->line = line;
	out->inlined = inlined;
	if (dwarf_lowpc(fn, &low) == 0)
		out->entry = low;
	if (gs_vaddr_to_offset(g, pc, &out->file_offset))
		out->file_offset = 0;
}

/*
 * Fills the inline chain at pc, innermost first. dwarf_getscopes() continues from an
 * inlined subroutine into its abstract origin's scopes, not its caller, so each
 * caller is found from the concrete inlined DIE with dwarf_getscopes_die().
 */
static int dwarf_frames(const struct gosym *g, Dwarf_Die *cu, uint64_t pc, struct gosym_frame *out,
			size_t max)
{
	Dwarf_Die *scopes = NULL;
	Dwarf_Line *ln = dwarf_getsrc_die(cu, pc);
	const char *file = ln ? dwarf_linesrc(ln, NULL, NULL) : NULL;
	int line = 0, nscopes, n = 0, ret = 0, i = 0;

	if (ln)
		dwarf_lineno(ln, &line);
	if (!file)
		file = "??";
	nscopes = dwarf_getscopes(cu, pc, &scopes);
	while (i < nscopes && n < GOSYM_MAX_INLINE_DEPTH) {
		Dwarf_Die die = scopes[i++];
		if (!is_func_scope(&die))
			continue;
		if ((size_t)n == max) {
			ret = -ENOSPC;
			break;
		}
		bool inl = dwarf_tag(&die) == DW_TAG_inlined_subroutine;
		native_frame(g, pc, &die, file, line, inl, &out[n++]);
		if (!inl)
			break;
		/* The caller's position is this inline's call site. */
		call_site(cu, &die, &file, &line);
		free(scopes);
		scopes = NULL;
		nscopes = dwarf_getscopes_die(&die, &scopes);
		i = 1; /* [0] is the inlined DIE itself */
	}
	free(scopes);
	if (ret)
		return ret;
	return n ? n : -ENOENT;
}

int gs_dwarf_lookup(const struct gosym *cg, uint64_t pc, struct gosym_frame *out, size_t max)
{
	struct gosym *g = (struct gosym *)cg; /* lazily opened state */
	Dwarf_Die cu;
	int ret = -ENOENT;

	pthread_mutex_lock(&g->dw_mu);
	if (!g->dw_tried) {
		g->dw_tried = true;
		g->dw = open_dwarf(g);
	}
	if (g->dw && dwarf_addrdie(g->dw, pc, &cu))
		ret = dwarf_frames(g, &cu, pc, out, max);
	pthread_mutex_unlock(&g->dw_mu);
	return ret;
}
