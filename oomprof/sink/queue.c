#include "oomprof/sink/queue.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oomprof/base/log.h"
#include "oomprof/sink/dir.h"

#define QUEUE_SUFFIX	".job"
#define QUEUE_MAX_SCAN	100000
#define QUEUE_MAX_BYTES 16384 /* of one job file */

void job_add_label(struct upload_job *j, const char *name, const char *value)
{
	if (j->nlabels == QUEUE_MAX_LABELS)
		return;
	snprintf(j->label_names[j->nlabels], sizeof(j->label_names[0]), "%.31s", name);
	snprintf(j->label_values[j->nlabels], sizeof(j->label_values[0]), "%.127s", value);
	j->nlabels++;
}

/* Values never hold a newline: the file is one "key=value" a line. */
static void put_line(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%s=", key);
	for (const char *c = value; *c; c++)
		fputc(*c == '\n' || *c == '\r' ? ' ' : *c, f);
	fputc('\n', f);
}

static int write_job(const struct upload_queue *q, const struct upload_job *j)
{
	char path[1200], tmp[1210];
	FILE *f;
	int e = 0;

	snprintf(path, sizeof(path), "%s/%s", q->dir, j->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "we")))
		return -errno;
	put_line(f, "url", j->url);
	put_line(f, "profile", j->profile);
	put_line(f, "service", j->service);
	fprintf(f, "from=%lld\nuntil=%lld\nattempts=%u\n", (long long)j->from_s,
		(long long)j->until_s, j->attempts);
	for (size_t i = 0; i < j->nlabels; i++) {
		char key[40];
		snprintf(key, sizeof(key), "label.%s", j->label_names[i]);
		put_line(f, key, j->label_values[i]);
	}
	if (fflush(f) || fsync(fileno(f)))
		e = -errno;
	if (fclose(f) && !e)
		e = -errno;
	if (!e && rename(tmp, path) < 0)
		e = -errno;
	if (e)
		unlink(tmp);
	return e;
}

static int parse_field(struct upload_job *j, const char *key, const char *v)
{
	char *end;

	if (!strcmp(key, "url"))
		snprintf(j->url, sizeof(j->url), "%s", v);
	else if (!strcmp(key, "profile"))
		snprintf(j->profile, sizeof(j->profile), "%s", v);
	else if (!strcmp(key, "service"))
		snprintf(j->service, sizeof(j->service), "%s", v);
	else if (!strcmp(key, "from"))
		j->from_s = strtoll(v, &end, 10);
	else if (!strcmp(key, "until"))
		j->until_s = strtoll(v, &end, 10);
	else if (!strcmp(key, "attempts"))
		j->attempts = (uint32_t)strtoul(v, &end, 10);
	else if (!strncmp(key, "label.", 6) && key[6])
		job_add_label(j, key + 6, v);
	else
		return -EINVAL;
	return 0;
}

static int read_job(const struct upload_queue *q, const char *name, struct upload_job *j)
{
	char path[1200], line[2048];
	struct stat st;
	FILE *f;
	int e = 0;

	snprintf(path, sizeof(path), "%s/%s", q->dir, name);
	if (!(f = fopen(path, "re")))
		return -errno;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > QUEUE_MAX_BYTES)
		e = -EINVAL;
	*j = (struct upload_job){0};
	snprintf(j->id, sizeof(j->id), "%s", name);
	while (!e && fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');
		line[strcspn(line, "\n")] = 0;
		if (!eq) {
			e = -EINVAL;
			break;
		}
		*eq = 0;
		e = parse_field(j, line, eq + 1);
	}
	fclose(f);
	if (!e && (!j->url[0] || !j->profile[0] || !j->service[0]))
		e = -EINVAL;
	return e;
}

static int older_first(const void *a, const void *b)
{
	return strcmp((*(struct upload_job *const *)a)->id, (*(struct upload_job *const *)b)->id);
}

static bool is_job_name(const char *name)
{
	size_t len = strlen(name), sl = strlen(QUEUE_SUFFIX);

	return len > sl && len < 64 && !strcmp(name + len - sl, QUEUE_SUFFIX);
}

static int load(struct upload_queue *q)
{
	DIR *d = opendir(q->dir);
	struct dirent *de;
	size_t scanned = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && scanned++ < QUEUE_MAX_SCAN) {
		struct upload_job *j;
		struct upload_job **v;
		if (!is_job_name(de->d_name))
			continue;
		if (!(j = malloc(sizeof(*j))) || !(v = realloc(q->jobs, (q->n + 1) * sizeof(*v)))) {
			free(j);
			break;
		}
		q->jobs = v;
		if (read_job(q, de->d_name, j)) {
			char path[1200];
			log_warn("upload queue: %s/%s is not a job oomprof wrote; deleted it",
				 q->dir, de->d_name);
			snprintf(path, sizeof(path), "%s/%s", q->dir, de->d_name);
			unlink(path);
			free(j);
			continue;
		}
		q->jobs[q->n++] = j;
	}
	closedir(d);
	if (q->n)
		qsort(q->jobs, q->n, sizeof(*q->jobs), older_first);
	while (q->n > q->max) /* a smaller --upload-queue-max than last time */
		queue_remove(q, 0);
	return 0;
}

int queue_open(struct upload_queue *q, const char *dir, size_t max)
{
	int e;

	*q = (struct upload_queue){.max = max ? max : 1};
	if (strlen(dir) >= sizeof(q->dir))
		return -ENAMETOOLONG;
	snprintf(q->dir, sizeof(q->dir), "%s", dir);
	if ((e = sink_make_dir(dir)))
		return e;
	return load(q);
}

int queue_add(struct upload_queue *q, const struct upload_job *job)
{
	struct upload_job *j = malloc(sizeof(*j)), **v;
	int dropped = 0, e;

	if (!j)
		return -ENOMEM;
	*j = *job;
	/* Names sort in arrival order, across restarts too. */
	snprintf(j->id, sizeof(j->id), "%019lld-%06llu%s", (long long)now_ns(),
		 (unsigned long long)(q->seq++ % 1000000), QUEUE_SUFFIX);
	if ((e = write_job(q, j))) {
		free(j);
		return e;
	}
	if (q->n >= q->max) {
		queue_remove(q, 0);
		dropped = 1;
	}
	if (!(v = realloc(q->jobs, (q->n + 1) * sizeof(*v)))) {
		char path[1200];
		snprintf(path, sizeof(path), "%s/%s", q->dir, j->id);
		unlink(path);
		free(j);
		return -ENOMEM;
	}
	q->jobs = v;
	q->jobs[q->n++] = j;
	return dropped;
}

int queue_update(struct upload_queue *q, size_t i)
{
	return write_job(q, q->jobs[i]);
}

void queue_remove(struct upload_queue *q, size_t i)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s/%s", q->dir, q->jobs[i]->id);
	unlink(path);
	free(q->jobs[i]);
	memmove(&q->jobs[i], &q->jobs[i + 1], (q->n - i - 1) * sizeof(*q->jobs));
	q->n--;
}

void queue_close(struct upload_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->jobs[i]);
	free(q->jobs);
	*q = (struct upload_queue){0};
}
