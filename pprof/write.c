/*
 * Writing: protobuf-c packs the Profile message into a ProtobufCBuffer whose append
 * feeds zlib, and zlib's output goes to a sink. The encoded profile is never held in
 * memory whole, which matters when the daemon writes a large profile under memory
 * pressure (it usually runs right after an OOM kill).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "pprof/builder_int.h"

#define GZ_CHUNK (64 * 1024)
/* runtime/pprof uses gzip.BestSpeed: profiles are written often, read rarely. */
#define GZ_LEVEL Z_BEST_SPEED

struct gz_buffer {
	ProtobufCBuffer base; /* first: protobuf-c calls us through it */
	z_stream z;
	pprof_sink_fn sink;
	void *ctx;
	int err; /* first error; once set, further appends do nothing */
	unsigned char out[GZ_CHUNK];
};

/* Runs deflate over the pending input with flush, passing full chunks to the sink. */
static void gz_pump(struct gz_buffer *g, int flush)
{
	int zrc;

	do {
		g->z.next_out = g->out;
		g->z.avail_out = sizeof(g->out);
		zrc = deflate(&g->z, flush);
		if (zrc == Z_STREAM_ERROR) {
			g->err = -EIO;
			return;
		}
		if (g->z.avail_out < sizeof(g->out)) {
			int err = g->sink(g->ctx, g->out, sizeof(g->out) - g->z.avail_out);
			if (err) {
				g->err = err;
				return;
			}
		}
	} while (g->z.avail_out == 0 || (flush == Z_FINISH && zrc != Z_STREAM_END));
}

static void gz_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data)
{
	struct gz_buffer *g = (struct gz_buffer *)buffer;

	/* avail_in is 32 bits wide: feed very long runs in pieces. */
	while (len && !g->err) {
		size_t n = len > (1u << 30) ? (1u << 30) : len;

		g->z.next_in = (unsigned char *)data;
		g->z.avail_in = n;
		gz_pump(g, Z_NO_FLUSH);
		data += n;
		len -= n;
	}
}

/* Points a Profile message at the builder's arrays; nothing is copied. */
static void profile_message(const struct pprof_builder *b, Perftools__Profiles__Profile *p)
{
	perftools__profiles__profile__init(p);
	p->n_sample_type = b->ntypes;
	p->sample_type = b->sample_type_ptrs;
	/* Samples are appended already encoded (pprof_write); fields may come in any order. */
	p->n_sample = 0;
	p->n_mapping = b->mappings.n;
	p->mapping = (Perftools__Profiles__Mapping **)b->mappings.v;
	p->n_location = b->locations.n;
	p->location = (Perftools__Profiles__Location **)b->locations.v;
	p->n_function = b->functions.n;
	p->function = (Perftools__Profiles__Function **)b->functions.v;
	p->n_string_table = b->strings.n;
	p->string_table = (char **)b->strings.v;
	p->drop_frames = b->drop_frames;
	p->keep_frames = b->keep_frames;
	p->time_nanos = b->time_nanos;
	p->duration_nanos = b->duration_nanos;
	/* An all-zero period type is left out, as runtime/pprof does for CPU-less data. */
	if (b->period_type.type || b->period_type.unit)
		p->period_type = (Perftools__Profiles__ValueType *)&b->period_type;
	p->period = b->period;
	p->n_comment = b->ncomments;
	p->comment = b->comments;
	p->default_sample_type = b->default_sample_type;
}

int pprof_write(const struct pprof_builder *b, pprof_sink_fn sink, void *ctx)
{
	Perftools__Profiles__Profile msg;
	struct gz_buffer *g;
	int err;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->base.append = gz_append;
	g->sink = sink;
	g->ctx = ctx;
	/* windowBits 15 + 16: a gzip header and trailer rather than raw zlib. */
	if (deflateInit2(&g->z, GZ_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(g);
		return -ENOMEM;
	}
	profile_message(b, &msg);
	protobuf_c_message_pack_to_buffer(&msg.base, &g->base);
	gz_append(&g->base, b->sample_bytes.len, b->sample_bytes.p);
	if (!g->err) {
		g->z.next_in = NULL;
		g->z.avail_in = 0;
		gz_pump(g, Z_FINISH);
	}
	err = g->err;
	deflateEnd(&g->z);
	free(g);
	return err;
}

/* ---- sinks ---- */

static int file_sink(void *ctx, const void *data, size_t len)
{
	FILE *f = ctx;

	errno = 0;
	if (fwrite(data, 1, len, f) != len)
		return errno ? -errno : -EIO;
	return 0;
}

int pprof_write_file(const struct pprof_builder *b, FILE *f)
{
	int err = pprof_write(b, file_sink, f);

	if (!err && fflush(f))
		err = errno ? -errno : -EIO;
	return err;
}

static int fd_sink(void *ctx, const void *data, size_t len)
{
	int fd = *(int *)ctx;
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pprof_write_fd(const struct pprof_builder *b, int fd)
{
	return pprof_write(b, fd_sink, &fd);
}

struct mem_sink {
	unsigned char *buf;
	size_t len, cap;
};

static int mem_sink(void *ctx, const void *data, size_t len)
{
	struct mem_sink *m = ctx;

	if (len > SIZE_MAX / 2 - m->len)
		return -E2BIG;
	if (m->len + len > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		unsigned char *buf;

		while (cap < m->len + len)
			cap *= 2;
		buf = realloc(m->buf, cap);
		if (!buf)
			return -ENOMEM;
		m->buf = buf;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, data, len);
	m->len += len;
	return 0;
}

int pprof_write_mem(const struct pprof_builder *b, void **buf, size_t *len)
{
	struct mem_sink m = {0};
	int err = pprof_write(b, mem_sink, &m);

	if (err) {
		free(m.buf);
		return err;
	}
	*buf = m.buf;
	*len = m.len;
	return 0;
}

/* ---- atomic file ---- */

/* Syncs the directory holding path, so that a rename into it survives a crash. */
static int sync_dir_of(const char *path)
{
	char copy[PATH_MAX];
	int fd, err = 0;

	if (strlen(path) >= sizeof(copy))
		return -ENAMETOOLONG;
	strcpy(copy, path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Writes, sets the mode and syncs the open temporary file; closes it in every case. */
static int write_and_close(const struct pprof_builder *b, int fd, mode_t mode)
{
	int err = pprof_write_fd(b, fd);

	if (!err && fchmod(fd, mode) < 0)
		err = -errno;
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

int pprof_write_atomic(const struct pprof_builder *b, const char *path, mode_t mode)
{
	char dir[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX];
	int fd, err, n;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	strcpy(base, path);
	/* A hidden name in the same directory: rename(2) cannot cross file systems. */
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.XXXXXX", dirname(dir), basename(base));
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = write_and_close(b, fd, mode);
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	return sync_dir_of(path);
}
