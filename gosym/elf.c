/*
 * ELF layer: headers, sections, program headers, notes and .symtab, through libelf.
 * Only 64-bit little-endian files are accepted, so libelf never has to convert (and
 * never writes into) the caller's buffer. Every table is bounded before it is kept.
 */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>

#include "gosym/internal.h"

static pthread_once_t elf_once = PTHREAD_ONCE_INIT;

static void elf_init(void)
{
	elf_version(EV_CURRENT);
}

/* Cheap checks before libelf sees the bytes: size, magic, class, byte order. */
static int check_ident(const uint8_t *p, size_t len, char *err, size_t errlen)
{
	if (len < 64 || memcmp(p, ELFMAG, SELFMAG)) {
		gs_err(err, errlen, "gosym: not an ELF file");
		return -ENOEXEC;
	}
	if (p[EI_CLASS] != ELFCLASS64 || p[EI_DATA] != ELFDATA2LSB) {
		gs_err(err, errlen, "gosym: only 64-bit little-endian ELF files are supported");
		return -ENOTSUP;
	}
	return 0;
}

static int load_phdrs(struct gosym *g, Elf *elf, char *err, size_t errlen)
{
	size_t n;

	if (elf_getphdrnum(elf, &n) < 0) {
		gs_err(err, errlen, "gosym: bad program header table: %s", elf_errmsg(-1));
		return -EINVAL;
	}
	if (n > GOSYM_MAX_PHDRS) {
		gs_err(err, errlen, "gosym: %zu program headers (limit %d)", n, GOSYM_MAX_PHDRS);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph)) {
			gs_err(err, errlen, "gosym: bad program header %zu", i);
			return -EINVAL;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		/* A segment whose file bytes lie outside the file is unusable: clamp it. */
		uint64_t filesz = ph.p_filesz, offset = ph.p_offset;
		if (!in_bounds(offset, filesz, g->len))
			filesz = offset < g->len ? g->len - offset : 0;
		if (!filesz) /* no file bytes: keep every buf + offset inside the buffer */
			offset = 0;
		g->phdrs[g->nphdrs++] = (struct gs_segment){
		    .vaddr = ph.p_vaddr,
		    .offset = offset,
		    .filesz = filesz,
		    .memsz = ph.p_memsz,
		    .flags = ph.p_flags,
		};
	}
	return 0;
}

static int load_sections(struct gosym *g, Elf *elf, char *err, size_t errlen)
{
	size_t n, shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrnum(elf, &n) < 0 || elf_getshdrstrndx(elf, &shstrndx) < 0) {
		/* No usable section table: fall back to program headers alone. */
		return 0;
	}
	if (n > GOSYM_MAX_SECTIONS) {
		gs_err(err, errlen, "gosym: %zu sections (limit %d)", n, GOSYM_MAX_SECTIONS);
		return -EINVAL;
	}
	g->secs = calloc(n ? n : 1, sizeof(*g->secs));
	if (!g->secs) {
		gs_err(err, errlen, "gosym: out of memory");
		return -ENOMEM;
	}
	while ((scn = elf_nextscn(elf, scn)) && g->nsecs < n) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		g->secs[g->nsecs++] = (struct gs_section){
		    .name = name ? name : "",
		    .addr = sh.sh_addr,
		    .offset = sh.sh_offset,
		    .size = sh.sh_size,
		    .type = sh.sh_type,
		    .flags = sh.sh_flags,
		};
	}
	return 0;
}

static void load_layout_facts(struct gosym *g, const GElf_Ehdr *eh)
{
	struct gosym_info *in = &g->info;
	bool have_low = false;

	in->is_pie = eh->e_type == ET_DYN;
	in->is_stripped = true;
	for (size_t i = 0; i < g->nsecs; i++) {
		if (g->secs[i].type == SHT_SYMTAB)
			in->is_stripped = false;
		if (!strcmp(g->secs[i].name, ".debug_info") ||
		    !strcmp(g->secs[i].name, ".zdebug_info"))
			in->has_dwarf = true;
	}
	for (size_t i = 0; i < g->nphdrs; i++) {
		const struct gs_segment *s = &g->phdrs[i];
		if (!have_low || s->vaddr < in->lowest_load_vaddr) {
			in->lowest_load_vaddr = s->vaddr;
			have_low = true;
		}
		if ((s->flags & PF_X) && !in->exec_load_size) {
			in->exec_load_vaddr = s->vaddr;
			in->exec_load_offset = s->offset;
			in->exec_load_size = s->memsz;
		}
	}
	/* The kernel maps the lowest segment page-aligned; so must the bias. */
	in->lowest_load_vaddr &= ~(uint64_t)0xfff;
}

int gs_elf_load(struct gosym *g, char *err, size_t errlen)
{
	GElf_Ehdr eh;
	Elf *elf;
	int ret;

	ret = check_ident(g->buf, g->len, err, errlen);
	if (ret)
		return ret;
	pthread_once(&elf_once, elf_init);
	/* libelf's interface is not const, but it only reads a native-order image. */
	elf = elf_memory((char *)(uintptr_t)g->buf, g->len);
	if (!elf) {
		gs_err(err, errlen, "gosym: libelf: %s", elf_errmsg(-1));
		return -EINVAL;
	}
	g->elf = elf;
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		gs_err(err, errlen, "gosym: bad ELF header");
		return -EINVAL;
	}
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
		gs_err(err, errlen, "gosym: ELF type %u is not an executable", eh.e_type);
		return -ENOEXEC;
	}
	g->machine = eh.e_machine;
	ret = load_phdrs(g, elf, err, errlen);
	if (!ret)
		ret = load_sections(g, elf, err, errlen);
	if (ret)
		return ret;
	load_layout_facts(g, &eh);
	return 0;
}

void gs_elf_free(struct gosym *g)
{
	if (g->elf)
		elf_end(g->elf);
	g->elf = NULL;
	free(g->secs);
	g->secs = NULL;
}

const struct gs_section *gs_section(const struct gosym *g, const char *name)
{
	for (size_t i = 0; i < g->nsecs; i++)
		if (!strcmp(g->secs[i].name, name))
			return &g->secs[i];
	return NULL;
}

/* The section's bytes in the file, or NULL when it has none or they lie outside. */
const uint8_t *gs_section_data(const struct gosym *g, const struct gs_section *s)
{
	if (!s || s->type == SHT_NOBITS || !in_bounds(s->offset, s->size, g->len))
		return NULL;
	return g->buf + s->offset;
}

/*
 * Pointer to n file bytes at a vaddr, and how many bytes follow it in the same
 * segment (*avail). NULL when the range is not backed by file bytes.
 */
const uint8_t *gs_vaddr_ptr(const struct gosym *g, uint64_t addr, uint64_t n, uint64_t *avail)
{
	for (size_t i = 0; i < g->nphdrs; i++) {
		const struct gs_segment *s = &g->phdrs[i];
		if (addr < s->vaddr || addr - s->vaddr >= s->filesz)
			continue;
		uint64_t rel = addr - s->vaddr, left = s->filesz - rel;
		if (n > left)
			return NULL;
		if (avail)
			*avail = left;
		return g->buf + s->offset + rel;
	}
	if (g->nphdrs)
		return NULL;
	/* No program headers (odd but possible): use allocated sections. */
	for (size_t i = 0; i < g->nsecs; i++) {
		const struct gs_section *s = &g->secs[i];
		const uint8_t *d = (s->flags & SHF_ALLOC) ? gs_section_data(g, s) : NULL;
		if (!d || addr < s->addr || addr - s->addr >= s->size)
			continue;
		uint64_t rel = addr - s->addr, left = s->size - rel;
		if (n > left)
			return NULL;
		if (avail)
			*avail = left;
		return d + rel;
	}
	return NULL;
}

int gs_vaddr_to_offset(const struct gosym *g, uint64_t addr, uint64_t *off)
{
	for (size_t i = 0; i < g->nphdrs; i++) {
		const struct gs_segment *s = &g->phdrs[i];
		if (addr >= s->vaddr && addr - s->vaddr < s->memsz) {
			*off = s->offset + (addr - s->vaddr);
			return 0;
		}
	}
	return -ENOENT;
}

/* True when addr is in memory the file does not back (.bss, .noptrbss): zero at start. */
bool gs_vaddr_is_nobits(const struct gosym *g, uint64_t addr)
{
	for (size_t i = 0; i < g->nphdrs; i++) {
		const struct gs_segment *s = &g->phdrs[i];
		if (addr >= s->vaddr && addr - s->vaddr < s->memsz)
			return addr - s->vaddr >= s->filesz;
	}
	return false;
}

bool gs_is_exec_addr(const struct gosym *g, uint64_t addr)
{
	for (size_t i = 0; i < g->nphdrs; i++) {
		const struct gs_segment *s = &g->phdrs[i];
		if ((s->flags & PF_X) && addr >= s->vaddr && addr - s->vaddr < s->memsz)
			return true;
	}
	return false;
}

static void hex_string(char *out, size_t outlen, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t j = 0;

	for (size_t i = 0; i < n && j + 2 < outlen; i++) {
		out[j++] = digits[p[i] >> 4];
		out[j++] = digits[p[i] & 15];
	}
	out[j] = 0;
}

/* One note: fills the Go or GNU build ID when the note is one of those. */
static void take_note(struct gosym *g, const uint8_t *name, uint32_t namesz, uint32_t type,
		      const uint8_t *desc, uint32_t descsz)
{
	struct gosym_info *in = &g->info;

	if ((namesz == 3 || namesz == 4) && !memcmp(name, "Go", 3) && type == 4 &&
	    !in->go_build_id[0]) {
		size_t n =
		    descsz < sizeof(in->go_build_id) - 1 ? descsz : sizeof(in->go_build_id) - 1;
		for (size_t i = 0; i < n; i++) /* keep it printable: it ends up in output */
			in->go_build_id[i] =
			    desc[i] >= 0x20 && desc[i] < 0x7f ? (char)desc[i] : '?';
		in->go_build_id[n] = 0;
	} else if (namesz == 4 && !memcmp(name, "GNU", 4) && type == NT_GNU_BUILD_ID &&
		   !in->gnu_build_id[0] && descsz <= 20) {
		hex_string(in->gnu_build_id, sizeof(in->gnu_build_id), desc, descsz);
	}
}

/* Walks the notes in [p, p+n); each is bounds-checked, so a bad one ends the walk. */
static void walk_notes(struct gosym *g, const uint8_t *p, uint64_t n)
{
	uint64_t off = 0;

	while (in_bounds(off, 12, n)) {
		uint32_t namesz = rd32(p + off), descsz = rd32(p + off + 4),
			 type = rd32(p + off + 8);
		uint64_t name_off = off + 12;
		uint64_t desc_off = name_off + (((uint64_t)namesz + 3) & ~3ULL);
		uint64_t next = desc_off + (((uint64_t)descsz + 3) & ~3ULL);
		if (!in_bounds(name_off, namesz, n) || !in_bounds(desc_off, descsz, n))
			return;
		take_note(g, p + name_off, namesz, type, p + desc_off, descsz);
		if (next > n)
			return;
		off = next;
	}
}

void gs_elf_notes(struct gosym *g)
{
	for (size_t i = 0; i < g->nsecs; i++) {
		const uint8_t *d;
		if (g->secs[i].type != SHT_NOTE)
			continue;
		d = gs_section_data(g, &g->secs[i]);
		if (d)
			walk_notes(g, d, g->secs[i].size);
	}
}

static const char *const symtab_names[GOSYM_NGLOBALS] = {
    "runtime.mbuckets",	  "runtime.MemProfileRate", "runtime.disableMemoryProfiling",
    "runtime.mProfCycle", "runtime.allglen",	    "runtime.allgptr",
};

const char *gosym_global_name(enum gosym_global which)
{
	return (unsigned)which < GOSYM_NGLOBALS ? symtab_names[which] : NULL;
}

/* Reads .symtab once, taking the globals' addresses. Bounded by the section size. */
int gs_symtab_globals(struct gosym *g)
{
	Elf *elf = g->elf;
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t count;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf)
			return -EINVAL;
		count = data->d_size / sizeof(Elf64_Sym);
		for (size_t i = 0; i < count; i++) {
			GElf_Sym sym;
			const char *name;
			if (!gelf_getsym(data, (int)i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_OBJECT)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || strncmp(name, "runtime.", 8))
				continue;
			for (int k = 0; k < GOSYM_NGLOBALS; k++)
				if (!strcmp(name, symtab_names[k]))
					g->globals[k][GOSYM_BY_SYMTAB] = sym.st_value;
		}
		return 0;
	}
	return -ENOENT;
}
