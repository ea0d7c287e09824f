#include "config.h"

#include <string.h>

#include "core/core.h"

/*
 * Paths come from the scratch, which an untrusted program wrote: a name may
 * hold newlines, escape sequences or bytes that are not UTF-8. They are
 * printed the way git's quote_c_style prints them (with core.quotePath off),
 * so git apply reads them back to the same bytes.
 */

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one. */
static size_t
utf8_seqlen(const unsigned char *s, size_t left)
{
	unsigned int	c = s[0], cp;
	size_t		n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
		return 0; /* overlong */
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0; /* surrogate */
	if (cp > 0x10ffff)
		return 0;
	return n;
}

int
utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;

	while (i < len) {
		n = utf8_seqlen(p + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* The escape for a single byte below 0x80, 0 when it is printed as is. */
static int
quote_escape(unsigned char c, int flags)
{
	switch (c) {
	case '\a': return 'a';
	case '\b': return 'b';
	case '\t': return 't';
	case '\n': return 'n';
	case '\v': return 'v';
	case '\f': return 'f';
	case '\r': return 'r';
	case '"': return '"';
	case '\\': return '\\';
	case ' ': return (flags & QUOTE_SPACE) ? ' ' : 0;
	}
	if (c < 0x20 || c == 0x7f)
		return 'o';
	return 0;
}

static void
quote_octal(struct buf *out, unsigned char c)
{
	buf_addch(out, '\\');
	buf_addch(out, '0' + ((c >> 6) & 7));
	buf_addch(out, '0' + ((c >> 3) & 7));
	buf_addch(out, '0' + (c & 7));
}

/*
 * A C1 control (U+0080..U+009F) is valid UTF-8 but some terminals act on
 * it (CSI is U+009B), so it is escaped like any other control byte.
 */
static int
quote_is_c1(const unsigned char *p, size_t n)
{
	return n == 2 && p[0] == 0xc2 && p[1] < 0xa0;
}

static int
quote_needed(const unsigned char *p, size_t len, int flags)
{
	size_t	i = 0, n;

	while (i < len) {
		if (p[i] < 0x80) {
			if (quote_escape(p[i], flags) != 0)
				return 1;
			i++;
			continue;
		}
		n = utf8_seqlen(p + i, len - i);
		if (n == 0 || quote_is_c1(p + i, n))
			return 1;
		i += n;
	}
	return 0;
}

void
quote_path(struct buf *out, const char *path, size_t len, int flags)
{
	const unsigned char	*p = (const unsigned char *)path;
	size_t			 i = 0, n, j;
	int			 e;

	if (!quote_needed(p, len, flags)) {
		buf_add(out, path, len);
		return;
	}
	buf_addch(out, '"');
	while (i < len) {
		if (p[i] < 0x80) {
			e = quote_escape(p[i], flags);
			if (e == 0 || e == ' ')
				buf_addch(out, p[i]);
			else if (e == 'o')
				quote_octal(out, p[i]);
			else {
				buf_addch(out, '\\');
				buf_addch(out, e);
			}
			i++;
			continue;
		}
		n = utf8_seqlen(p + i, len - i);
		if (n == 0) {
			quote_octal(out, p[i]);
			i++;
		} else if (quote_is_c1(p + i, n)) {
			for (j = 0; j < n; j++)
				quote_octal(out, p[i + j]);
			i += n;
		} else {
			buf_add(out, p + i, n);
			i += n;
		}
	}
	buf_addch(out, '"');
}
