#include "config.h"

#include <stdlib.h>

#include <openssl/evp.h>

#include "snapshot/snapshot.h"

struct hash_ctx {
	EVP_MD_CTX *md;
};

struct hash_ctx *
hash_new(void)
{
	struct hash_ctx *h = xmalloc(sizeof *h);

	h->md = EVP_MD_CTX_new();
	if (h->md == NULL || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
		fatalx("cannot initialise SHA-256");
	return h;
}

void
hash_update(struct hash_ctx *h, const void *p, size_t n)
{
	if (EVP_DigestUpdate(h->md, p, n) != 1)
		fatalx("SHA-256 update failed");
}

void
hash_final(struct hash_ctx *h, unsigned char out[HASH_LEN])
{
	unsigned int n = HASH_LEN;

	if (EVP_DigestFinal_ex(h->md, out, &n) != 1 || n != HASH_LEN)
		fatalx("SHA-256 final failed");
}

void
hash_free(struct hash_ctx *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->md);
	free(h);
}

void
hash_buffer(const void *p, size_t n, unsigned char out[HASH_LEN])
{
	struct hash_ctx *h = hash_new();

	hash_update(h, p, n);
	hash_final(h, out);
	hash_free(h);
}

void
hash_hex(const unsigned char in[HASH_LEN], char out[HASH_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < HASH_LEN; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[HASH_HEX_LEN] = '\0';
}
