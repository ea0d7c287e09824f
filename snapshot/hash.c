/*
 * SHA-256 through libcrypto. The digest is fetched once: OpenSSL 3 would
 * otherwise look it up in its provider tables (under a lock) at every init,
 * which costs more than hashing a small file. libcrypto is set up without
 * reading openssl.cnf or filling its tables of every digest and cipher by
 * name: a content hash needs neither, and they made the first hash of a
 * command cost 1.5 ms (0.4 ms without them), more than a small promotion's
 * own hashing.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "snapshot/snapshot.h"

#define HASH_FD_CHUNK (128 * 1024)

struct hash_ctx {
	EVP_MD_CTX *md;
};

static pthread_once_t hash_once = PTHREAD_ONCE_INIT;
static const EVP_MD *hash_sha256;

static void
hash_fetch(void)
{
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
	    OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS,
	    NULL) != 1)
		fatalx("cannot initialise libcrypto");
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	hash_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
#else
	hash_sha256 = EVP_sha256();
#endif
	if (hash_sha256 == NULL)
		fatalx("cannot initialise SHA-256");
}

static const EVP_MD *
hash_md(void)
{
	pthread_once(&hash_once, hash_fetch);
	return hash_sha256;
}

struct hash_ctx *
hash_new(void)
{
	struct hash_ctx *h = xmalloc(sizeof *h);

	h->md = EVP_MD_CTX_new();
	if (h->md == NULL || EVP_DigestInit_ex(h->md, hash_md(), NULL) != 1)
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
	unsigned int len = HASH_LEN;

	if (EVP_Digest(p, n, out, &len, hash_md(), NULL) != 1 ||
	    len != HASH_LEN)
		fatalx("SHA-256 failed");
}

int
hash_fd(int fd, unsigned char out[HASH_LEN], uint64_t *size)
{
	struct hash_ctx *h = hash_new();
	char *chunk = xmalloc(HASH_FD_CHUNK);
	uint64_t done = 0;
	ssize_t n;
	int error;

	while ((n = read(fd, chunk, HASH_FD_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = errno;
			free(chunk);
			hash_free(h);
			errno = error;
			return -1;
		}
		hash_update(h, chunk, (size_t)n);
		done += (uint64_t)n;
	}
	hash_final(h, out);
	hash_free(h);
	free(chunk);
	if (size != NULL)
		*size = done;
	return 0;
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
