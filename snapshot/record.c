#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot.h"

/* A byte string is stored as its length + 1 (0 means absent), then bytes:
 * as a u64 in format 1 records, as a varint in format 2 ones. */

void
be32_put(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

uint32_t
be32_get(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void
be64_put(unsigned char *p, uint64_t v)
{
	be32_put(p, (uint32_t)(v >> 32));
	be32_put(p + 4, (uint32_t)v);
}

uint64_t
be64_get(const unsigned char *p)
{
	return (uint64_t)be32_get(p) << 32 | be32_get(p + 4);
}

void
rec_put_u64(struct buf *b, uint64_t v)
{
	unsigned char p[8];

	be64_put(p, v);
	buf_add(b, p, sizeof p);
}

void
rec_put_bytes(struct buf *b, const void *p, size_t n)
{
	rec_put_u64(b, (uint64_t)n + 1);
	buf_add(b, p, n);
}

void
rec_put_str(struct buf *b, const char *s)
{
	if (s == NULL)
		rec_put_u64(b, 0);
	else
		rec_put_bytes(b, s, strlen(s));
}

void
rec_reader_init(struct rec_reader *r, const void *p, size_t n)
{
	r->p = p;
	r->left = n;
	r->error = 0;
}

uint64_t
rec_get_u64(struct rec_reader *r)
{
	uint64_t v;

	if (r->error || r->left < 8) {
		r->error = 1;
		return 0;
	}
	v = be64_get(r->p);
	r->p += 8;
	r->left -= 8;
	return v;
}

static const void *
rec_get_raw(struct rec_reader *r, size_t *len, int *absent)
{
	uint64_t n = rec_get_u64(r);
	const void *p;

	*absent = 0;
	*len = 0;
	if (r->error)
		return NULL;
	if (n == 0) {
		*absent = 1;
		return NULL;
	}
	n--;
	if (n > r->left) {
		r->error = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	*len = (size_t)n;
	return p;
}

char *
rec_get_str(struct rec_reader *r)
{
	size_t len;
	int absent;
	const void *p = rec_get_raw(r, &len, &absent);

	if (p == NULL)
		return NULL;
	if (memchr(p, '\0', len) != NULL) {
		r->error = 1;
		return NULL;
	}
	return xstrndup(p, len);
}

const void *
rec_get_bytes(struct rec_reader *r, size_t *len)
{
	int absent;
	const void *p = rec_get_raw(r, len, &absent);

	if (p == NULL && !r->error)
		return "";
	return p;
}

void
rec_put_uvar(struct buf *b, uint64_t v)
{
	unsigned char p[10];
	size_t n = 0;

	do {
		p[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			p[n] |= 0x80;
		n++;
	} while (v != 0);
	buf_add(b, p, n);
}

void
rec_put_svar(struct buf *b, int64_t v)
{
	/* zigzag: 0, -1, 1, -2 ... as 0, 1, 2, 3 ... */
	rec_put_uvar(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void
rec_put_vbytes(struct buf *b, const void *p, size_t n)
{
	rec_put_uvar(b, (uint64_t)n + 1);
	buf_add(b, p, n);
}

void
rec_put_vstr(struct buf *b, const char *s)
{
	if (s == NULL)
		rec_put_uvar(b, 0);
	else
		rec_put_vbytes(b, s, strlen(s));
}

uint64_t
rec_get_uvar(struct rec_reader *r)
{
	uint64_t v = 0;
	unsigned int shift = 0;
	unsigned char c;

	if (r->error)
		return 0;
	for (;;) {
		if (r->left == 0 || shift > 63)
			break;
		c = *r->p++;
		r->left--;
		/* the 10th byte holds one bit; a last byte 0 is overlong */
		if ((shift == 63 && (c & 0x7e) != 0) ||
		    (shift > 0 && c == 0))
			break;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
		shift += 7;
	}
	r->error = 1;
	return 0;
}

int64_t
rec_get_svar(struct rec_reader *r)
{
	uint64_t v = rec_get_uvar(r);

	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

const void *
rec_get_fixed(struct rec_reader *r, size_t n)
{
	const void *p;

	if (r->error || r->left < n) {
		r->error = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

const void *
rec_get_vbytes(struct rec_reader *r, size_t *len)
{
	uint64_t n = rec_get_uvar(r);

	*len = 0;
	if (r->error || n == 0)
		return NULL;
	if (n - 1 > r->left) {
		r->error = 1;
		return NULL;
	}
	*len = (size_t)(n - 1);
	return rec_get_fixed(r, *len);
}

char *
rec_get_vstr(struct rec_reader *r)
{
	size_t len;
	const void *p = rec_get_vbytes(r, &len);

	if (p == NULL)
		return NULL;
	if (memchr(p, '\0', len) != NULL) {
		r->error = 1;
		return NULL;
	}
	return xstrndup(p, len);
}
