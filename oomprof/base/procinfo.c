#include "oomprof/base/procinfo.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static FILE *open_proc(pid_t pid, const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return fopen(path, "re");
}

int proc_comm(pid_t pid, char *buf, size_t len)
{
	FILE *f = open_proc(pid, "comm");

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

int proc_start_time(pid_t pid, uint64_t *ticks)
{
	char buf[1024], *p;
	FILE *f = open_proc(pid, "stat");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* comm may hold spaces and parentheses: fields start after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	/* after ')' come fields 3.. ; starttime is field 22, the 20th from here */
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EIO;
	}
	*ticks = strtoull(p + 1, NULL, 10);
	return 0;
}

int proc_exe_id(pid_t pid, uint64_t *dev, uint64_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (stat(path, &st) < 0)
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

static int maps_append(struct proc_maps *out, const struct proc_mapping *m, size_t *cap)
{
	if (out->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct proc_mapping *grown = realloc(out->maps, ncap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		out->maps = grown;
		*cap = ncap;
	}
	out->maps[out->n++] = *m;
	return 0;
}

int proc_exe_mappings(pid_t pid, uint64_t ino, struct proc_maps *out)
{
	FILE *f = open_proc(pid, "maps");
	char line[4096];
	size_t cap = 0;
	int err = 0;

	out->maps = NULL;
	out->n = 0;
	if (!f)
		return -errno;
	while (!err && fgets(line, sizeof(line), f)) {
		struct proc_mapping m = {0};
		char perms[8], path[4096] = "";
		unsigned long long inode;
		int consumed = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %llu %n", &m.start,
			   &m.end, perms, &m.offset, &inode, &consumed) < 5)
			continue;
		if (inode != ino)
			continue;
		sscanf(line + consumed, "%4095[^\n]", path);
		m.exec = perms[2] == 'x';
		snprintf(m.path, sizeof(m.path), "%s", path);
		err = maps_append(out, &m, &cap);
	}
	fclose(f);
	if (err)
		proc_maps_free(out);
	return err;
}

void proc_maps_free(struct proc_maps *m)
{
	free(m->maps);
	m->maps = NULL;
	m->n = 0;
}

uint64_t proc_maps_base(const struct proc_maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->maps[i].offset == 0)
			return m->maps[i].start;
	return 0;
}

/*
 * Reads /proc/PID/cgroup: the v1 memory controller's path into v1 (when the process has
 * one) and the unified hierarchy's ("0::/path") into v2. Either may be "" afterwards.
 */
static int proc_cgroup_lines(pid_t pid, char *v1, size_t v1len, char *v2, size_t v2len)
{
	FILE *f = open_proc(pid, "cgroup");
	char line[4096];

	if (!f)
		return -errno;
	v1[0] = v2[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		char *ctrl = strchr(line, ':'), *path;
		if (!ctrl || !(path = strchr(ctrl + 1, ':')))
			continue;
		*path++ = 0;
		path[strcspn(path, "\n")] = 0;
		ctrl++;
		if (!strcmp(ctrl, "")) { /* "0::/path": the unified hierarchy */
			snprintf(v2, v2len, "%s", path);
			continue;
		}
		/* v1: the controller list is comma-separated, e.g. "memory" */
		for (char *save = NULL, *c = strtok_r(ctrl, ",", &save); c;
		     c = strtok_r(NULL, ",", &save))
			if (!strcmp(c, "memory"))
				snprintf(v1, v1len, "%s", path);
	}
	fclose(f);
	return 0;
}

int proc_memcg_path(pid_t pid, char *buf, size_t len)
{
	char v1[4096], v2[4096];
	int e = proc_cgroup_lines(pid, v1, sizeof(v1), v2, sizeof(v2));

	if (e)
		return e;
	snprintf(buf, len, "%s", v1[0] ? v1 : v2[0] ? v2 : "/");
	return 0;
}

int proc_cgroup2_path(pid_t pid, char *buf, size_t len)
{
	char v1[4096], v2[4096];
	int e = proc_cgroup_lines(pid, v1, sizeof(v1), v2, sizeof(v2));

	if (e)
		return e;
	if (!v2[0])
		return -ENOENT;
	snprintf(buf, len, "%s", v2);
	return 0;
}

int proc_rss_anon_kb(pid_t pid, uint64_t *kb)
{
	FILE *f = open_proc(pid, "status");
	char line[256];
	int e = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %" SCNu64, kb) == 1) {
			e = 0;
			break;
		}
	fclose(f);
	return e;
}

void container_id_from_cgroup(const char *cgroup, char *buf, size_t len)
{
	const char *p = cgroup;

	buf[0] = 0;
	for (; *p; p++) {
		size_t n = 0;
		while (isxdigit((unsigned char)p[n]) && !isupper((unsigned char)p[n]))
			n++;
		if (n == 64 && (p == cgroup || !isxdigit((unsigned char)p[-1]))) {
			snprintf(buf, len, "%.64s", p);
			return;
		}
		if (n)
			p += n - 1;
	}
}

void pod_uid_from_cgroup(const char *cgroup, char *buf, size_t len)
{
	const char *p = cgroup;

	buf[0] = 0;
	while ((p = strstr(p, "pod"))) {
		size_t n = 0;
		p += 3;
		/* cgroupfs driver: pod1b2c...-..., systemd driver: pod1b2c..._... */
		while (isxdigit((unsigned char)p[n]) || p[n] == '-' || p[n] == '_')
			n++;
		if (n == 36 && (p[n] == '/' || p[n] == '.' || !p[n])) {
			size_t i;
			for (i = 0; i < n && i + 1 < len; i++)
				buf[i] = p[i] == '_' ? '-' : p[i];
			buf[i] = 0;
			return;
		}
	}
}

static int read_u64_file(const char *path, uint64_t *value)
{
	char buf[64];
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	if (!strncmp(buf, "max", 3))
		*value = UINT64_MAX;
	else
		*value = strtoull(buf, NULL, 10);
	return 0;
}

int memcg_read_u64(const char *cgroup, const char *v2_file, const char *v1_file, uint64_t *value)
{
	static const char *const roots[][2] = {
	    {"/sys/fs/cgroup", "v2"},
	    {"/sys/fs/cgroup/unified", "v2"},
	    {"/sys/fs/cgroup/memory", "v1"},
	};
	char path[4096];

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		const char *file = roots[i][1][1] == '2' ? v2_file : v1_file;
		snprintf(path, sizeof(path), "%s%s/%s", roots[i][0],
			 strcmp(cgroup, "/") ? cgroup : "", file);
		if (read_u64_file(path, value) == 0)
			return 0;
	}
	return -ENOENT;
}

int memcg_limit_bytes(const char *cgroup, uint64_t *limit)
{
	return memcg_read_u64(cgroup, "memory.max", "memory.limit_in_bytes", limit);
}
