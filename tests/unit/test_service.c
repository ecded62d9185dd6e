/* Unit tests of the service parts: options and configuration file, retention, the
 * upload queue, metrics rendering, the HTTP server, URL parsing, pod UIDs. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oomprof/base/httpserv.h"
#include "oomprof/base/options.h"
#include "oomprof/base/procinfo.h"
#include "oomprof/sink/metrics.h"
#include "oomprof/sink/queue.h"
#include "oomprof/sink/retention.h"
#include "oomprof/sink/upload.h"
#include "tests/unit/testhelp.h"

struct t_opts {
	const char *dir;
	bool verbose;
	int64_t count, size, rate;
	int color;
	struct opt_list urls;
};

static const char *const colors[] = {"red", "green", NULL};

#define O(f) offsetof(struct t_opts, f)
static const struct opt_def t_defs[] = {
    {"dir", 'd', OPT_STRING, O(dir), "DIR", "a directory"},
    {"verbose", 'v', OPT_BOOL, O(verbose), NULL, "more"},
    {"count", 0, OPT_INT, O(count), "N", "a count", .min = 0, .max = 100},
    {"size", 0, OPT_SIZE, O(size), "SIZE", "a size"},
    {"rate", 0, OPT_INT_IMPLIED, O(rate), "RATE", "a rate", .min = 1, .implied = 77},
    {"color", 0, OPT_CHOICE, O(color), "C", "a color", .choices = colors},
    {"url", 0, OPT_LIST, O(urls), "URL", "repeatable"},
    {0}};
#undef O

static const struct opt_command t_cmd = {"test", "usage: test\n", t_defs, NULL};

static char *write_tmp(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/oomprof-unit-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return NULL;
	}
	close(fd);
	return path;
}

/* Runs opts_parse with stderr sent to a file; returns the status and the message. */
static int parse_capture(char **argv, int argc, struct t_opts *o, struct opt_store *st, char *msg,
			 size_t len)
{
	char path[] = "/tmp/oomprof-unit-err-XXXXXX";
	int fd = mkstemp(path), saved = dup(2), rc;
	ssize_t n;

	fflush(stderr);
	dup2(fd, 2);
	rc = opts_parse(&t_cmd, o, st, argc, argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, msg, len - 1, 0);
	msg[n > 0 ? n : 0] = 0;
	close(fd);
	unlink(path);
	return rc;
}

TEST(options_config_then_flags_win)
{
	char *path = write_tmp("# comment\n\n dir = /from/file \nverbose = yes\ncount = 5\n"
			       "size = 64K\nrate = yes\ncolor = green\nurl = a\nurl = b\n");
	struct t_opts o = {.dir = "default"};
	struct opt_store st = {0};
	char cfg[80], msg[512];

	REQUIRE(path);
	snprintf(cfg, sizeof(cfg), "--config=%s", path);
	char *argv[] = {"test", cfg, "--count", "9", "--url", "c", "-d", "/flag", NULL};
	CHECK_EQ_U64(parse_capture(argv, 8, &o, &st, msg, sizeof(msg)), 0);
	CHECK_STR(o.dir, "/flag");
	CHECK(o.verbose);
	CHECK_EQ_U64(o.count, 9);
	CHECK_EQ_U64(o.size, 65536);
	CHECK_EQ_U64(o.rate, 77);
	CHECK_EQ_U64(o.color, 1);
	CHECK_EQ_U64(o.urls.n, 1); /* the flag replaced the file's two */
	CHECK_STR(o.urls.v[0], "c");
	opts_free(&st);

	struct t_opts o2 = {0};
	char *argv2[] = {"test", cfg, NULL};
	CHECK_EQ_U64(parse_capture(argv2, 2, &o2, &st, msg, sizeof(msg)), 0);
	CHECK_EQ_U64(o2.urls.n, 2);
	CHECK_STR(o2.urls.v[1], "b");
	CHECK_STR(o2.dir, "/from/file");
	opts_free(&st);
	unlink(path);
}

/* Each bad file must fail with its line number and a reason. */
TEST(options_config_errors_name_the_line)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"dir = x\nbogus = 1\n", ":2: unknown key 'bogus'"},
	    {"count = 7\ncount = 101\n", ":2: count must be between 0 and 100, not 101"},
	    {"\n\nsize = 12Q\n", ":3: '12Q' is not a size"},
	    {"verbose = maybe\n", ":1: verbose takes yes or no, not 'maybe'"},
	    {"color = blue\n", ":1: color takes one of: red green (not 'blue')"},
	    {"just words\n", ":1: expected 'key = value'"},
	    {"count =\n", ":1: count has no value"},
	    {"rate = -5\n", ":1: rate must be at least 1, not -5"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = write_tmp(cases[i].text), cfg[80], msg[512];
		struct t_opts o = {0};
		struct opt_store st = {0};
		REQUIRE(path);
		snprintf(cfg, sizeof(cfg), "--config=%s", path);
		char *argv[] = {"test", cfg, NULL};
		CHECK_EQ_U64(parse_capture(argv, 2, &o, &st, msg, sizeof(msg)), 2);
		CHECK_MSG(strstr(msg, path) && strstr(msg, cases[i].want),
			  "case %zu: got '%s', want '%s'", i, msg, cases[i].want);
		opts_free(&st);
		unlink(path);
	}
}

TEST(options_flag_errors_and_missing_config)
{
	struct t_opts o = {0};
	struct opt_store st = {0};
	char msg[512];
	char *a1[] = {"test", "--count", "x", NULL}, *a2[] = {"test", "--nope", NULL},
	     *a3[] = {"test", "--config", "/nonexistent/oomprof.conf", NULL},
	     *a4[] = {"test", "--rate=5", "--no-config", NULL};

	CHECK_EQ_U64(parse_capture(a1, 3, &o, &st, msg, sizeof(msg)), 2);
	CHECK(strstr(msg, "--count: 'x' is not a whole number"));
	CHECK_EQ_U64(parse_capture(a2, 2, &o, &st, msg, sizeof(msg)), 2);
	CHECK(strstr(msg, "unknown option '--nope'"));
	CHECK_EQ_U64(parse_capture(a3, 3, &o, &st, msg, sizeof(msg)), 2);
	CHECK(strstr(msg, "cannot read /nonexistent/oomprof.conf"));
	CHECK_EQ_U64(parse_capture(a4, 3, &o, &st, msg, sizeof(msg)), 0);
	CHECK_EQ_U64(o.rate, 5);
	opts_free(&st);
}

TEST(options_sizes)
{
	int64_t v;

	CHECK(opts_parse_size("512", &v) == 0 && v == 512);
	CHECK(opts_parse_size("1k", &v) == 0 && v == 1024);
	CHECK(opts_parse_size("100M", &v) == 0 && v == 100LL << 20);
	CHECK(opts_parse_size("2GiB", &v) == 0 && v == 2LL << 30);
	CHECK(opts_parse_size("3TB", &v) == 0 && v == 3LL << 40);
	CHECK(opts_parse_size("", &v) == -EINVAL);
	CHECK(opts_parse_size("-1", &v) == -EINVAL);
	CHECK(opts_parse_size("1X", &v) == -EINVAL);
	CHECK(opts_parse_size("1MM", &v) == -EINVAL);
	CHECK(opts_parse_size("99999999999T", &v) == -EINVAL);
}

static int make_file(const char *dir, const char *name, size_t bytes)
{
	char path[512], buf[1024] = {0};
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	for (size_t left = bytes; left;) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);
		if (write(fd, buf, n) != (ssize_t)n)
			break;
		left -= n;
	}
	close(fd);
	return 0;
}

static bool exists(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

TEST(retention_names)
{
	CHECK(retention_is_profile_name("api-23593-20261122T012826.998Z.pb.gz"));
	CHECK(retention_is_profile_name("my.app_x-1-20200101T000000.000Z.pb.gz"));
	CHECK(!retention_is_profile_name("api-20261122T012826.998Z.pb.gz")); /* no pid */
	CHECK(!retention_is_profile_name("-1-20261122T012826.998Z.pb.gz"));  /* no comm */
	CHECK(!retention_is_profile_name("api-1-20261122T012826.998Z.pb"));
	CHECK(!retention_is_profile_name("api-1-2026112XT012826.998Z.pb.gz"));
	CHECK(!retention_is_profile_name("a b-1-20261122T012826.998Z.pb.gz"));
	CHECK(!retention_is_profile_name("notes.txt"));
}

TEST(retention_deletes_oldest_profiles_only)
{
	char dir[] = "/tmp/oomprof-unit-ret-XXXXXX", link[600];
	struct retention_result res;

	REQUIRE(mkdtemp(dir));
	/* Names sort by their time stamp, not by comm or pid. */
	make_file(dir, "zzz-9-20200101T000000.000Z.pb.gz", 1000);
	make_file(dir, "aaa-1-20210101T000000.000Z.pb.gz", 1000);
	make_file(dir, "mmm-5-20220101T000000.000Z.pb.gz", 1000);
	make_file(dir, "new-2-20230101T000000.000Z.pb.gz", 1000);
	make_file(dir, "notes.txt", 5000);
	snprintf(link, sizeof(link), "%s/lnk-3-20190101T000000.000Z.pb.gz", dir);
	CHECK(symlink("notes.txt", link) == 0);

	struct retention r = {.dir = dir, .max_profiles = 3};
	REQUIRE(retention_prune(&r, NULL, &res) == 0);
	CHECK_EQ_U64(res.deleted, 1);
	CHECK_EQ_U64(res.kept, 3);
	CHECK(!exists(dir, "zzz-9-20200101T000000.000Z.pb.gz"));
	CHECK(exists(dir, "notes.txt"));
	CHECK(exists(dir, "lnk-3-20190101T000000.000Z.pb.gz")); /* not a regular file */

	/* max-bytes: 2500 leaves two 1000-byte files; `keep` is never deleted. */
	r = (struct retention){.dir = dir, .max_bytes = 2500};
	REQUIRE(retention_prune(&r, "aaa-1-20210101T000000.000Z.pb.gz", &res) == 0);
	CHECK_EQ_U64(res.deleted, 1);
	CHECK_EQ_U64(res.kept_bytes, 2000);
	CHECK(exists(dir, "aaa-1-20210101T000000.000Z.pb.gz"));
	CHECK(!exists(dir, "mmm-5-20220101T000000.000Z.pb.gz"));
	CHECK(exists(dir, "new-2-20230101T000000.000Z.pb.gz"));

	/* min-free: more than any file system has. */
	uint64_t free_bytes = 0;
	r = (struct retention){.dir = dir, .min_free = INT64_MAX};
	CHECK(retention_room(&r, &free_bytes) == -ENOSPC);
	CHECK(free_bytes > 0);
	r.min_free = 1;
	CHECK(retention_room(&r, &free_bytes) == 0);

	unlink(link);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

TEST(queue_survives_reopen_and_stays_bounded)
{
	char dir[] = "/tmp/oomprof-unit-q-XXXXXX", cmd[600];
	struct upload_queue q;
	struct upload_job j = {0};

	REQUIRE(mkdtemp(dir));
	REQUIRE(queue_open(&q, dir, 2) == 0);
	snprintf(j.url, sizeof(j.url), "pyroscope+http://127.0.0.1:1");
	snprintf(j.service, sizeof(j.service), "svc");
	j.from_s = j.until_s = 1700000000;
	job_add_label(&j, "host", "h1");
	job_add_label(&j, "trigger", "oom-kill");
	for (int i = 0; i < 3; i++) {
		snprintf(j.profile, sizeof(j.profile), "/p/%d", i);
		CHECK_EQ_U64(queue_add(&q, &j), i == 2 ? 1 : 0); /* the third drops the first */
	}
	CHECK_EQ_U64(q.n, 2);
	q.jobs[0]->attempts = 4;
	CHECK(queue_update(&q, 0) == 0);
	queue_close(&q);
	make_file(dir, "garbage.job", 10); /* not ours: deleted on open */

	REQUIRE(queue_open(&q, dir, 2) == 0);
	REQUIRE(q.n == 2);
	CHECK_STR(q.jobs[0]->profile, "/p/1");
	CHECK_STR(q.jobs[1]->profile, "/p/2");
	CHECK_EQ_U64(q.jobs[0]->attempts, 4);
	CHECK_EQ_U64(q.jobs[1]->nlabels, 2);
	CHECK_STR(q.jobs[1]->label_values[1], "oom-kill");
	CHECK_EQ_U64(q.jobs[1]->from_s, 1700000000);
	CHECK(!exists(dir, "garbage.job"));
	queue_remove(&q, 0);
	queue_close(&q);
	REQUIRE(queue_open(&q, dir, 1) == 0);
	CHECK_EQ_U64(q.n, 1);
	queue_close(&q);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

TEST(upload_urls)
{
	enum upload_format f;
	char base[128];

	CHECK(upload_parse_url("pyroscope+https://p.example:4040/", UPLOAD_FORMAT_NONE, &f, base,
			       sizeof(base)) == 0);
	CHECK(f == UPLOAD_FORMAT_PYROSCOPE);
	CHECK_STR(base, "https://p.example:4040");
	CHECK(upload_parse_url("parca+http://127.0.0.1:7070", UPLOAD_FORMAT_NONE, &f, base,
			       sizeof(base)) == 0);
	CHECK(f == UPLOAD_FORMAT_PARCA);
	CHECK(upload_parse_url("http://x:1", UPLOAD_FORMAT_PARCA, &f, base, sizeof(base)) == 0);
	CHECK(f == UPLOAD_FORMAT_PARCA);
	CHECK(upload_parse_url("http://x:1", UPLOAD_FORMAT_NONE, &f, base, sizeof(base)) < 0);
	CHECK(upload_parse_url("pyroscope+ftp://x", UPLOAD_FORMAT_NONE, &f, base, sizeof(base)) <
	      0);
	CHECK(upload_parse_url("parca+http://", UPLOAD_FORMAT_NONE, &f, base, sizeof(base)) < 0);
}

TEST(pod_uid_from_cgroup_paths)
{
	char pod[40];

	pod_uid_from_cgroup("/kubepods/burstable/pod1b2c3d4e-0000-1111-2222-333344445555/abc", pod,
			    sizeof(pod));
	CHECK_STR(pod, "1b2c3d4e-0000-1111-2222-333344445555");
	pod_uid_from_cgroup("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-"
			    "pod1b2c3d4e_0000_1111_2222_333344445555.slice/cri-containerd-x.scope",
			    pod, sizeof(pod));
	CHECK_STR(pod, "1b2c3d4e-0000-1111-2222-333344445555");
	pod_uid_from_cgroup("/system.slice/podman.service", pod, sizeof(pod));
	CHECK_STR(pod, "");
}

TEST(metrics_exposition)
{
	struct metrics m = {.oom_kills = 3, .go_victims = 2, .watched = 7};
	struct capture_stats st = {0};
	char *out;
	size_t len;

	m.profiles[RAW_COMPLETE] = 1;
	m.profiles[RAW_TRUNCATED] = 1;
	m.lost[LOST_LOW_DISK] = 1;
	metrics_observe_latency(&m, 0.02);  /* le 0.025 */
	metrics_observe_latency(&m, 100.0); /* only +Inf */
	st.c[CAPTURE_C_EVENTS_DROPPED] = 4;
	REQUIRE(metrics_render(&m, &st, "1.2.3", &out, &len) == 0);
	CHECK(strlen(out) == len);
	CHECK(strstr(out, "oomprof_build_info{version=\"1.2.3\"} 1\n"));
	CHECK(strstr(out, "# TYPE oomprof_oom_kills_total counter\noomprof_oom_kills_total 3\n"));
	CHECK(strstr(out, "oomprof_profiles_written_total{status=\"complete\"} 1\n"));
	CHECK(strstr(out, "oomprof_profiles_written_total{status=\"truncated\"} 1\n"));
	CHECK(strstr(out, "oomprof_captures_lost_total{reason=\"low_disk\"} 1\n"));
	CHECK(strstr(out, "oomprof_kill_to_file_seconds_bucket{le=\"0.01\"} 0\n"));
	CHECK(strstr(out, "oomprof_kill_to_file_seconds_bucket{le=\"0.025\"} 1\n"));
	CHECK(strstr(out, "oomprof_kill_to_file_seconds_bucket{le=\"30\"} 1\n"));
	CHECK(strstr(out, "oomprof_kill_to_file_seconds_bucket{le=\"+Inf\"} 2\n"));
	CHECK(strstr(out, "oomprof_kill_to_file_seconds_count 2\n"));
	CHECK(strstr(out, "oomprof_watched_processes 7\n"));
	CHECK(strstr(out, "oomprof_ringbuf_drops_total{ring=\"events\"} 4\n"));
	/* Every line is a comment or "name[{labels}] value". */
	for (char *line = out, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		REQUIRE(nl);
		if (*line != '#')
			CHECK_MSG(strchr(line, ' ') && strchr(line, ' ') < nl &&
				      !strncmp(line, "oomprof_", 8),
				  "bad line: %.*s", (int)(nl - line), line);
	}
	free(out);
}

static void hello(const char *path, struct http_response *r, void *ctx)
{
	(void)ctx;
	if (strcmp(path, "/metrics")) {
		r->status = 404;
		r->body = strdup("no\n");
	} else {
		r->body = strdup("x 1\n");
	}
	r->len = strlen(r->body);
}

/* Sends req to the server (driving it), returns what came back. */
static void http_exchange(struct http_server *s, const char *req, size_t len, char *reply,
			  size_t rlen)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(http_server_port(s)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;

	reply[0] = 0;
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (size_t sent = 0; sent < len;) {
		ssize_t n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
		if (n > 0)
			sent += (size_t)n;
		else if (errno != EAGAIN)
			break;
		http_server_step(s);
	}
	for (int i = 0; i < 2000 && got + 1 < rlen; i++) {
		ssize_t n = recv(fd, reply + got, rlen - 1 - got, 0);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
		http_server_step(s);
		usleep(1000);
	}
	reply[got] = 0;
out:
	if (fd >= 0)
		close(fd);
}

TEST(http_server_answers_and_bounds)
{
	char err[256], reply[4096], big[HTTP_MAX_REQUEST + 100];
	struct http_server *s = http_server_open("127.0.0.1:0", hello, NULL, err, sizeof(err));
	const char *get = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

	REQUIRE(s);
	http_exchange(s, get, strlen(get), reply, sizeof(reply));
	CHECK_MSG(!strncmp(reply, "HTTP/1.1 200 OK\r\n", 17), "got %s", reply);
	CHECK(strstr(reply, "Content-Length: 4\r\n") && strstr(reply, "\r\n\r\nx 1\n"));
	http_exchange(s, "GET /x HTTP/1.0\r\n\r\n", 19, reply, sizeof(reply));
	CHECK(!strncmp(reply, "HTTP/1.1 404", 12));
	http_exchange(s, "POST /metrics HTTP/1.1\r\n\r\n", 26, reply, sizeof(reply));
	CHECK(!strncmp(reply, "HTTP/1.1 405", 12));
	http_exchange(s, "hello\r\n\r\n", 9, reply, sizeof(reply));
	CHECK(!strncmp(reply, "HTTP/1.1 400", 12));
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	http_exchange(s, big, sizeof(big), reply, sizeof(reply));
	CHECK_MSG(!strncmp(reply, "HTTP/1.1 431", 12), "got %.40s", reply);
	http_server_close(s);

	CHECK(!http_server_open("nonsense", hello, NULL, err, sizeof(err)));
	CHECK(strstr(err, "HOST:PORT"));
}
