/*
 * A small HTTP/1.x server for the daemon's metrics endpoint, driven from its poll loop:
 * every socket is non-blocking, so serving never delays a capture. Bounded everywhere:
 * at most HTTP_MAX_CLIENTS connections (more wait in the kernel's backlog), requests of
 * at most HTTP_MAX_REQUEST bytes, HTTP_TIMEOUT_MS to send a request and read the answer,
 * one request per connection (Connection: close). GET and HEAD only.
 *
 *   srv = http_server_open("127.0.0.1:9464", handler, ctx, err, sizeof(err));
 *   n = http_server_pollfds(srv, fds, max);    add to poll()
 *   http_server_step(srv);                     after poll() returns, whatever it says
 */
#ifndef OOMPROF_HTTPSERV_H
#define OOMPROF_HTTPSERV_H

#include <poll.h>
#include <stddef.h>

#define HTTP_MAX_CLIENTS 8
#define HTTP_MAX_REQUEST 8192
#define HTTP_TIMEOUT_MS	 10000

struct http_response {
	int status; /* 200 unless the handler says otherwise */
	const char *content_type;
	char *body; /* malloc'd by the handler; freed by the server */
	size_t len;
};

/* Fills resp for a GET of path (without the query). */
typedef void (*http_handler)(const char *path, struct http_response *resp, void *ctx);

struct http_server;

/* addr: "HOST:PORT", "[V6]:PORT" or ":PORT" (every address). NULL with err filled. */
struct http_server *http_server_open(const char *addr, http_handler h, void *ctx, char *err,
				     size_t errlen);
/* The port actually bound (useful with port 0). */
int http_server_port(const struct http_server *s);
/* The descriptors to poll, at most max (1 + HTTP_MAX_CLIENTS is always enough). */
size_t http_server_pollfds(const struct http_server *s, struct pollfd *fds, size_t max);
/* Accepts, reads, answers and times out connections; never blocks. */
void http_server_step(struct http_server *s);
/* Accepts NULL. */
void http_server_close(struct http_server *s);

#endif
