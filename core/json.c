#include "config.h"

#include <string.h>
#include <time.h>

#include "core/core.h"

/*
 * JSON for scripts. Strings are always valid UTF-8 JSON: control characters
 * are escaped as \u00XX and bytes that are not UTF-8 become U+FFFD, so a
 * path that is not UTF-8 also travels as base64 (json_path_fields).
 */

/* Length of the valid UTF-8 sequence at s (0 when invalid); ASCII is 1. */
static size_t
json_utf8_len(const char *s, size_t left)
{
	size_t	n;

	for (n = 1; n <= 4 && n <= left; n++) {
		if (utf8_valid(s, n))
			return n;
	}
	return 0;
}

void
json_string(struct buf *out, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;

	buf_addch(out, '"');
	while (i < len) {
		if (p[i] == '"' || p[i] == '\\') {
			buf_addch(out, '\\');
			buf_addch(out, p[i]);
			i++;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			buf_printf(out, "\\u%04x", p[i]);
			i++;
		} else if (p[i] < 0x80) {
			buf_addch(out, p[i]);
			i++;
		} else if ((n = json_utf8_len(s + i, len - i)) != 0) {
			buf_add(out, s + i, n);
			i += n;
		} else {
			buf_addstr(out, "\xef\xbf\xbd"); /* U+FFFD */
			i++;
		}
	}
	buf_addch(out, '"');
}

void
json_path_fields(struct buf *out, const char *path, size_t len)
{
	buf_addstr(out, "\"path\":");
	json_string(out, path, len);
	if (!utf8_valid(path, len)) {
		buf_addstr(out, ",\"path_base64\":\"");
		base64_encode(out, path, len);
		buf_addch(out, '"');
	}
}

void
json_time(struct buf *out, int64_t unix_seconds)
{
	struct tm	tm;
	time_t		t = (time_t)unix_seconds;
	char		s[64];

	if (unix_seconds == 0 || gmtime_r(&t, &tm) == NULL) {
		buf_addstr(out, "null");
		return;
	}
	strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_printf(out, "\"%s\"", s);
}

void
base64_encode(struct buf *out, const void *data, size_t len)
{
	static const char	 tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*p = data;
	size_t			 i;
	uint32_t		 v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		buf_addch(out, tab[(v >> 18) & 63]);
		buf_addch(out, tab[(v >> 12) & 63]);
		buf_addch(out, tab[(v >> 6) & 63]);
		buf_addch(out, tab[v & 63]);
	}
	if (len - i == 1) {
		v = (uint32_t)p[i] << 16;
		buf_addch(out, tab[(v >> 18) & 63]);
		buf_addch(out, tab[(v >> 12) & 63]);
		buf_addstr(out, "==");
	} else if (len - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		buf_addch(out, tab[(v >> 18) & 63]);
		buf_addch(out, tab[(v >> 12) & 63]);
		buf_addch(out, tab[(v >> 6) & 63]);
		buf_addch(out, '=');
	}
}
