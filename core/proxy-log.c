#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/*
 * The proxy's events as JSON lines, and reading them back for `airlock net`.
 * The log sits in the session's directory, out of the agent's reach, but
 * it is read strictly all the same: a line that is not exactly an event is
 * counted and skipped, and no line costs more than PROXY_LOG_LINE_MAX.
 */

#define PROXY_LOG_LINE_MAX 65536

/* The event's fields, in the order they are written. */
enum proxy_log_field {
	FIELD_TIME,
	FIELD_HOST,
	FIELD_PORT,
	FIELD_ALLOWED,
	FIELD_VIA,
	FIELD_WHY,
	FIELD_SENT,
	FIELD_RECEIVED,
	FIELD_DURATION,
	FIELD_COUNT,
};

static const char *const proxy_log_names[FIELD_COUNT] = {
	[FIELD_TIME] = "time",
	[FIELD_HOST] = "host",
	[FIELD_PORT] = "port",
	[FIELD_ALLOWED] = "allowed",
	[FIELD_VIA] = "via",
	[FIELD_WHY] = "why",
	[FIELD_SENT] = "sent",
	[FIELD_RECEIVED] = "received",
	[FIELD_DURATION] = "duration_ms",
};

/* The only values of "via" (the event keeps a pointer to one of them). */
static const char *const proxy_log_via[] = { "connect", "http", "socks5" };

static void
proxy_log_string(struct buf *out, const char *s)
{
	if (s == NULL)
		buf_addstr(out, "null");
	else
		json_string(out, s, strlen(s));
}

void
proxy_event_json(struct buf *out, const struct proxy_event *ev)
{
	buf_addstr(out, "{\"time\":");
	json_time(out, ev->start / 1000);
	buf_addstr(out, ",\"host\":");
	proxy_log_string(out, ev->host);
	buf_printf(out, ",\"port\":%u,\"allowed\":%s,\"via\":", ev->port,
	    ev->allowed ? "true" : "false");
	proxy_log_string(out, ev->via);
	buf_addstr(out, ",\"why\":");
	proxy_log_string(out, ev->why);
	buf_printf(out, ",\"sent\":%llu,\"received\":%llu,\"duration_ms\":%lld}",
	    (unsigned long long)ev->sent, (unsigned long long)ev->received,
	    (long long)ev->duration_ms);
}

void
proxy_event_free(struct proxy_event *ev)
{
	free(ev->host);
	free(ev->why);
	memset(ev, 0, sizeof *ev);
}

/* A JSON text being read: p moves towards end. */
struct proxy_json {
	const char *p, *end;
};

static void
proxy_json_space(struct proxy_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\r'))
		j->p++;
}

static int
proxy_json_char(struct proxy_json *j, char c)
{
	proxy_json_space(j);
	if (j->p == j->end || *j->p != c)
		return -1;
	j->p++;
	return 0;
}

static int
proxy_json_word(struct proxy_json *j, const char *word)
{
	size_t n = strlen(word);

	proxy_json_space(j);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return -1;
	j->p += n;
	return 0;
}

/* Four hex digits of a \u escape. */
static int
proxy_json_hex4(struct proxy_json *j, unsigned *v)
{
	*v = 0;
	if (j->end - j->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = *j->p++;

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

static void
proxy_json_utf8(struct buf *out, unsigned cp)
{
	if (cp < 0x80)
		buf_addch(out, (int)cp);
	else if (cp < 0x800) {
		buf_addch(out, (int)(0xc0 | cp >> 6));
		buf_addch(out, (int)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_addch(out, (int)(0xe0 | cp >> 12));
		buf_addch(out, (int)(0x80 | ((cp >> 6) & 0x3f)));
		buf_addch(out, (int)(0x80 | (cp & 0x3f)));
	} else {
		buf_addch(out, (int)(0xf0 | cp >> 18));
		buf_addch(out, (int)(0x80 | ((cp >> 12) & 0x3f)));
		buf_addch(out, (int)(0x80 | ((cp >> 6) & 0x3f)));
		buf_addch(out, (int)(0x80 | (cp & 0x3f)));
	}
}

/* A string into out: valid UTF-8 without NUL, or -1. */
static int
proxy_json_string(struct proxy_json *j, struct buf *out)
{
	static const char esc[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	const char *e;
	unsigned cp, lo;

	buf_reset(out);
	if (proxy_json_char(j, '"') != 0)
		return -1;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p++;

		if (c < 0x20)
			return -1;
		if (c != '\\') {
			buf_addch(out, c);
			continue;
		}
		if (j->p == j->end)
			return -1;
		c = (unsigned char)*j->p++;
		if (c != 'u') {
			for (e = esc; *e != '\0' && *e != (char)c; e += 2)
				continue;
			if (*e == '\0')
				return -1;
			buf_addch(out, e[1]);
			continue;
		}
		if (proxy_json_hex4(j, &cp) != 0 || cp == 0 ||
		    (cp >= 0xdc00 && cp <= 0xdfff))
			return -1;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (j->end - j->p < 2 || j->p[0] != '\\' ||
			    j->p[1] != 'u')
				return -1;
			j->p += 2;
			if (proxy_json_hex4(j, &lo) != 0 || lo < 0xdc00 ||
			    lo > 0xdfff)
				return -1;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		proxy_json_utf8(out, cp);
	}
	if (j->p == j->end)
		return -1;
	j->p++;
	if (memchr(out->data, '\0', out->len) != NULL ||
	    !utf8_valid(out->data, out->len))
		return -1;
	return 0;
}

/* A string, or null (*out NULL). */
static int
proxy_json_string_or_null(struct proxy_json *j, struct buf *tmp, char **out)
{
	*out = NULL;
	if (proxy_json_word(j, "null") == 0)
		return 0;
	if (proxy_json_string(j, tmp) != 0)
		return -1;
	*out = xstrdup(tmp->data);
	return 0;
}

/* A number that is a whole number from 0 to max. */
static int
proxy_json_uint(struct proxy_json *j, uint64_t max, uint64_t *v)
{
	const char *start;

	proxy_json_space(j);
	start = j->p;
	*v = 0;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		uint64_t d = (uint64_t)(*j->p - '0');

		if (*v > (max - d) / 10)
			return -1;
		*v = *v * 10 + d;
		j->p++;
	}
	if (j->p == start || (*start == '0' && j->p - start > 1))
		return -1;
	if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
		return -1;
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SSZ" as json_time writes it, or null (0). */
static int
proxy_json_time(struct proxy_json *j, struct buf *tmp, int64_t *ms)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	struct tm tm;
	const char *s;
	time_t t;

	*ms = 0;
	if (proxy_json_word(j, "null") == 0)
		return 0;
	if (proxy_json_string(j, tmp) != 0 || tmp->len != sizeof shape - 1)
		return -1;
	s = tmp->data;
	for (size_t i = 0; i < tmp->len; i++) {
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
			return -1;
	}
	memset(&tm, 0, sizeof tm);
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	tm.tm_hour = atoi(s + 11);
	tm.tm_min = atoi(s + 14);
	tm.tm_sec = atoi(s + 17);
	if (tm.tm_year < 70 || tm.tm_mon > 11 || tm.tm_mon < 0 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000;
	return 0;
}

/* Any value of a field this reader does not know: a string, a whole
 * number, true, false or null. */
static int
proxy_json_skip(struct proxy_json *j, struct buf *tmp)
{
	uint64_t v;

	proxy_json_space(j);
	if (j->p < j->end && *j->p == '"')
		return proxy_json_string(j, tmp);
	if (proxy_json_word(j, "true") == 0 ||
	    proxy_json_word(j, "false") == 0 ||
	    proxy_json_word(j, "null") == 0)
		return 0;
	return proxy_json_uint(j, UINT64_MAX, &v);
}

static int
proxy_json_field(struct proxy_json *j, enum proxy_log_field f,
    struct buf *tmp, struct proxy_event *ev)
{
	uint64_t v;
	size_t i;

	switch (f) {
	case FIELD_TIME:
		return proxy_json_time(j, tmp, &ev->start);
	case FIELD_HOST:
		return proxy_json_string_or_null(j, tmp, &ev->host);
	case FIELD_WHY:
		return proxy_json_string_or_null(j, tmp, &ev->why);
	case FIELD_PORT:
		if (proxy_json_uint(j, 65535, &v) != 0)
			return -1;
		ev->port = (uint16_t)v;
		return 0;
	case FIELD_ALLOWED:
		if (proxy_json_word(j, "true") == 0)
			ev->allowed = 1;
		else if (proxy_json_word(j, "false") == 0)
			ev->allowed = 0;
		else
			return -1;
		return 0;
	case FIELD_VIA:
		if (proxy_json_string(j, tmp) != 0)
			return -1;
		for (i = 0; i < sizeof proxy_log_via / sizeof *proxy_log_via;
		    i++) {
			if (strcmp(tmp->data, proxy_log_via[i]) == 0) {
				ev->via = proxy_log_via[i];
				return 0;
			}
		}
		return -1;
	case FIELD_SENT:
		return proxy_json_uint(j, UINT64_MAX, &ev->sent);
	case FIELD_RECEIVED:
		return proxy_json_uint(j, UINT64_MAX, &ev->received);
	case FIELD_DURATION:
		if (proxy_json_uint(j, INT64_MAX, &v) != 0)
			return -1;
		ev->duration_ms = (int64_t)v;
		return 0;
	case FIELD_COUNT:
		break;
	}
	return -1;
}

/* One line into *ev: 0, or -1 (and *ev empty) when it is no event. */
static int
proxy_log_line(const char *line, size_t len, struct proxy_event *ev)
{
	struct proxy_json j = { line, line + len };
	struct buf key = BUF_INIT, tmp = BUF_INIT;
	int seen[FIELD_COUNT] = { 0 }, f;

	memset(ev, 0, sizeof *ev);
	if (proxy_json_char(&j, '{') != 0)
		goto bad;
	proxy_json_space(&j);
	if (j.p < j.end && *j.p == '}')
		goto bad;              /* no fields: not an event */
	do {
		if (proxy_json_string(&j, &key) != 0 ||
		    proxy_json_char(&j, ':') != 0)
			goto bad;
		for (f = 0; f < FIELD_COUNT; f++) {
			if (strcmp(key.data, proxy_log_names[f]) == 0)
				break;
		}
		if (f == FIELD_COUNT) {
			if (proxy_json_skip(&j, &tmp) != 0)
				goto bad;
			continue;
		}
		if (seen[f]++ ||
		    proxy_json_field(&j, (enum proxy_log_field)f, &tmp, ev) != 0)
			goto bad;
	} while (proxy_json_char(&j, ',') == 0);
	if (proxy_json_char(&j, '}') != 0)
		goto bad;
	proxy_json_space(&j);
	if (j.p != j.end)
		goto bad;
	for (f = 0; f < FIELD_COUNT; f++) {
		if (!seen[f])
			goto bad;
	}
	buf_free(&key);
	buf_free(&tmp);
	return 0;

bad:
	buf_free(&key);
	buf_free(&tmp);
	proxy_event_free(ev);
	return -1;
}

/* Takes the line (without its newline) into the events, or counts it. */
static void
proxy_log_take(const char *line, size_t len, struct proxy_event **v,
    size_t *n, size_t *cap, int *bad)
{
	struct proxy_event ev;

	if (len == 0)
		return;
	if (proxy_log_line(line, len, &ev) != 0) {
		(*bad)++;
		return;
	}
	if (*n == *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		*v = xreallocarray(*v, *cap, sizeof **v);
	}
	(*v)[(*n)++] = ev;
}

int
proxy_log_read(const char *path, struct proxy_event **v, size_t *n,
    char **cause)
{
	struct buf line = BUF_INIT;
	char chunk[16384], *nl;
	size_t cap = 0, left;
	ssize_t got;
	int fd, bad = 0, skipping = 0;
	const char *p;

	*v = NULL;
	*n = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((got = read(fd, chunk, sizeof chunk)) != 0) {
		if (got == -1) {
			if (errno == EINTR)
				continue;
			*cause = xasprintf("%s: %s", path, strerror(errno));
			for (size_t i = 0; i < *n; i++)
				proxy_event_free(&(*v)[i]);
			free(*v);
			*v = NULL;
			*n = 0;
			buf_free(&line);
			close(fd);
			return -1;
		}
		p = chunk;
		left = (size_t)got;
		while (left > 0) {
			nl = memchr(p, '\n', left);
			size_t take = nl != NULL ? (size_t)(nl - p) : left;

			if (!skipping && line.len + take > PROXY_LOG_LINE_MAX) {
				skipping = 1;   /* far too long: bad */
				bad++;
				buf_reset(&line);
			}
			if (!skipping)
				buf_add(&line, p, take);
			if (nl == NULL)
				break;
			if (!skipping)
				proxy_log_take(line.data, line.len, v, n, &cap,
				    &bad);
			skipping = 0;
			buf_reset(&line);
			p = nl + 1;
			left -= take + 1;
		}
	}
	if (!skipping)
		proxy_log_take(line.data, line.len, v, n, &cap, &bad);
	buf_free(&line);
	close(fd);
	return bad;
}
