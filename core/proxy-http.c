#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"

/*
 * HTTP/1.x as the proxy needs it: the request head (checked strictly, since
 * the agent writes it, and rewritten for the origin server), the response
 * head (rewritten so the client knows whether its connection carries on),
 * and where each message ends, so that no byte of a second request ever
 * reaches the server of the first one.
 */

#define HTTP_RESPONSE_LINES 256

/* The chunked syntax (RFC 9112 §7.1), one state per place in it. */
enum http_chunk_state {
	CHUNK_SIZE_FIRST,        /* the first hex digit of a size */
	CHUNK_SIZE,              /* more hex digits */
	CHUNK_EXT,               /* ";ext" up to the line's end */
	CHUNK_SIZE_LF,           /* the '\n' after "\r" */
	CHUNK_DATA,
	CHUNK_DATA_CR,           /* the CRLF after the data */
	CHUNK_DATA_LF,
	CHUNK_TRAILER_START,     /* a trailer line, or the empty last line */
	CHUNK_TRAILER,
	CHUNK_TRAILER_LF,        /* the '\n' of a trailer line after '\r' */
	CHUNK_END_LF,            /* the '\n' of the empty last line */
};

struct http_field {
	const char *name;
	size_t nlen;
	const char *value;
	size_t vlen;
};

struct http_head {
	const char *line;        /* the start line */
	size_t len;
	struct http_field *fields;
	size_t nfields;
};

static const char http_tchar[] = "!#$%&'*+-.^_`|~";

void
proxy_frame_init(struct proxy_frame *f, enum proxy_frame_kind kind,
    uint64_t length)
{
	memset(f, 0, sizeof *f);
	f->kind = kind;
	f->left = length;
	f->state = CHUNK_SIZE_FIRST;
	f->done = kind == PROXY_FRAME_EMPTY ||
	    (kind == PROXY_FRAME_LENGTH && length == 0);
}

static int
http_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One byte of the chunked syntax outside the data: 0, or -1 when wrong. */
static int
http_chunk_byte(struct proxy_frame *f, int c)
{
	int d;

	if (++f->line > PROXY_HEAD_MAX)
		return -1;
	switch (f->state) {
	case CHUNK_SIZE_FIRST:
	case CHUNK_SIZE:
		if ((d = http_hex(c)) != -1) {
			if (f->left >> 56 != 0)
				return -1;      /* over 2^60 bytes */
			f->left = f->left * 16 + (uint64_t)d;
			f->state = CHUNK_SIZE;
			return 0;
		}
		if (f->state == CHUNK_SIZE_FIRST)
			return -1;
		if (c == ';' || c == ' ' || c == '\t')
			f->state = CHUNK_EXT;
		else if (c == '\r')
			f->state = CHUNK_SIZE_LF;
		else if (c == '\n')
			goto size_done;
		else
			return -1;
		return 0;
	case CHUNK_EXT:
		if (c == '\r')
			f->state = CHUNK_SIZE_LF;
		else if (c == '\n')
			goto size_done;
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
		return 0;
	case CHUNK_SIZE_LF:
		if (c != '\n')
			return -1;
		goto size_done;
	case CHUNK_DATA_CR:
		if (c == '\n') {
			f->state = CHUNK_SIZE_FIRST;
			f->line = 0;
			return 0;
		}
		if (c != '\r')
			return -1;
		f->state = CHUNK_DATA_LF;
		return 0;
	case CHUNK_DATA_LF:
		if (c != '\n')
			return -1;
		f->state = CHUNK_SIZE_FIRST;
		f->line = 0;
		return 0;
	case CHUNK_TRAILER_START:
		if (c == '\n')
			f->done = 1;
		else if (c == '\r')
			f->state = CHUNK_END_LF;
		else if (c == ' ' || c == '\t' || c < 0x20 || c == 0x7f)
			return -1;
		else
			f->state = CHUNK_TRAILER;
		return 0;
	case CHUNK_TRAILER:
		if (c == '\n')
			f->state = CHUNK_TRAILER_START;
		else if (c == '\r')
			f->state = CHUNK_TRAILER_LF;
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
		return 0;
	case CHUNK_TRAILER_LF:
		if (c != '\n')
			return -1;
		f->state = CHUNK_TRAILER_START;
		return 0;
	case CHUNK_END_LF:
		if (c != '\n')
			return -1;
		f->done = 1;
		return 0;
	}
	return -1;

size_done:
	if (f->left == 0) {
		f->state = CHUNK_TRAILER_START;   /* the trailer counts on */
		return 0;
	}
	f->state = CHUNK_DATA;
	f->line = 0;
	return 0;
}

ssize_t
proxy_frame_scan(struct proxy_frame *f, const char *p, size_t n)
{
	size_t i = 0, take;

	if (f->done)
		return 0;
	switch (f->kind) {
	case PROXY_FRAME_EMPTY:
		return 0;
	case PROXY_FRAME_CLOSE:
		return (ssize_t)n;
	case PROXY_FRAME_LENGTH:
		take = f->left < n ? (size_t)f->left : n;
		f->left -= take;
		f->done = f->left == 0;
		return (ssize_t)take;
	case PROXY_FRAME_CHUNKED:
		break;
	}
	while (i < n && !f->done) {
		if (f->state == CHUNK_DATA) {
			take = f->left < n - i ? (size_t)f->left : n - i;
			f->left -= take;
			i += take;
			if (f->left == 0)
				f->state = CHUNK_DATA_CR;
			continue;
		}
		if (http_chunk_byte(f, (unsigned char)p[i]) != 0)
			return -1;
		i++;
	}
	return (ssize_t)i;
}

/* Length of the head at p through its empty line; 0 when not all there. */
static size_t
http_head_length(const char *p, size_t n)
{
	const char *nl = p, *end = p + n;

	while (nl < end && (nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL) {
		nl++;
		if (nl < end && nl[0] == '\n')
			return (size_t)(nl + 1 - p);
		if (nl + 1 < end && nl[0] == '\r' && nl[1] == '\n')
			return (size_t)(nl + 2 - p);
	}
	return 0;
}

static int
http_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return 1;
}

static int
http_is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr(http_tchar, c));
}

static int
http_name_is(const struct http_field *f, const char *name)
{
	return f->nlen == strlen(name) &&
	    strncasecmp(f->name, name, f->nlen) == 0;
}

/* 1 when the comma-separated list holds token, compared without case. */
static int
http_list_has(const char *v, size_t len, const char *token, size_t tlen)
{
	size_t i = 0, start, end;

	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end - start == tlen && tlen != 0 &&
		    strncasecmp(v + start, token, tlen) == 0)
			return 1;
	}
	return 0;
}

/*
 * Splits the head (len bytes, through its empty line) into its start line
 * and fields. Lines end in "\r\n" or "\n"; any other control byte, a
 * folded line or a field without a name is an error.
 */
static int
http_head_split(const char *p, size_t len, struct http_head *h, size_t max,
    char **why)
{
	const char *end = p + len, *line = p, *nl, *colon, *v, *ve;
	size_t n;

	h->nfields = 0;
	h->line = NULL;
	while ((nl = memchr(line, '\n', (size_t)(end - line))) != NULL) {
		n = (size_t)(nl - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)line[i];

			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				*why = xasprintf("control byte 0x%02x in the "
				    "head", c);
				return -1;
			}
		}
		if (h->line == NULL) {
			h->line = line;
			h->len = n;
			line = nl + 1;
			continue;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			*why = xstrdup("folded header line");
			return -1;
		}
		if (h->nfields == max) {
			*why = xasprintf("more than %zu header lines", max);
			return -1;
		}
		colon = memchr(line, ':', n);
		if (colon == NULL || colon == line) {
			*why = xstrdup("header line without a name");
			return -1;
		}
		for (const char *c = line; c < colon; c++) {
			if (!http_is_tchar((unsigned char)*c)) {
				*why = xstrdup("bad header name");
				return -1;
			}
		}
		v = colon + 1;
		ve = line + n;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		h->fields[h->nfields++] = (struct http_field){
			.name = line,
			.nlen = (size_t)(colon - line),
			.value = v,
			.vlen = (size_t)(ve - v),
		};
		line = nl + 1;
	}
	if (h->line == NULL) {
		*why = xstrdup("empty request");
		return -1;
	}
	return 0;
}

/* Content-Length's value: 0, or -1 when it is not a plain number. */
static int
http_length(const struct http_field *f, uint64_t *out)
{
	uint64_t v = 0;

	if (f->vlen == 0 || f->vlen > 18)
		return -1;
	for (size_t i = 0; i < f->vlen; i++) {
		if (f->value[i] < '0' || f->value[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(f->value[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * How the body of a message with these fields ends: Transfer-Encoding
 * chunked, Content-Length, or neither. 0, or -1 with *why: both at once,
 * two lengths that differ, another transfer coding (*other set, so that a
 * response can still be read until the server closes).
 */
static int
http_body(const struct http_head *h, struct proxy_frame *f, int *other,
    char **why)
{
	const struct http_field *te = NULL;
	uint64_t length = 0, v;
	int have_length = 0;

	*other = 0;
	for (size_t i = 0; i < h->nfields; i++) {
		const struct http_field *fl = &h->fields[i];

		if (http_name_is(fl, "transfer-encoding")) {
			if (te != NULL) {
				*why = xstrdup("more than one Transfer-Encoding");
				return -1;
			}
			te = fl;
		} else if (http_name_is(fl, "content-length")) {
			if (http_length(fl, &v) != 0) {
				*why = xstrdup("bad Content-Length");
				return -1;
			}
			if (have_length && v != length) {
				*why = xstrdup("Content-Lengths that differ");
				return -1;
			}
			length = v;
			have_length = 1;
		}
	}
	if (te != NULL && have_length) {
		*why = xstrdup("both Transfer-Encoding and Content-Length");
		return -1;
	}
	if (te != NULL) {
		if (te->vlen != 7 || strncasecmp(te->value, "chunked", 7) != 0) {
			*other = 1;
			*why = xasprintf("Transfer-Encoding '%.*s' is not "
			    "supported", (int)(te->vlen > 64 ? 64 : te->vlen),
			    te->value);
			return -1;
		}
		proxy_frame_init(f, PROXY_FRAME_CHUNKED, 0);
	} else if (have_length)
		proxy_frame_init(f, PROXY_FRAME_LENGTH, length);
	else
		proxy_frame_init(f, PROXY_FRAME_EMPTY, 0);
	return 0;
}

/* The port after "host:" (len bytes): 1-65535, else -1. */
static int
http_port(const char *s, size_t len)
{
	unsigned v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

/* Splits an authority (host[:port], [v6][:port]) into req's host and port;
 * dflt when it has none (0: the port is required). */
static int
http_authority(const char *s, size_t len, int dflt, struct proxy_request *req,
    char **why)
{
	const char *colon = NULL, *close;
	int port = dflt;

	if (memchr(s, '@', len) != NULL) {
		*why = xstrdup("user name in the URL");
		return -1;
	}
	if (len > 0 && s[0] == '[') {
		close = memchr(s, ']', len);
		if (close != NULL && close + 1 < s + len) {
			if (close[1] != ':') {
				*why = xstrdup("bad host in the URL");
				return -1;
			}
			colon = close + 1;
		}
	} else
		colon = memchr(s, ':', len);
	if (colon != NULL) {
		port = colon + 1 == s + len && dflt != 0 ? dflt :
		    http_port(colon + 1, (size_t)(s + len - colon - 1));
		len = (size_t)(colon - s);
	}
	if (port <= 0) {
		*why = xstrdup(colon == NULL ? "no port" : "bad port");
		return -1;
	}
	free(req->host);
	req->host = proxy_host_normalise(s, len);
	if (req->host == NULL) {
		*why = xasprintf("bad host '%.*s'", (int)(len > 64 ? 64 : len),
		    s);
		return -1;
	}
	req->port = (uint16_t)port;
	return 0;
}

/* Fields that end at the proxy; those the client names in Connection too,
 * except the ones the proxy itself frames the body by. */
static int
http_hop_by_hop(const struct http_head *h, const struct http_field *f)
{
	static const char *const hop[] = {
		"host", "connection", "keep-alive", "te", "upgrade",
	};

	for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++) {
		if (http_name_is(f, hop[i]))
			return 1;
	}
	if (f->nlen >= 6 && strncasecmp(f->name, "proxy-", 6) == 0)
		return 1;
	if (http_name_is(f, "content-length") ||
	    http_name_is(f, "transfer-encoding"))
		return 0;
	for (size_t i = 0; i < h->nfields; i++) {
		const struct http_field *c = &h->fields[i];

		if (http_name_is(c, "connection") &&
		    http_list_has(c->value, c->vlen, f->name, f->nlen))
			return 1;
	}
	return 0;
}

/* The request line: method, target, version; 0 or -1 with *status. */
static int
http_request_line(const struct http_head *h, const char **target,
    size_t *tlen, int *minor, int *status, char **why)
{
	const char *l = h->line, *end = h->line + h->len, *sp1, *sp2;

	sp1 = memchr(l, ' ', h->len);
	sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) :
	    NULL;
	if (sp1 == NULL || sp2 == NULL || sp1 == l || sp2 == sp1 + 1) {
		*status = 400;
		*why = xstrdup("bad request line");
		return -1;
	}
	for (const char *c = l; c < sp1; c++) {
		if (!http_is_tchar((unsigned char)*c)) {
			*status = 400;
			*why = xstrdup("bad method");
			return -1;
		}
	}
	for (const char *c = sp1 + 1; c < sp2; c++) {
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
			*status = 400;
			*why = xstrdup("bad request target");
			return -1;
		}
	}
	if (end - sp2 - 1 == 8 && strncmp(sp2 + 1, "HTTP/1.", 7) == 0 &&
	    (sp2[8] == '0' || sp2[8] == '1'))
		*minor = sp2[8] - '0';
	else {
		*status = end - sp2 - 1 > 5 && strncmp(sp2 + 1, "HTTP/", 5) == 0 ?
		    505 : 400;
		*why = xstrdup("not HTTP/1.0 or HTTP/1.1");
		return -1;
	}
	*target = sp1 + 1;
	*tlen = (size_t)(sp2 - sp1 - 1);
	return 0;
}

/* The head a plain request goes upstream with. */
static void
http_request_rewrite(const struct http_head *h, const char *method,
    size_t mlen, const char *path, size_t plen, int minor,
    struct proxy_request *req)
{
	struct buf *out = &req->head;

	buf_reset(out);
	buf_printf(out, "%.*s ", (int)mlen, method);
	if (plen == 0 || path[0] != '/')
		buf_addch(out, '/');
	buf_add(out, path, plen);
	buf_printf(out, " HTTP/1.%d\r\nHost: %s", minor, req->host);
	if (req->port != 80)
		buf_printf(out, ":%u", req->port);
	buf_addstr(out, "\r\n");
	for (size_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];

		if (http_hop_by_hop(h, f))
			continue;
		buf_add(out, f->name, f->nlen);
		buf_addstr(out, ": ");
		buf_add(out, f->value, f->vlen);
		buf_addstr(out, "\r\n");
	}
	buf_addstr(out, "Connection: close\r\n\r\n");
}

void
proxy_request_init(struct proxy_request *req)
{
	memset(req, 0, sizeof *req);
	buf_init(&req->head);
}

void
proxy_request_free(struct proxy_request *req)
{
	free(req->host);
	buf_free(&req->head);
	proxy_request_init(req);
}

/* A plain request's target: http://authority[/path][?query][#fragment]. */
static int
http_absolute(const char *t, size_t tlen, struct proxy_request *req,
    const char **path, size_t *plen, int *status, char **why)
{
	const char *a, *end = t + tlen, *hash;
	size_t alen;

	*status = 400;
	if (tlen >= 8 && strncasecmp(t, "https://", 8) == 0) {
		*why = xstrdup("https goes through CONNECT");
		return -1;
	}
	if (tlen < 7 || strncasecmp(t, "http://", 7) != 0) {
		*why = xstrdup("not a proxy request (the target must be an "
		    "absolute http:// URL)");
		return -1;
	}
	a = t + 7;
	for (alen = 0; a + alen < end; alen++) {
		if (a[alen] == '/' || a[alen] == '?' || a[alen] == '#')
			break;
	}
	if (http_authority(a, alen, 80, req, why) != 0)
		return -1;
	*path = a + alen;
	hash = memchr(*path, '#', (size_t)(end - *path));
	*plen = (size_t)((hash != NULL ? hash : end) - *path);
	return 0;
}

int
proxy_request_parse(const char *p, size_t n, struct proxy_request *req,
    int *status, char **why)
{
	struct http_field fields[PROXY_HEAD_LINES];
	struct http_head h = { .fields = fields };
	const char *target, *path = NULL;
	size_t skip = 0, len, tlen, plen = 0, mlen;
	int minor, other;

	while (skip < n && (p[skip] == '\r' || p[skip] == '\n'))
		skip++;
	if (n > PROXY_HEAD_MAX)
		n = PROXY_HEAD_MAX;
	if (skip >= n || (len = http_head_length(p + skip, n - skip)) == 0) {
		if (n < PROXY_HEAD_MAX)
			return 0;
		*status = 431;
		*why = xasprintf("request head over %d bytes", PROXY_HEAD_MAX);
		return -1;
	}
	if (http_head_split(p + skip, len, &h, PROXY_HEAD_LINES, why) != 0) {
		*status = strncmp(*why, "more than", 9) == 0 ? 431 : 400;
		return -1;
	}
	if (http_request_line(&h, &target, &tlen, &minor, status, why) != 0)
		return -1;
	mlen = (size_t)(target - 1 - h.line);
	req->connect = mlen == 7 && strncmp(h.line, "CONNECT", 7) == 0;
	req->head_only = mlen == 4 && strncmp(h.line, "HEAD", 4) == 0;
	if (req->connect) {
		*status = 400;
		if (http_authority(target, tlen, 0, req, why) != 0)
			return -1;
		proxy_frame_init(&req->body, PROXY_FRAME_EMPTY, 0);
		return (int)(skip + len);
	}
	if (http_absolute(target, tlen, req, &path, &plen, status, why) != 0)
		return -1;
	if (http_body(&h, &req->body, &other, why) != 0) {
		*status = other ? 501 : 400;
		return -1;
	}
	req->keep_alive = minor == 1;
	for (size_t i = 0; i < h.nfields; i++) {
		const struct http_field *f = &h.fields[i];

		if ((http_name_is(f, "connection") ||
		    http_name_is(f, "proxy-connection")) &&
		    http_list_has(f->value, f->vlen, "close", 5))
			req->keep_alive = 0;
		if (http_name_is(f, "upgrade")) {
			*status = 501;
			*why = xstrdup("Upgrade is not supported (use CONNECT)");
			return -1;
		}
	}
	http_request_rewrite(&h, h.line, mlen, path, plen, minor, req);
	return (int)(skip + len);
}

void
proxy_response_init(struct proxy_response *resp)
{
	memset(resp, 0, sizeof *resp);
	buf_init(&resp->head);
}

void
proxy_response_free(struct proxy_response *resp)
{
	buf_free(&resp->head);
	proxy_response_init(resp);
}

/* The response head as it goes to the client: the fields that belong to
 * the server's connection replaced by the client connection's own. */
static void
http_response_rewrite(const struct http_head *h, struct proxy_response *resp)
{
	struct buf *out = &resp->head;

	buf_reset(out);
	buf_add(out, h->line, h->len);
	buf_addstr(out, "\r\n");
	for (size_t i = 0; i < h->nfields; i++) {
		const struct http_field *f = &h->fields[i];

		if (http_name_is(f, "connection") ||
		    http_name_is(f, "keep-alive") ||
		    http_name_is(f, "proxy-connection"))
			continue;
		buf_add(out, f->name, f->nlen);
		buf_addstr(out, ": ");
		buf_add(out, f->value, f->vlen);
		buf_addstr(out, "\r\n");
	}
	if (!resp->keep_alive)
		buf_addstr(out, "Connection: close\r\n");
	buf_addstr(out, "\r\n");
}

int
proxy_response_parse(const char *p, size_t n, size_t max, int head_only,
    int keep_alive, struct proxy_response *resp, char **why)
{
	struct http_field *fields;
	struct http_head h;
	size_t len;
	int other, status;

	if (n > max)
		n = max;
	if ((len = http_head_length(p, n)) == 0) {
		if (n < max)
			return 0;
		*why = xasprintf("response head over %zu bytes", max);
		return -1;
	}
	fields = xreallocarray(NULL, HTTP_RESPONSE_LINES, sizeof *fields);
	h.fields = fields;
	if (http_head_split(p, len, &h, HTTP_RESPONSE_LINES, why) != 0)
		goto fail;
	if (h.len < 12 || strncmp(h.line, "HTTP/1.", 7) != 0 ||
	    (h.line[7] != '0' && h.line[7] != '1') || h.line[8] != ' ' ||
	    !http_digits(h.line + 9, 3) || (h.len > 12 && h.line[12] != ' ')) {
		*why = xstrdup("bad status line");
		goto fail;
	}
	status = (h.line[9] - '0') * 100 + (h.line[10] - '0') * 10 +
	    (h.line[11] - '0');
	resp->status = status;
	if (status < 100) {
		*why = xstrdup("bad status line");
		goto fail;
	}
	if (status == 101) {
		*why = xstrdup("101 Switching Protocols was not asked for");
		goto fail;
	}
	resp->interim = status < 200;
	if (resp->interim || head_only || status == 204 || status == 304)
		proxy_frame_init(&resp->body, PROXY_FRAME_EMPTY, 0);
	else if (http_body(&h, &resp->body, &other, why) != 0) {
		if (!other)
			goto fail;
		free(*why);
		*why = NULL;
		proxy_frame_init(&resp->body, PROXY_FRAME_CLOSE, 0);
	} else if (resp->body.kind == PROXY_FRAME_EMPTY)
		proxy_frame_init(&resp->body, PROXY_FRAME_CLOSE, 0);
	resp->keep_alive = keep_alive && h.line[7] == '1' &&
	    resp->body.kind != PROXY_FRAME_CLOSE;
	if (resp->interim)
		resp->keep_alive = keep_alive;
	http_response_rewrite(&h, resp);
	if (resp->interim) {
		buf_reset(&resp->head);
		buf_add(&resp->head, p, len);
	}
	free(fields);
	return (int)len;

fail:
	free(fields);
	return -1;
}
