#include "oomprof/sink/upload.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oomprof/base/log.h"

#define UPLOAD_REPLY_MAX 256 /* bytes of a store's answer kept for the log line */

struct target {
	const char *given;
	enum upload_format format;
	char base[512];
};

struct transfer {
	CURL *easy; /* NULL: free */
	char job_id[64];
	char *body;
	struct curl_slist *headers;
	char reply[UPLOAD_REPLY_MAX + 1];
	size_t reply_len;
	char error[CURL_ERROR_SIZE];
};

struct uploader {
	struct target targets[UPLOAD_MAX_TARGETS];
	size_t ntargets;
	const char *tenant;
	struct upload_queue queue;
	CURLM *multi;
	struct transfer xfers[UPLOAD_MAX_CONCURRENT];
	struct metrics *m;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int upload_parse_url(const char *url, enum upload_format fallback, enum upload_format *format,
		     char *base, size_t len)
{
	static const struct {
		const char *prefix;
		enum upload_format f;
	} schemes[] = {{"pyroscope+", UPLOAD_FORMAT_PYROSCOPE}, {"parca+", UPLOAD_FORMAT_PARCA}};
	const char *rest = url;
	size_t n;

	*format = fallback;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strncmp(url, schemes[i].prefix, strlen(schemes[i].prefix))) {
			*format = schemes[i].f;
			rest = url + strlen(schemes[i].prefix);
		}
	if (*format == UPLOAD_FORMAT_NONE ||
	    (strncmp(rest, "http://", 7) && strncmp(rest, "https://", 8)))
		return -EINVAL;
	n = strlen(rest);
	while (n && rest[n - 1] == '/')
		n--;
	if (n >= len || n <= 8)
		return -EINVAL;
	memcpy(base, rest, n);
	base[n] = 0;
	return 0;
}

static const struct target *target_of(const struct uploader *u, const char *given)
{
	for (size_t i = 0; i < u->ntargets; i++)
		if (!strcmp(u->targets[i].given, given))
			return &u->targets[i];
	return NULL;
}

/* Label values as both stores take them unquoted: [A-Za-z0-9._:/-], others become '_'. */
static void clean_value(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	for (; src && src[i] && i + 1 < len; i++) {
		char c = src[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || strchr("._:/-", c);
		dst[i] = ok ? c : '_';
	}
	dst[i] = 0;
}

static void add_label(struct upload_job *j, const char *name, const char *value)
{
	char v[128];

	if (!value || !*value)
		return;
	clean_value(v, sizeof(v), value);
	job_add_label(j, name, v);
}

/* Drops the jobs of stores no longer configured. */
static void forget_unknown_targets(struct uploader *u)
{
	for (size_t i = 0; i < u->queue.n; i++) {
		struct upload_job *j = u->queue.jobs[i];
		if (target_of(u, j->url))
			continue;
		log_warn("upload queue: %s is no longer an --upload target; not uploading %s to it",
			 j->url, j->profile);
		u->m->uploads[UPLOAD_DROPPED]++;
		queue_remove(&u->queue, i--);
	}
}

struct uploader *uploader_open(const struct upload_opts *o, struct metrics *m, char *err,
			       size_t errlen)
{
	struct uploader *u;
	int e;

	if (o->nurls > UPLOAD_MAX_TARGETS) {
		snprintf(err, errlen, "at most %d --upload targets", UPLOAD_MAX_TARGETS);
		return NULL;
	}
	if (!(u = calloc(1, sizeof(*u)))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->m = m;
	u->tenant = o->tenant && *o->tenant ? o->tenant : NULL;
	for (size_t i = 0; i < o->nurls; i++) {
		struct target *t = &u->targets[u->ntargets++];
		t->given = o->urls[i];
		if (upload_parse_url(t->given, o->format, &t->format, t->base, sizeof(t->base))) {
			snprintf(err, errlen,
				 "--upload '%s': want pyroscope+http(s)://HOST:PORT or "
				 "parca+http(s)://HOST:PORT (or http(s):// with --upload-format)",
				 t->given);
			free(u);
			return NULL;
		}
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) || !(u->multi = curl_multi_init())) {
		snprintf(err, errlen, "cannot initialise libcurl");
		free(u);
		return NULL;
	}
	if ((e = queue_open(&u->queue, o->queue_dir, o->queue_max))) {
		snprintf(err, errlen, "upload queue %s: %s", o->queue_dir, strerror(-e));
		uploader_close(u);
		return NULL;
	}
	forget_unknown_targets(u);
	if (u->queue.n)
		log_info("upload queue: %zu profiles still to upload from the last run",
			 u->queue.n);
	return u;
}

void uploader_submit(struct uploader *u, const struct upload_profile *p)
{
	for (size_t i = 0; i < u->ntargets; i++) {
		struct upload_job j = {0};
		int r;
		snprintf(j.url, sizeof(j.url), "%s", u->targets[i].given);
		snprintf(j.profile, sizeof(j.profile), "%s", p->path);
		clean_value(j.service, sizeof(j.service), p->service);
		j.from_s = j.until_s = p->time_s;
		add_label(&j, "host", p->host);
		add_label(&j, "pod", p->pod);
		add_label(&j, "container", p->container);
		add_label(&j, "trigger", p->trigger);
		add_label(&j, "capture_status", p->status);
		r = queue_add(&u->queue, &j);
		if (r < 0)
			log_error("upload of %s to %s: cannot queue it: %s", p->path, j.url,
				  strerror(-r));
		else if (r > 0) {
			log_warn("upload queue full (%zu jobs): dropped its oldest job",
				 u->queue.max);
			u->m->uploads[UPLOAD_DROPPED]++;
		}
	}
}

static int read_file(const char *path, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	size_t got = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > UPLOAD_MAX_PROFILE) {
		close(fd);
		return -EFBIG;
	}
	*buf = malloc((size_t)st.st_size + 1);
	while (*buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, *buf + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!*buf || got != (size_t)st.st_size) {
		free(*buf);
		return -EIO;
	}
	*len = got;
	return 0;
}

static char *base64(const unsigned char *in, size_t n, size_t *out_len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = 0;
	*out_len = (size_t)(o - out);
	return out;
}

/* The Parca WriteRawRequest, JSON: labels (with __name__) and the base64 profile. */
static char *parca_body(const struct upload_job *j, const char *prof, size_t len, size_t *body_len)
{
	size_t b64_len, cap, used;
	char *b64 = base64((const unsigned char *)prof, len, &b64_len), *body;

	if (!b64)
		return NULL;
	cap = b64_len + 512 + j->nlabels * 200 + sizeof(j->service);
	if (!(body = malloc(cap))) {
		free(b64);
		return NULL;
	}
	used = (size_t)snprintf(body, cap,
				"{\"series\":[{\"labels\":{\"labels\":["
				"{\"name\":\"__name__\",\"value\":\"memory\"},"
				"{\"name\":\"service_name\",\"value\":\"%s\"}",
				j->service);
	for (size_t i = 0; i < j->nlabels; i++) /* names and values are clean_value()d */
		used +=
		    (size_t)snprintf(body + used, cap - used, ",{\"name\":\"%s\",\"value\":\"%s\"}",
				     j->label_names[i], j->label_values[i]);
	used += (size_t)snprintf(body + used, cap - used,
				 "]},\"samples\":[{\"raw_profile\":\"%s\"}]}]}", b64);
	free(b64);
	*body_len = used;
	return body;
}

/* "BASE/ingest?name=SERVICE{k=v,...}&from=&until=&format=pprof" */
static char *pyroscope_url(CURL *easy, const struct target *t, const struct upload_job *j)
{
	char name[2048], *esc, *url;
	size_t used = (size_t)snprintf(name, sizeof(name), "%s{", j->service);

	for (size_t i = 0; i < j->nlabels && used < sizeof(name); i++)
		used += (size_t)snprintf(name + used, sizeof(name) - used, "%s%s=%s", i ? "," : "",
					 j->label_names[i], j->label_values[i]);
	if (used + 2 > sizeof(name))
		return NULL;
	strcat(name, "}");
	if (!(esc = curl_easy_escape(easy, name, 0)))
		return NULL;
	if (asprintf(&url, "%s/ingest?name=%s&from=%lld&until=%lld&format=pprof&spyName=oomprof",
		     t->base, esc, (long long)j->from_s, (long long)j->until_s) < 0)
		url = NULL;
	curl_free(esc);
	return url;
}

static size_t keep_reply(char *data, size_t size, size_t n, void *ctx)
{
	struct transfer *x = ctx;
	size_t len = size * n, room = UPLOAD_REPLY_MAX - x->reply_len;

	memcpy(x->reply + x->reply_len, data, len < room ? len : room);
	x->reply_len += len < room ? len : room;
	x->reply[x->reply_len] = 0;
	return len;
}

static int setup_request(struct uploader *u, struct transfer *x, const struct target *t,
			 const struct upload_job *j, char *prof, size_t len)
{
	char *url = NULL, hdr[300];
	size_t body_len = len;

	if (t->format == UPLOAD_FORMAT_PYROSCOPE) {
		url = pyroscope_url(x->easy, t, j);
		x->body = prof;
		x->headers = curl_slist_append(NULL, "Content-Type: application/octet-stream");
		if (u->tenant) {
			snprintf(hdr, sizeof(hdr), "X-Scope-OrgID: %s", u->tenant);
			x->headers = curl_slist_append(x->headers, hdr);
		}
	} else {
		if (asprintf(&url, "%s/api/profiles/writeraw", t->base) < 0)
			url = NULL;
		x->body = parca_body(j, prof, len, &body_len);
		free(prof);
		x->headers = curl_slist_append(NULL, "Content-Type: application/json");
	}
	if (!url || !x->body || !x->headers) {
		free(url);
		return -ENOMEM;
	}
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT, (long)UPLOAD_CONNECT_TIMEOUT);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT, (long)UPLOAD_TIMEOUT);
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "oomprof");
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->error);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, keep_reply);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	return 0;
}

static void free_transfer(struct uploader *u, struct transfer *x)
{
	if (x->easy) {
		curl_multi_remove_handle(u->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	free(x->body);
	*x = (struct transfer){0};
}

static struct upload_job *find_job(struct uploader *u, const char *id, size_t *idx)
{
	for (size_t i = 0; i < u->queue.n; i++)
		if (!strcmp(u->queue.jobs[i]->id, id))
			return *idx = i, u->queue.jobs[i];
	return NULL;
}

static void retry_later(struct uploader *u, size_t i, const char *why)
{
	struct upload_job *j = u->queue.jobs[i];
	int64_t wait_s = (int64_t)1 << (j->attempts < 9 ? j->attempts : 9);

	if (wait_s > UPLOAD_MAX_BACKOFF_S)
		wait_s = UPLOAD_MAX_BACKOFF_S;
	j->attempts++;
	j->next_ms = mono_ms() + wait_s * 1000;
	queue_update(&u->queue, i);
	u->m->uploads[UPLOAD_RETRY]++;
	log_warn("upload of %s to %s failed (attempt %u): %s; next try in %llds", j->profile,
		 j->url, j->attempts, why, (long long)wait_s);
}

static void start_job(struct uploader *u, struct transfer *x, size_t i)
{
	struct upload_job *j = u->queue.jobs[i];
	const struct target *t = target_of(u, j->url);
	char *prof = NULL;
	size_t len = 0;
	int e = read_file(j->profile, &prof, &len);

	if (e) {
		log_warn("upload of %s to %s: the file cannot be read (%s); dropped from the queue",
			 j->profile, j->url, strerror(-e));
		u->m->uploads[UPLOAD_DROPPED]++;
		queue_remove(&u->queue, i);
		return;
	}
	*x = (struct transfer){.easy = curl_easy_init()};
	snprintf(x->job_id, sizeof(x->job_id), "%s", j->id);
	if (!x->easy || setup_request(u, x, t, j, prof, len) ||
	    curl_multi_add_handle(u->multi, x->easy) != CURLM_OK) {
		if (!x->body && t->format == UPLOAD_FORMAT_PYROSCOPE)
			free(prof);
		free_transfer(u, x);
		retry_later(u, i, "out of memory");
		return;
	}
	j->next_ms = INT64_MAX; /* in flight */
}

static void finish(struct uploader *u, struct transfer *x, CURLcode res)
{
	long status = 0;
	size_t i;
	struct upload_job *j = find_job(u, x->job_id, &i);
	char why[CURL_ERROR_SIZE + UPLOAD_REPLY_MAX + 32];

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (!j) {
		free_transfer(u, x);
		return;
	}
	if (res == CURLE_OK && status >= 200 && status < 300) {
		log_info("profile uploaded: %s to %s", j->profile, j->url);
		u->m->uploads[UPLOAD_OK]++;
		queue_remove(&u->queue, i);
	} else if (res == CURLE_OK && status >= 400 && status < 500 && status != 408 &&
		   status != 429) {
		log_warn("upload of %s to %s rejected: HTTP %ld %s; not retried", j->profile,
			 j->url, status, x->reply);
		u->m->uploads[UPLOAD_REJECTED]++;
		queue_remove(&u->queue, i);
	} else {
		if (res != CURLE_OK)
			snprintf(why, sizeof(why), "%s",
				 x->error[0] ? x->error : curl_easy_strerror(res));
		else
			snprintf(why, sizeof(why), "HTTP %ld %s", status, x->reply);
		why[strcspn(why, "\r\n")] = 0;
		retry_later(u, i, why);
	}
	free_transfer(u, x);
}

static struct transfer *free_xfer(struct uploader *u)
{
	for (int k = 0; k < UPLOAD_MAX_CONCURRENT; k++)
		if (!u->xfers[k].easy)
			return &u->xfers[k];
	return NULL;
}

void uploader_step(struct uploader *u)
{
	int running, left;
	CURLMsg *msg;
	struct transfer *x;
	int64_t now = mono_ms();

	curl_multi_perform(u->multi, &running);
	while ((msg = curl_multi_info_read(u->multi, &left)))
		if (msg->msg == CURLMSG_DONE) {
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &x);
			finish(u, x, msg->data.result);
		}
	for (size_t i = 0; i < u->queue.n && (x = free_xfer(u));) {
		size_t before = u->queue.n;
		if (u->queue.jobs[i]->next_ms > now) {
			i++;
			continue;
		}
		start_job(u, x, i);
		if (u->queue.n == before)
			i++;
	}
	curl_multi_perform(u->multi, &running);
}

int uploader_timeout_ms(const struct uploader *u)
{
	int64_t now = mono_ms(), soonest = -1;

	for (int k = 0; k < UPLOAD_MAX_CONCURRENT; k++)
		if (u->xfers[k].easy)
			return 20; /* a transfer in flight: keep it moving */
	for (size_t i = 0; i < u->queue.n; i++) {
		int64_t wait = u->queue.jobs[i]->next_ms - now;
		if (wait < 0)
			wait = 0;
		if (soonest < 0 || wait < soonest)
			soonest = wait;
	}
	return soonest > 1000 ? 1000 : (int)soonest;
}

size_t uploader_queued(const struct uploader *u)
{
	return u->queue.n;
}

void uploader_close(struct uploader *u)
{
	if (!u)
		return;
	for (int k = 0; k < UPLOAD_MAX_CONCURRENT; k++)
		free_transfer(u, &u->xfers[k]);
	if (u->multi)
		curl_multi_cleanup(u->multi);
	queue_close(&u->queue);
	curl_global_cleanup();
	free(u);
}
