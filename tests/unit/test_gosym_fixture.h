/*
 * A hand-built minimal Go ELF for gosym tests and fuzz seeds: a few functions with a
 * pclntab (Go 1.20+ or 1.18 format), an inlined call, a generic function, the runtime
 * functions whose code gosym decodes for globals, build info, build-ID notes,
 * moduledata, and optionally a .symtab. Every expected answer is a constant below,
 * so tests know the truth without a Go toolchain. Header-only: used by the unit tests
 * and by the corpus generator tool.
 */
#ifndef TEST_GOSYM_FIXTURE_H
#define TEST_GOSYM_FIXTURE_H

#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fixture_opts {
	bool go118;	   /* 0xfffffff0 pclntab, Go 1.19 build info */
	bool symtab;	   /* add .symtab with the globals */
	bool disabled;	   /* linker disabled memory profiling */
	bool no_pcln_name; /* pclntab section not named: found by scanning */
	bool pie;	   /* ET_DYN */
	/* build info version (default go1.23.1, or go1.19.5 with go118); a release
	 * newer than the table gets the newest row's moduledata layout */
	const char *version;
	uint32_t magic;	   /* pclntab magic to write instead of the format's own */
	bool no_textstart; /* pcHeader.textStart 0, as Go 1.26+ writes it */
};

/* moduledata offsets the fixture writes: text, and gofunc by release. */
#define FX_MD_TEXT 176
static uint32_t fx_md_gofunc(const struct fixture_opts *o)
{
	if (o->go118)
		return 304;
	if (o->version && strcmp(o->version, "go1.27") >= 0)
		return 344;
	return 320;
}

#define FX_BASE	     0x400000ULL
#define FX_TEXT	     0x401000ULL
#define FX_PCLN	     0x402000ULL
#define FX_GOFUNC    0x403800ULL
#define FX_BUILDINFO 0x404000ULL
#define FX_NOPTRDATA 0x404100ULL
#define FX_DATA	     0x404400ULL
#define FX_BSS	     0x404500ULL
#define FX_SIZE	     0x6000

/* Globals' planted addresses. */
#define FX_MBUCKETS	    (FX_BSS + 0x00)
#define FX_ALLGLEN	    (FX_BSS + 0x08)
#define FX_ALLGPTR	    (FX_BSS + 0x10)
#define FX_MPROFCYCLE	    (FX_BSS + 0x18)
#define FX_DISABLE_ENABLED  (FX_BSS + 0x20)
#define FX_DISABLE_DISABLED (FX_DATA + 0x00)
#define FX_RATE		    (FX_NOPTRDATA + 0x200)

/* Functions: 0x40 bytes each from FX_TEXT. */
enum {
	FX_F_FLUSHLOCKED,
	FX_F_FOREACHG,
	FX_F_FLUSH,
	FX_F_SCHEDINIT,
	FX_F_OUTER,
	FX_F_GEN,
	FX_F_GOPANIC,
	FX_F_SIGPANIC,
	FX_F_PANICWRAP,
	FX_F_SSSWITCH,
	FX_NFUNC
};
#define FX_FUNC(i) (FX_TEXT + 0x40ULL * (i))

static const char *const fx_names[FX_NFUNC] = {
    "runtime.mProf_FlushLocked",
    "runtime.forEachGRace",
    "runtime.mProf_Flush",
    "runtime.schedinit",
    "main.outer",
    "main.gen[go.shape.int]",
    "runtime.gopanic",
    "runtime.sigpanic",
    "runtime.panicwrap",
    "runtime.systemstack_switch",
};
static const uint8_t fx_ids[FX_NFUNC] = {0, 0, 0, 0, 0, 0, 10, 19, 15, 21};
#define FX_FILE	 "/src/x.go"
#define FX_INNER "main.inner"
/* main.outer: [0,8) line 10, [8,16) line 20 inlined from main.inner, [16,64) line 11. */
#define FX_OUTER_LINE_A 10
#define FX_INNER_LINE	20
#define FX_OUTER_LINE_B 11
#define FX_INNER_START	19
#define FX_PARENT_PC	4
#define FX_LINE(i)	(100 + 10 * (i)) /* the single line of every other function */
#define FX_START(i)	(99 + 10 * (i))
#define FX_GO_BUILDID	"fxbuild/abc123"

struct fx_buf {
	uint8_t *p;
	size_t len;
};

static void fx_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void fx_put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t fx_zz(int32_t v)
{
	return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}

static size_t fx_uvarint(uint8_t *p, uint32_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Appends a pc-value table of (value, length) runs; returns its offset in pctab. */
static uint32_t fx_pctable(uint8_t *pctab, size_t *len, const int32_t *vals, const uint32_t *runs,
			   int n)
{
	uint32_t off = (uint32_t)*len;
	int32_t prev = -1;
	for (int i = 0; i < n; i++) {
		*len += fx_uvarint(pctab + *len, fx_zz(vals[i] - prev));
		*len += fx_uvarint(pctab + *len, runs[i]);
		prev = vals[i];
	}
	pctab[(*len)++] = 0;
	return off;
}

static void fx_code(uint8_t *text, const struct fixture_opts *o)
{
	uint8_t *f;
	memset(text, 0xcc, 0x40 * FX_NFUNC);
	/* mov rcx, [rip+d] → mbuckets */
	f = text + 0x40 * FX_F_FLUSHLOCKED;
	f[0] = 0x48, f[1] = 0x8b, f[2] = 0x0d;
	fx_put32(f + 3, (uint32_t)(FX_MBUCKETS - (FX_FUNC(FX_F_FLUSHLOCKED) + 7)));
	/* allglen then allgptr */
	f = text + 0x40 * FX_F_FOREACHG;
	f[0] = 0x48, f[1] = 0x8b, f[2] = 0x0d;
	fx_put32(f + 3, (uint32_t)(FX_ALLGLEN - (FX_FUNC(FX_F_FOREACHG) + 7)));
	f[7] = 0x48, f[8] = 0x8b, f[9] = 0x1d;
	fx_put32(f + 10, (uint32_t)(FX_ALLGPTR - (FX_FUNC(FX_F_FOREACHG) + 14)));
	/* mov eax, [rip+d] → mProfCycle */
	f = text + 0x40 * FX_F_FLUSH;
	f[0] = 0x8b, f[1] = 0x05;
	fx_put32(f + 2, (uint32_t)(FX_MPROFCYCLE - (FX_FUNC(FX_F_FLUSH) + 6)));
	/* cmpb $0,[disable]; je; movq $0,[MemProfileRate] (1.20+); 1.19 uses runtime.init,
	 * which the fixture lacks, so its globals come from .symtab only. */
	f = text + 0x40 * FX_F_SCHEDINIT;
	uint64_t dis = o->disabled ? FX_DISABLE_DISABLED : FX_DISABLE_ENABLED;
	f[0] = 0x80, f[1] = 0x3d;
	fx_put32(f + 2, (uint32_t)(dis - (FX_FUNC(FX_F_SCHEDINIT) + 7)));
	f[6] = 0;
	f[7] = 0x74, f[8] = 0x0b;
	f[9] = 0x48, f[10] = 0xc7, f[11] = 0x05;
	fx_put32(f + 12, (uint32_t)(FX_RATE - (FX_FUNC(FX_F_SCHEDINIT) + 20)));
	fx_put32(f + 16, 0);
}

/* Builds the pclntab at p (room for 0x1800 bytes) and the inline tree at gofunc. */
static size_t fx_pclntab(uint8_t *p, uint8_t *gofunc, const struct fixture_opts *o)
{
	uint8_t names[512], pctab[1024], *hdr = p;
	size_t nlen = 0, plen = 1 /* offset 0 means "no table" */, off;
	uint32_t nameoff[FX_NFUNC], inner_off, fsz = o->go118 ? 40 : 44;
	uint32_t pcfile[FX_NFUNC], pcln[FX_NFUNC], inl = 0;

	memset(pctab, 0, sizeof(pctab));
	for (int i = 0; i < FX_NFUNC; i++) {
		nameoff[i] = (uint32_t)nlen;
		strcpy((char *)names + nlen, fx_names[i]);
		nlen += strlen(fx_names[i]) + 1;
	}
	inner_off = (uint32_t)nlen;
	strcpy((char *)names + nlen, FX_INNER);
	nlen += strlen(FX_INNER) + 1;
	for (int i = 0; i < FX_NFUNC; i++) {
		int32_t v0 = 0, vl = FX_LINE(i);
		uint32_t r = 0x40;
		pcfile[i] = fx_pctable(pctab, &plen, &v0, &r, 1);
		if (i == FX_F_OUTER) {
			int32_t lines[3] = {FX_OUTER_LINE_A, FX_INNER_LINE, FX_OUTER_LINE_B};
			int32_t ix[3] = {-1, 0, -1};
			uint32_t runs[3] = {8, 8, 0x30};
			pcln[i] = fx_pctable(pctab, &plen, lines, runs, 3);
			inl = fx_pctable(pctab, &plen, ix, runs, 3);
		} else {
			pcln[i] = fx_pctable(pctab, &plen, &vl, &r, 1);
		}
	}
	/* header */
	memset(hdr, 0, 72);
	fx_put32(hdr, o->magic ? o->magic : o->go118 ? 0xfffffff0 : 0xfffffff1);
	hdr[6] = 1, hdr[7] = 8;
	fx_put64(hdr + 8, FX_NFUNC);
	fx_put64(hdr + 16, 1);
	fx_put64(hdr + 24, o->no_textstart ? 0 : FX_TEXT);
	off = 72;
	fx_put64(hdr + 32, off); /* funcnametab */
	memcpy(p + off, names, nlen);
	off += nlen;
	off = (off + 3) & ~3UL;
	fx_put64(hdr + 40, off); /* cutab: one CU, one file at filetab offset 0 */
	fx_put32(p + off, 0);
	off += 4;
	fx_put64(hdr + 48, off); /* filetab */
	strcpy((char *)p + off, FX_FILE);
	off += sizeof(FX_FILE);
	fx_put64(hdr + 56, off); /* pctab */
	memcpy(p + off, pctab, plen);
	off += plen;
	off = (off + 7) & ~7UL;
	fx_put64(hdr + 64, off); /* pclntable: functab then _func records */
	uint8_t *ft = p + off;
	size_t fo = 8 * (FX_NFUNC + 1);
	for (int i = 0; i < FX_NFUNC; i++) {
		uint8_t *f = ft + fo;
		bool outer = i == FX_F_OUTER;
		fx_put32(ft + 8 * i, 0x40u * (uint32_t)i);
		fx_put32(ft + 8 * i + 4, (uint32_t)fo);
		memset(f, 0, fsz);
		fx_put32(f, 0x40u * (uint32_t)i);
		fx_put32(f + 4, nameoff[i]);
		fx_put32(f + 20, pcfile[i]);
		fx_put32(f + 24, pcln[i]);
		fx_put32(f + 28, outer ? 3 : 0);
		fx_put32(f + 32, 0);
		if (!o->go118)
			fx_put32(f + 36, (uint32_t)(outer ? 9 : FX_START(i)));
		f[fsz - 4] = fx_ids[i];
		f[fsz - 1] = outer ? 4 : 0;
		fo += fsz;
		if (outer) {
			fx_put32(f + fsz, 0), fx_put32(f + fsz + 4, 0), fx_put32(f + fsz + 8, inl);
			for (int k = 0; k < 3; k++)
				fx_put32(f + fsz + 12 + 4 * k, 0xffffffffu);
			fx_put32(f + fsz + 24, 0); /* FUNCDATA_InlTree at gofunc+0 */
			fo += 28;
		}
	}
	fx_put32(ft + 8 * FX_NFUNC, 0x40u * FX_NFUNC);
	fx_put32(ft + 8 * FX_NFUNC + 4, 0);
	/* inline tree entry 0: main.inner called at outer+FX_PARENT_PC */
	memset(gofunc, 0, 20);
	if (o->go118) {
		gofunc[0] = 0xff, gofunc[1] = 0xff; /* parent -1 */
		fx_put32(gofunc + 4, 0);
		fx_put32(gofunc + 8, FX_OUTER_LINE_A);
		fx_put32(gofunc + 12, inner_off);
		fx_put32(gofunc + 16, FX_PARENT_PC);
	} else {
		fx_put32(gofunc + 4, inner_off);
		fx_put32(gofunc + 8, FX_PARENT_PC);
		fx_put32(gofunc + 12, FX_INNER_START);
	}
	return off + fo;
}

static void fx_buildinfo(uint8_t *p, const struct fixture_opts *o)
{
	static const char mod[] = "0w\xaf\x0c\x92t\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6"
				  "path\texample.com/m/cmd\nmod\texample.com/m\t(devel)\t\n"
				  "\xf9\x32\x43\x31\x86\x18 r\x00\x82\x42\x10\x41\x16\xd8\xf2";
	const char *ver = o->version ? o->version : o->go118 ? "go1.19.5" : "go1.23.1";
	size_t n = 32;

	memcpy(p, "\xff Go buildinf:", 14);
	p[14] = 8, p[15] = 2;
	p[n++] = (uint8_t)strlen(ver);
	memcpy(p + n, ver, strlen(ver));
	n += strlen(ver);
	p[n++] = (uint8_t)(sizeof(mod) - 1);
	memcpy(p + n, mod, sizeof(mod) - 1);
}

static size_t fx_note(uint8_t *p, const char *name, uint32_t type, const void *desc, uint32_t dlen)
{
	fx_put32(p, 4), fx_put32(p + 4, dlen), fx_put32(p + 8, type);
	memset(p + 12, 0, 4);
	memcpy(p + 12, name, strlen(name));
	memcpy(p + 16, desc, dlen);
	return 16 + ((dlen + 3) & ~3u);
}

static void fx_shdr(uint8_t *sh, uint32_t name, uint32_t type, uint64_t flags, uint64_t addr,
		    uint64_t off, uint64_t size, uint32_t link, uint64_t entsize)
{
	Elf64_Shdr s = {.sh_name = name,
			.sh_type = type,
			.sh_flags = flags,
			.sh_addr = addr,
			.sh_offset = off,
			.sh_size = size,
			.sh_link = link,
			.sh_addralign = 1,
			.sh_entsize = entsize};
	memcpy(sh, &s, sizeof(s));
}

static void fx_phdr(uint8_t *ph, uint32_t flags, uint64_t off, uint64_t filesz, uint64_t memsz)
{
	Elf64_Phdr p = {.p_type = PT_LOAD,
			.p_flags = flags,
			.p_offset = off,
			.p_vaddr = FX_BASE + off,
			.p_paddr = FX_BASE + off,
			.p_filesz = filesz,
			.p_memsz = memsz,
			.p_align = 0x1000};
	memcpy(ph, &p, sizeof(p));
}

/* Symbols for the six globals in .symtab/.strtab at p; returns sizes. */
static void fx_symtab(uint8_t *sym, size_t *symlen, uint8_t *str, size_t *strlen_, bool disabled)
{
	static const char *const names[6] = {
	    "runtime.mbuckets",	  "runtime.MemProfileRate", "runtime.disableMemoryProfiling",
	    "runtime.mProfCycle", "runtime.allglen",	    "runtime.allgptr"};
	const uint64_t addrs[6] = {
	    FX_MBUCKETS,   FX_RATE,    disabled ? FX_DISABLE_DISABLED : FX_DISABLE_ENABLED,
	    FX_MPROFCYCLE, FX_ALLGLEN, FX_ALLGPTR};
	size_t s = 1;

	str[0] = 0;
	memset(sym, 0, sizeof(Elf64_Sym));
	for (int i = 0; i < 6; i++) {
		Elf64_Sym e = {.st_name = (uint32_t)s,
			       .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT),
			       .st_shndx = 1,
			       .st_value = addrs[i],
			       .st_size = 8};
		memcpy(sym + sizeof(e) * (i + 1), &e, sizeof(e));
		strcpy((char *)str + s, names[i]);
		s += strlen(names[i]) + 1;
	}
	*symlen = 7 * sizeof(Elf64_Sym);
	*strlen_ = s;
}

/* Builds the fixture; the caller frees buf->p. */
static bool fixture_build(const struct fixture_opts *o, struct fx_buf *buf)
{
	static const char shstr[] = "\0.text\0.gopclntab\0.rodata\0.go.buildinfo\0.noptrdata\0"
				    ".data\0.bss\0.note.go.buildid\0.note.gnu.build-id\0"
				    ".shstrtab\0.symtab\0.strtab";
	enum {
		N_TEXT = 1,
		N_PCLN = 7,
		N_RODATA = 18,
		N_BI = 26,
		N_NOPTR = 40,
		N_DATA = 51,
		N_BSS = 57,
		N_GOID = 62,
		N_GNUID = 79,
		N_SHSTR = 98,
		N_SYMTAB = 108,
		N_STRTAB = 116
	};
	uint8_t *p = calloc(1, FX_SIZE);
	uint8_t gnu[20];
	size_t pcl, nlen, symlen = 0, strl = 0, off, nsec;
	Elf64_Ehdr eh = {0};

	if (!p)
		return false;
	fx_code(p + 0x1000, o);
	pcl = fx_pclntab(p + 0x2000, p + (FX_GOFUNC - FX_BASE), o);
	fx_buildinfo(p + 0x4000, o);
	/* moduledata: pcHeader, funcnametab, ..., text, etext, ..., gofunc */
	fx_put64(p + 0x4100, FX_PCLN);
	fx_put64(p + 0x4108, FX_PCLN + 72);
	fx_put64(p + 0x4100 + FX_MD_TEXT, FX_TEXT);
	fx_put64(p + 0x4100 + FX_MD_TEXT + 8, FX_FUNC(FX_NFUNC));
	fx_put64(p + 0x4100 + fx_md_gofunc(o), FX_GOFUNC);
	fx_put64(p + (FX_RATE - FX_BASE), 512 * 1024);
	if (o->disabled)
		p[FX_DISABLE_DISABLED - FX_BASE] = 1;
	for (int i = 0; i < 20; i++)
		gnu[i] = (uint8_t)(0xa0 + i);
	nlen = fx_note(p + 0x100, "Go", 4, FX_GO_BUILDID, sizeof(FX_GO_BUILDID) - 1);
	fx_note(p + 0x100 + nlen, "GNU", NT_GNU_BUILD_ID, gnu, 20);
	/* non-alloc tables after the data */
	off = 0x4500;
	memcpy(p + off, shstr, sizeof(shstr));
	size_t shstr_off = off;
	off += sizeof(shstr);
	off = (off + 7) & ~7UL;
	size_t sym_off = off, str_off;
	if (o->symtab) {
		fx_symtab(p + off, &symlen, p + off + 0x200, &strl, o->disabled);
	}
	str_off = sym_off + 0x200;
	off = str_off + 0x200;
	/* section headers */
	nsec = o->symtab ? 12 : 10;
	uint8_t *sh = p + off;
	memset(sh, 0, 64);
	fx_shdr(sh + 64 * 1, N_TEXT, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, FX_TEXT, 0x1000,
		0x40 * FX_NFUNC, 0, 0);
	fx_shdr(sh + 64 * 2, o->no_pcln_name ? N_RODATA : N_PCLN, SHT_PROGBITS, SHF_ALLOC, FX_PCLN,
		0x2000, pcl, 0, 0);
	fx_shdr(sh + 64 * 3, N_BI, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, FX_BUILDINFO, 0x4000, 0x100,
		0, 0);
	fx_shdr(sh + 64 * 4, N_NOPTR, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, FX_NOPTRDATA, 0x4100,
		0x300, 0, 0);
	fx_shdr(sh + 64 * 5, N_DATA, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, FX_DATA, 0x4400, 0x100, 0,
		0);
	fx_shdr(sh + 64 * 6, N_BSS, SHT_NOBITS, SHF_ALLOC | SHF_WRITE, FX_BSS, 0x4500, 0x100, 0, 0);
	fx_shdr(sh + 64 * 7, N_GOID, SHT_NOTE, SHF_ALLOC, FX_BASE + 0x100, 0x100, nlen, 0, 0);
	fx_shdr(sh + 64 * 8, N_GNUID, SHT_NOTE, SHF_ALLOC, FX_BASE + 0x100 + nlen, 0x100 + nlen, 36,
		0, 0);
	fx_shdr(sh + 64 * 9, N_SHSTR, SHT_STRTAB, 0, 0, shstr_off, sizeof(shstr), 0, 0);
	if (o->symtab) {
		fx_shdr(sh + 64 * 10, N_SYMTAB, SHT_SYMTAB, 0, 0, sym_off, symlen, 11,
			sizeof(Elf64_Sym));
		fx_shdr(sh + 64 * 11, N_STRTAB, SHT_STRTAB, 0, 0, str_off, strl, 0, 0);
	}
	/* ELF header and program headers */
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = o->pie ? ET_DYN : ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = FX_TEXT;
	eh.e_phoff = 64;
	eh.e_shoff = off;
	eh.e_ehsize = 64;
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 3;
	eh.e_shentsize = 64;
	eh.e_shnum = (uint16_t)nsec;
	eh.e_shstrndx = 9;
	memcpy(p, &eh, sizeof(eh));
	fx_phdr(p + 64, PF_R | PF_X, 0, 0x2000, 0x2000);
	fx_phdr(p + 64 + 56, PF_R, 0x2000, 0x2000, 0x2000);
	fx_phdr(p + 64 + 112, PF_R | PF_W, 0x4000, 0x500, 0x600);
	buf->p = p;
	buf->len = off + 64 * nsec;
	return buf->len <= FX_SIZE;
}

#endif
