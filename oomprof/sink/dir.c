#include "oomprof/sink/dir.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void sink_profile_path(char *buf, size_t len, const char *dir, const char *comm, pid_t pid,
		       int64_t time_ns)
{
	char name[32], stamp[48];
	time_t secs = (time_t)(time_ns / 1000000000);
	struct tm tm;
	size_t i;

	for (i = 0; comm && comm[i] && i < sizeof(name) - 1; i++) {
		unsigned char c = (unsigned char)comm[i];
		name[i] = isalnum(c) || c == '-' || c == '_' || c == '.' ? (char)c : '_';
	}
	name[i] = 0;
	if (!i || !strcmp(name, ".") || !strcmp(name, ".."))
		snprintf(name, sizeof(name), "process");
	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	snprintf(buf, len, "%s/%s-%d-%s.%03dZ.pb.gz", dir, name, (int)pid, stamp,
		 (int)(time_ns / 1000000 % 1000));
}

int sink_make_dir(const char *dir)
{
	char path[4096];
	size_t len = strlen(dir);

	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0750) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
