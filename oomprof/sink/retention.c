#include "oomprof/sink/retention.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Enough for years of kills; a directory with more is pruned in several passes. */
#define RETENTION_MAX_SCAN 100000

struct profile_file {
	char name[256];
	const char *stamp; /* into name: "YYYYmmddTHHMMSS.mmmZ.pb.gz" */
	uint64_t bytes;
};

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "20261122T011500.123Z.pb.gz" */
static bool is_stamp(const char *s)
{
	return strlen(s) == 26 && digits(s, 8) && s[8] == 'T' && digits(s + 9, 6) && s[15] == '.' &&
	       digits(s + 16, 3) && !strcmp(s + 19, "Z.pb.gz");
}

static const char *stamp_of(const char *name)
{
	size_t len = strlen(name);
	const char *stamp, *p;

	if (len < 26 + 4 || len >= 256)
		return NULL;
	stamp = name + len - 26;
	if (!is_stamp(stamp) || stamp[-1] != '-')
		return NULL;
	p = stamp - 2; /* the pid: digits between two '-' */
	while (p > name && isdigit((unsigned char)*p))
		p--;
	if (p == stamp - 2 || *p != '-' || p == name)
		return NULL;
	for (const char *c = name; c < p; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
			return NULL;
	return stamp;
}

bool retention_is_profile_name(const char *name)
{
	return stamp_of(name) != NULL;
}

static int older_first(const void *a, const void *b)
{
	const struct profile_file *x = a, *y = b;
	int c = strcmp(x->stamp, y->stamp);

	return c ? c : strcmp(x->name, y->name);
}

/* The profiles of dir, oldest first. */
static int list_profiles(int dfd, struct profile_file **out, size_t *n)
{
	DIR *d = fdopendir(dup(dfd));
	struct profile_file *v = NULL;
	size_t cap = 0;
	struct dirent *de;

	*n = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d)) && *n < RETENTION_MAX_SCAN) {
		struct stat st;
		if (!stamp_of(de->d_name) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (*n == cap) {
			size_t c = cap ? cap * 2 : 64;
			struct profile_file *nv = realloc(v, c * sizeof(*nv));
			if (!nv)
				break;
			v = nv;
			cap = c;
		}
		snprintf(v[*n].name, sizeof(v[*n].name), "%s", de->d_name);
		v[*n].stamp = stamp_of(v[*n].name);
		v[*n].bytes = (uint64_t)st.st_size;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), older_first);
	*out = v;
	return 0;
}

int retention_prune(const struct retention *r, const char *keep, struct retention_result *res)
{
	struct profile_file *v = NULL;
	uint64_t total = 0;
	size_t n, left;
	int dfd, e;

	*res = (struct retention_result){0};
	if (!r->max_profiles && !r->max_bytes)
		return 0;
	dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	e = list_profiles(dfd, &v, &n);
	for (size_t i = 0; i < n; i++)
		total += v[i].bytes;
	left = n;
	for (size_t i = 0; !e && i < n; i++) {
		bool over = (r->max_profiles && left > (uint64_t)r->max_profiles) ||
			    (r->max_bytes && total > (uint64_t)r->max_bytes);
		if (!over)
			break;
		if (keep && !strcmp(v[i].name, keep))
			continue;
		if (unlinkat(dfd, v[i].name, 0) < 0)
			continue; /* gone already, or not ours to delete: leave it */
		res->deleted++;
		res->deleted_bytes += v[i].bytes;
		total -= v[i].bytes;
		left--;
	}
	res->kept = left;
	res->kept_bytes = total;
	free(v);
	close(dfd);
	return e;
}

int retention_room(const struct retention *r, uint64_t *free_bytes)
{
	struct statvfs vfs;

	if (!r->min_free)
		return 0;
	if (statvfs(r->dir, &vfs) < 0)
		return -errno;
	*free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	return *free_bytes < (uint64_t)r->min_free ? -ENOSPC : 0;
}
