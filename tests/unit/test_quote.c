#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* quote_path on len bytes; returns a new string. */
static char *
quoted(const char *s, size_t len, int flags)
{
	struct buf	b = BUF_INIT;

	quote_path(&b, s, len, flags);
	return buf_detach(&b, NULL);
}

static void
check_quote(const char *in, size_t len, int flags, const char *want)
{
	char	*got = quoted(in, len, flags);

	assert_string_equal(got, want);
	free(got);
}

static void
test_quote_plain(void **state)
{
	check_quote("src/main.c", 10, 0, "src/main.c");
	check_quote("", 0, 0, "");
	/* A space needs quotes only for status. */
	check_quote("a b", 3, 0, "a b");
	check_quote("a b", 3, QUOTE_SPACE, "\"a b\"");
	/* Valid UTF-8 is kept as it is. */
	check_quote("caf\xc3\xa9/\xe6\x97\xa5", 9, 0, "caf\xc3\xa9/\xe6\x97\xa5");
	check_quote("\xf0\x9f\x98\x80", 4, 0, "\xf0\x9f\x98\x80");
}

static void
test_quote_escapes(void **state)
{
	check_quote("a\nb", 3, 0, "\"a\\nb\"");
	check_quote("t\tab", 4, 0, "\"t\\tab\"");
	check_quote("q\"uote", 6, 0, "\"q\\\"uote\"");
	check_quote("back\\slash", 10, 0, "\"back\\\\slash\"");
	check_quote("\a\b\v\f\r", 5, 0, "\"\\a\\b\\v\\f\\r\"");
	/* Other control bytes, DEL and ESC in octal. */
	check_quote("\x1b[31mred", 8, 0, "\"\\033[31mred\"");
	check_quote("\x01\x7f", 2, 0, "\"\\001\\177\"");
	/* A NUL inside the length is escaped, not a terminator. */
	check_quote("a\0b", 3, 0, "\"a\\000b\"");
	/* Space and a newline together with QUOTE_SPACE. */
	check_quote("a b\n", 4, QUOTE_SPACE, "\"a b\\n\"");
}

static void
test_quote_invalid_utf8(void **state)
{
	/* Lone continuation, truncated sequence, overlong, surrogate, > U+10FFFF. */
	check_quote("a\x80", 2, 0, "\"a\\200\"");
	check_quote("\xc3", 1, 0, "\"\\303\"");
	check_quote("\xe6\x97", 2, 0, "\"\\346\\227\"");
	check_quote("\xc0\xaf", 2, 0, "\"\\300\\257\"");
	check_quote("\xe0\x80\xaf", 3, 0, "\"\\340\\200\\257\"");
	check_quote("\xed\xa0\x80", 3, 0, "\"\\355\\240\\200\"");
	check_quote("\xf4\x90\x80\x80", 4, 0, "\"\\364\\220\\200\\200\"");
	check_quote("\xff\xfe", 2, 0, "\"\\377\\376\"");
	/* Valid UTF-8 next to an invalid byte stays as it is. */
	check_quote("\xc3\xa9\xff", 3, 0, "\"\xc3\xa9\\377\"");
	/* C1 controls (CSI is U+009B) are escaped even though valid. */
	check_quote("\xc2\x9b" "2J", 4, 0, "\"\\302\\2332J\"");
	check_quote("\xc2\xa0", 2, 0, "\xc2\xa0");
}

static void
test_utf8_valid(void **state)
{
	assert_int_equal(utf8_valid("", 0), 1);
	assert_int_equal(utf8_valid("plain", 5), 1);
	assert_int_equal(utf8_valid("\xc3\xa9", 2), 1);
	assert_int_equal(utf8_valid("\xef\xbf\xbd", 3), 1);
	assert_int_equal(utf8_valid("\xf4\x8f\xbf\xbf", 4), 1);
	assert_int_equal(utf8_valid("\xc3", 1), 0);
	assert_int_equal(utf8_valid("\x80", 1), 0);
	assert_int_equal(utf8_valid("\xc1\xbf", 2), 0);
	assert_int_equal(utf8_valid("\xe0\x9f\xbf", 3), 0);
	assert_int_equal(utf8_valid("\xf0\x8f\xbf\xbf", 4), 0);
	assert_int_equal(utf8_valid("\xed\xbf\xbf", 3), 0);
	assert_int_equal(utf8_valid("\xf4\x90\x80\x80", 4), 0);
	assert_int_equal(utf8_valid("\xf5\x80\x80\x80", 4), 0);
	assert_int_equal(utf8_valid("ok\xc3\xa9\xc3", 5), 0);
	/* The length counts, not a NUL. */
	assert_int_equal(utf8_valid("a\0b", 3), 1);
}

static char *
json_of(const char *s, size_t len)
{
	struct buf	b = BUF_INIT;

	json_string(&b, s, len);
	return buf_detach(&b, NULL);
}

static void
check_json(const char *in, size_t len, const char *want)
{
	char	*got = json_of(in, len);

	assert_string_equal(got, want);
	free(got);
}

static void
test_json_string(void **state)
{
	check_json("", 0, "\"\"");
	check_json("plain", 5, "\"plain\"");
	check_json("q\"b\\", 4, "\"q\\\"b\\\\\"");
	check_json("a\nb\tc\r", 6, "\"a\\u000ab\\u0009c\\u000d\"");
	check_json("\x1b[0m", 4, "\"\\u001b[0m\"");
	check_json("\x7f", 1, "\"\\u007f\"");
	check_json("a\0b", 3, "\"a\\u0000b\"");
	check_json("/slash", 6, "\"/slash\"");
	check_json("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");
	/* Bytes that are not UTF-8 become U+FFFD, one per byte. */
	check_json("a\xff" "b", 3, "\"a\xef\xbf\xbd" "b\"");
	check_json("\xe6\x97", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	check_json("\xed\xa0\x80", 3,
	    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

static void
test_json_path_fields(void **state)
{
	struct buf	b = BUF_INIT;

	json_path_fields(&b, "src/a b.c", 9);
	assert_string_equal(b.data, "\"path\":\"src/a b.c\"");
	buf_reset(&b);
	json_path_fields(&b, "x\n\xff", 3);
	assert_string_equal(b.data,
	    "\"path\":\"x\\u000a\xef\xbf\xbd\",\"path_base64\":\"eAr/\"");
	buf_free(&b);
}

static void
test_base64(void **state)
{
	static const struct {
		const char	*in, *out;
	} v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" }, { "\xff\xfe\xfd", "//79" },
	};
	struct buf	b = BUF_INIT;
	size_t		i;

	for (i = 0; i < sizeof v / sizeof *v; i++) {
		buf_reset(&b);
		base64_encode(&b, v[i].in, strlen(v[i].in));
		assert_string_equal(b.data, v[i].out);
	}
	buf_free(&b);
}

static void
test_json_time(void **state)
{
	struct buf	b = BUF_INIT;

	json_time(&b, 0);
	assert_string_equal(b.data, "null");
	buf_reset(&b);
	json_time(&b, 1700000000);
	assert_string_equal(b.data, "\"2023-11-14T22:13:20Z\"");
	buf_reset(&b);
	json_time(&b, 951782400); /* a leap day */
	assert_string_equal(b.data, "\"2000-02-29T00:00:00Z\"");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_plain),
		cmocka_unit_test(test_quote_escapes),
		cmocka_unit_test(test_quote_invalid_utf8),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_json_path_fields),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_json_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
