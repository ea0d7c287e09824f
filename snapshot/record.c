#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot.h"

/* A byte string is stored as its length + 1 (0 means absent), then bytes. */

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
