#include "oomprof/base/httpserv.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct http_client {
	int fd; /* -1: free slot */
	int64_t deadline_ms;
	char req[HTTP_MAX_REQUEST];
	size_t req_len;
	char *out; /* head and body, once the request is complete */
	size_t out_len, out_sent;
};

struct http_server {
	int listen_fd, port;
	http_handler handler;
	void *ctx;
	struct http_client clients[HTTP_MAX_CLIENTS];
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Splits "host:port", "[v6]:port" or ":port". */
static int split_addr(const char *addr, char *host, size_t hlen, const char **port)
{
	const char *colon;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (!end || end[1] != ':' || (size_t)(end - addr - 1) >= hlen)
			return -EINVAL;
		memcpy(host, addr + 1, (size_t)(end - addr - 1));
		host[end - addr - 1] = 0;
		*port = end + 2;
		return 0;
	}
	colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= hlen)
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	*port = colon + 1;
	return **port ? 0 : -EINVAL;
}

static int bind_listen(const char *addr, int *port_out, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256];
	const char *port;
	int fd = -1, one = 1, e;

	if (split_addr(addr, host, sizeof(host), &port)) {
		snprintf(err, errlen, "'%s' is not HOST:PORT, [IPV6]:PORT or :PORT", addr);
		return -1;
	}
	if ((e = getaddrinfo(*host ? host : NULL, port, &hints, &res))) {
		snprintf(err, errlen, "%s: %s", addr, gai_strerror(e));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	*port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

struct http_server *http_server_open(const char *addr, http_handler h, void *ctx, char *err,
				     size_t errlen)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->handler = h;
	s->ctx = ctx;
	for (int i = 0; i < HTTP_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	s->listen_fd = bind_listen(addr, &s->port, err, errlen);
	if (s->listen_fd < 0) {
		free(s);
		return NULL;
	}
	return s;
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

static void drop(struct http_client *c)
{
	close(c->fd);
	free(c->out);
	*c = (struct http_client){.fd = -1};
}

static int free_slot(const struct http_server *s)
{
	for (int i = 0; i < HTTP_MAX_CLIENTS; i++)
		if (s->clients[i].fd < 0)
			return i;
	return -1;
}

/* Takes waiting connections while there is a slot; the rest wait in the backlog. */
static void accept_clients(struct http_server *s)
{
	int i;

	while ((i = free_slot(s)) >= 0) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		s->clients[i] =
		    (struct http_client){.fd = fd, .deadline_ms = mono_ms() + HTTP_TIMEOUT_MS};
	}
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Internal Server Error";
	}
}

static void respond(struct http_client *c, int status, const char *type, const char *body,
		    size_t len, bool head_only)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, reason(status), type, len);
	size_t body_len = head_only ? 0 : len;

	c->out = malloc((size_t)n + body_len);
	if (!c->out) {
		c->out_len = 0;
		return;
	}
	memcpy(c->out, head, (size_t)n);
	if (body_len)
		memcpy(c->out + n, body, body_len);
	c->out_len = (size_t)n + body_len;
	c->out_sent = 0;
}

static void respond_text(struct http_client *c, int status, const char *text)
{
	respond(c, status, "text/plain; charset=utf-8", text, strlen(text), false);
}

/* A complete request head is in c->req: answer it. */
static void handle_request(struct http_server *s, struct http_client *c)
{
	char method[8], target[1024];
	struct http_response r = {.status = 200, .content_type = "text/plain; charset=utf-8"};
	bool head;

	if (sscanf(c->req, "%7s %1023s HTTP/1.%*1[01]", method, target) != 2) {
		respond_text(c, 400, "bad request\n");
		return;
	}
	head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head) {
		respond_text(c, 405, "only GET\n");
		return;
	}
	target[strcspn(target, "?#")] = 0;
	s->handler(target, &r, s->ctx);
	respond(c, r.body ? r.status : 500, r.content_type, r.body ? r.body : "",
		r.body ? r.len : 0, head);
	free(r.body);
}

static void read_request(struct http_server *s, struct http_client *c)
{
	ssize_t n;

	while (!c->out) {
		n = read(c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			drop(c);
			return;
		}
		if (n < 0)
			return;
		c->req_len += (size_t)n;
		c->req[c->req_len] = 0;
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
			handle_request(s, c);
		else if (c->req_len == sizeof(c->req) - 1)
			respond_text(c, 431, "request too large\n");
		if (!c->out && c->req_len == sizeof(c->req) - 1) {
			drop(c); /* could not even allocate the answer */
			return;
		}
	}
}

static void write_response(struct http_client *c)
{
	while (c->out_sent < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break;
		c->out_sent += (size_t)n;
	}
	drop(c);
}

void http_server_step(struct http_server *s)
{
	int64_t now = mono_ms();

	accept_clients(s);
	for (int i = 0; i < HTTP_MAX_CLIENTS; i++) {
		struct http_client *c = &s->clients[i];
		if (c->fd < 0)
			continue;
		if (now > c->deadline_ms) {
			drop(c);
			continue;
		}
		if (!c->out)
			read_request(s, c);
		if (c->fd >= 0 && c->out)
			write_response(c);
	}
	accept_clients(s); /* slots freed above */
}

size_t http_server_pollfds(const struct http_server *s, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	if (max && free_slot(s) >= 0)
		fds[n++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
	for (int i = 0; i < HTTP_MAX_CLIENTS && n < max; i++)
		if (s->clients[i].fd >= 0)
			fds[n++] = (struct pollfd){.fd = s->clients[i].fd,
						   .events = s->clients[i].out ? POLLOUT : POLLIN};
	return n;
}

void http_server_close(struct http_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < HTTP_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0)
			drop(&s->clients[i]);
	close(s->listen_fd);
	free(s);
}
