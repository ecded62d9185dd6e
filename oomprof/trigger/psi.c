#include "oomprof/trigger/psi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *cgroup2_root(void)
{
	static const char *const roots[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	char path[64];

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/cgroup.controllers", roots[i]);
		if (access(path, F_OK) == 0)
			return roots[i];
	}
	return NULL;
}

int psi_full_avg10(const char *path, double *avg10)
{
	const char *root = cgroup2_root();
	char file[4200], line[256];
	int e = -EIO;
	FILE *f;

	if (!root)
		return -ENOENT;
	snprintf(file, sizeof(file), "%s%s/memory.pressure", root, strcmp(path, "/") ? path : "");
	if (!(f = fopen(file, "re")))
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "full avg10=%lf", avg10) == 1) {
			e = 0;
			break;
		}
	fclose(f);
	return e;
}

bool psi_rule_update(struct psi_rule *r, double avg10, int64_t now_ms)
{
	if (avg10 <= r->threshold) {
		r->above_since = 0;
		r->fired = false;
		return false;
	}
	if (!r->above_since)
		r->above_since = now_ms;
	if (r->fired || now_ms - r->above_since < r->duration_ms)
		return false;
	r->fired = true;
	return true;
}
