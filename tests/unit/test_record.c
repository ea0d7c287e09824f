/* Unit tests of the small helpers in snapshot/: record, buf, path, store
 * paths and hashing. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "snapshot/snapshot.h"

static void
test_record_round_trip(void **state)
{
	struct buf b = BUF_INIT;
	struct rec_reader r;
	const void *bytes;
	size_t len;
	char *s;

	rec_put_u64(&b, 42);
	rec_put_str(&b, "name with\nnewline");
	rec_put_str(&b, NULL);
	rec_put_bytes(&b, "a\0b", 3);
	rec_put_u64(&b, UINT64_MAX);
	rec_reader_init(&r, b.data, b.len);
	assert_int_equal(rec_get_u64(&r), 42);
	s = rec_get_str(&r);
	assert_string_equal(s, "name with\nnewline");
	free(s);
	assert_null(rec_get_str(&r));
	assert_false(r.error);
	bytes = rec_get_bytes(&r, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(bytes, "a\0b", 3);
	assert_true(rec_get_u64(&r) == UINT64_MAX);
	assert_false(r.error);
	assert_int_equal(r.left, 0);
	buf_free(&b);
}

static void
test_record_truncated(void **state)
{
	struct buf b = BUF_INIT;
	struct rec_reader r;
	size_t cut;

	rec_put_u64(&b, 7);
	rec_put_str(&b, "hello");
	/* Every truncation is an error, never a read past the end. */
	for (cut = 0; cut < b.len; cut++) {
		char *copy = xmemdup(b.data, cut), *s;

		rec_reader_init(&r, copy, cut);
		rec_get_u64(&r);
		s = rec_get_str(&r);
		assert_true(r.error);
		assert_null(s);
		free(copy);
	}
	buf_free(&b);
}

static void
test_record_hostile_length(void **state)
{
	unsigned char rec[16];
	struct rec_reader r;

	/* A string claiming 2^64-1 bytes. */
	memset(rec, 0xff, 8);
	memcpy(rec + 8, "abcdefgh", 8);
	rec_reader_init(&r, rec, sizeof rec);
	assert_null(rec_get_str(&r));
	assert_true(r.error);
	/* A string with a NUL inside is not a C string. */
	be64_put(rec, 4);
	memcpy(rec + 8, "a\0b", 3);
	rec_reader_init(&r, rec, 11);
	assert_null(rec_get_str(&r));
	assert_true(r.error);
}

static void
test_be(void **state)
{
	unsigned char p[8];

	be32_put(p, 0x01020304);
	assert_memory_equal(p, "\x01\x02\x03\x04", 4);
	assert_int_equal(be32_get(p), 0x01020304);
	be64_put(p, 0x0102030405060708ULL);
	assert_true(be64_get(p) == 0x0102030405060708ULL);
}

static void
test_buf(void **state)
{
	struct buf b = BUF_INIT;
	char *s;
	size_t len;

	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	assert_int_equal(strlen(b.data), b.len);
	assert_memory_equal(b.data, "0,1,2,", 6);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_add(&b, "x\0y", 3);
	s = buf_detach(&b, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "x\0y", 4);
	assert_int_equal(b.len, 0);
	free(s);
	s = buf_detach(&b, &len);
	assert_string_equal(s, "");
	free(s);
	buf_free(&b);
}

static void
test_path(void **state)
{
	char *p;

	p = path_join("/a/", "/b");
	assert_string_equal(p, "/a/b");
	free(p);
	p = path_join("/a", "b/c");
	assert_string_equal(p, "/a/b/c");
	free(p);
	assert_true(path_is_under("/a/b", "/a"));
	assert_true(path_is_under("/a", "/a"));
	assert_true(path_is_under("/a", "/a/"));
	assert_false(path_is_under("/ab", "/a"));
	assert_false(path_is_under("/a", "/a/b"));
	assert_true(path_is_under("/anything", "/"));
}

static void
test_store_paths(void **state)
{
	char *d, *cause = NULL, *root;
	const char *slash;

	d = store_dir_for_tree("/s", "/home/u/my proj\n");
	slash = strrchr(d, '/');
	/* base name sanitised, then 16 hex digits */
	assert_memory_equal(slash, "/my_proj_-", 10);
	assert_int_equal(strlen(slash + 10), 16);
	assert_int_equal(strspn(slash + 10, "0123456789abcdef"), 16);
	free(d);
	d = store_dir_for_tree("/s", "/");
	assert_memory_equal(d, "/s/root-", 8);
	free(d);
	/* Different trees, different stores, even with the same name. */
	d = store_dir_for_tree("/s", "/a/x");
	root = store_dir_for_tree("/s", "/b/x");
	assert_string_not_equal(d, root);
	free(d);
	free(root);

	setenv("AIRLOCK_HOME", "/custom/place", 1);
	root = store_root(&cause);
	assert_string_equal(root, "/custom/place");
	free(root);
	unsetenv("AIRLOCK_HOME");
	setenv("XDG_STATE_HOME", "/xdg", 1);
	root = store_root(&cause);
	assert_string_equal(root, "/xdg/airlock");
	free(root);
	setenv("XDG_STATE_HOME", "relative", 1);
	setenv("HOME", "/home/someone", 1);
	root = store_root(&cause);
	assert_string_equal(root, "/home/someone/.local/state/airlock");
	free(root);
}

/* Format 2's varints: every edge value round-trips in as few bytes as it
 * needs; each truncation and every overlong or overflowing form is an
 * error, never a wrong value. */
static void
test_record_varints(void **state)
{
	static const uint64_t u[] = { 0, 1, 127, 128, 255, 16383, 16384,
	    UINT32_MAX, (uint64_t)1 << 63, UINT64_MAX - 1, UINT64_MAX };
	static const int64_t sv[] = { 0, -1, 1, -64, 63, -65, 64, INT32_MIN,
	    INT64_MIN, INT64_MAX, INT64_MIN + 1 };
	static const size_t ulen[] = { 1, 1, 1, 2, 2, 2, 3, 5, 10, 10, 10 };
	struct buf b = BUF_INIT;
	struct rec_reader r;
	size_t i, cut, len;
	const void *p;
	char *s;

	for (i = 0; i < sizeof u / sizeof u[0]; i++) {
		buf_reset(&b);
		rec_put_uvar(&b, u[i]);
		assert_int_equal(b.len, ulen[i]);
		rec_reader_init(&r, b.data, b.len);
		assert_true(rec_get_uvar(&r) == u[i]);
		assert_false(r.error);
		assert_int_equal(r.left, 0);
		for (cut = 0; cut < b.len; cut++) {
			rec_reader_init(&r, b.data, cut);
			assert_true(rec_get_uvar(&r) == 0);
			assert_true(r.error);
		}
	}
	for (i = 0; i < sizeof sv / sizeof sv[0]; i++) {
		buf_reset(&b);
		rec_put_svar(&b, sv[i]);
		rec_reader_init(&r, b.data, b.len);
		assert_true(rec_get_svar(&r) == sv[i]);
		assert_false(r.error);
		assert_int_equal(r.left, 0);
	}
	/* small magnitudes stay small either side of zero */
	buf_reset(&b);
	rec_put_svar(&b, -1);
	rec_put_svar(&b, 63);
	rec_put_svar(&b, -64);
	assert_int_equal(b.len, 3);

	buf_reset(&b);
	rec_put_vstr(&b, "a\nb");
	rec_put_vstr(&b, NULL);
	rec_put_vstr(&b, "");
	rec_put_vbytes(&b, "x\0y", 3);
	rec_reader_init(&r, b.data, b.len);
	s = rec_get_vstr(&r);
	assert_string_equal(s, "a\nb");
	free(s);
	assert_null(rec_get_vstr(&r));
	assert_false(r.error);
	s = rec_get_vstr(&r);
	assert_string_equal(s, "");
	free(s);
	/* a NUL inside is fine as bytes, not as a string */
	p = rec_get_vbytes(&r, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "x\0y", 3);
	assert_false(r.error);
	assert_int_equal(r.left, 0);
	rec_reader_init(&r, b.data + b.len - 4, 4);
	assert_null(rec_get_vstr(&r));
	assert_true(r.error);
	for (cut = 0; cut < 4; cut++) {
		rec_reader_init(&r, b.data, cut);
		s = rec_get_vstr(&r);
		assert_null(s);
		assert_true(r.error);
	}
	rec_reader_init(&r, b.data, b.len);
	assert_null(rec_get_fixed(&r, b.len + 1));
	assert_true(r.error);
	buf_free(&b);
}

static void
test_record_varints_hostile(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
	} bad[] = {
		{ "\x80\x00", 2 },                 /* overlong zero */
		{ "\xff\x80\x00", 3 },             /* trailing zero byte */
		{ "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02", 10 }, /* 2^64 */
		{ "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x81\x01", 11 },
		{ "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11 },
		{ "\x80", 1 },                     /* no last byte */
	};
	struct rec_reader r;
	unsigned char big[32];
	size_t i, len;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rec_reader_init(&r, bad[i].bytes, bad[i].len);
		assert_true(rec_get_uvar(&r) == 0);
		assert_true(r.error);
		/* an error sticks */
		rec_reader_init(&r, bad[i].bytes, bad[i].len);
		rec_get_uvar(&r);
		assert_true(rec_get_uvar(&r) == 0);
		assert_true(r.error);
	}
	/* A byte string claiming 2^64 - 2 bytes, and one claiming one more
	 * than there is. */
	memset(big, 0xff, 9);
	big[9] = 0x01;
	rec_reader_init(&r, big, 10);
	assert_null(rec_get_vbytes(&r, &len));
	assert_true(r.error);
	assert_int_equal(len, 0);
	big[0] = 5;
	memcpy(big + 1, "abc", 3);
	rec_reader_init(&r, big, 4);
	assert_null(rec_get_vbytes(&r, &len));
	assert_true(r.error);
}

static void
test_hash(void **state)
{
	unsigned char d[HASH_LEN];
	char hex[HASH_HEX_LEN + 1];

	hash_buffer("abc", 3, d);
	hash_hex(d, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_record_truncated),
		cmocka_unit_test(test_record_hostile_length),
		cmocka_unit_test(test_record_varints),
		cmocka_unit_test(test_record_varints_hostile),
		cmocka_unit_test(test_be),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_store_paths),
		cmocka_unit_test(test_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
