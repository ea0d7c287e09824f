/* key-string.c: key names both ways, and names that are not keys. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tui/tui.h"

static const struct {
	const char *name;
	key_code key;
} names[] = {
	{ "C-]", ']' | KEYC_CTRL },
	{ "M-x", 'x' | KEYC_META },
	{ "C-M-a", 'a' | KEYC_CTRL | KEYC_META },
	{ "M-C-a", 'a' | KEYC_CTRL | KEYC_META },
	{ "c-m-a", 'a' | KEYC_CTRL | KEYC_META },
	{ "^a", 'a' | KEYC_CTRL },
	{ "C-A", 'a' | KEYC_CTRL },
	{ "C-Space", ' ' | KEYC_CTRL },
	{ "C-@", ' ' | KEYC_CTRL },
	{ "C-i", '\t' },
	{ "C-m", '\r' },
	{ "C-[", 0x1b },
	{ "M-C-[", 0x1b | KEYC_META },
	{ "C-\\", '\\' | KEYC_CTRL },
	{ "C-^", '^' | KEYC_CTRL },
	{ "C-_", '_' | KEYC_CTRL },
	{ "S-Up", KEYC_UP | KEYC_SHIFT },
	{ "C-S-Right", KEYC_RIGHT | KEYC_CTRL | KEYC_SHIFT },
	{ "Enter", '\r' },
	{ "enter", '\r' },
	{ "Space", ' ' },
	{ "Tab", '\t' },
	{ "BTab", KEYC_BTAB },
	{ "S-Tab", KEYC_BTAB },
	{ "M-S-Tab", KEYC_BTAB | KEYC_META },
	{ "Escape", 0x1b },
	{ "M-Escape", 0x1b | KEYC_META },
	{ "BSpace", 0x7f },
	{ "M-BSpace", 0x7f | KEYC_META },
	{ "F1", KEYC_F1 },
	{ "f12", KEYC_F12 },
	{ "C-F5", KEYC_F5 | KEYC_CTRL },
	{ "Up", KEYC_UP }, { "Down", KEYC_DOWN },
	{ "Left", KEYC_LEFT }, { "Right", KEYC_RIGHT },
	{ "Home", KEYC_HOME }, { "End", KEYC_END },
	{ "PageUp", KEYC_PPAGE }, { "PgUp", KEYC_PPAGE },
	{ "PPage", KEYC_PPAGE },
	{ "PageDown", KEYC_NPAGE }, { "PgDn", KEYC_NPAGE },
	{ "NPage", KEYC_NPAGE },
	{ "IC", KEYC_IC }, { "Insert", KEYC_IC },
	{ "DC", KEYC_DC }, { "Delete", KEYC_DC },
	{ "KPEnter", KEYC_KP_ENTER },
	{ "a", 'a' }, { "A", 'A' }, { "#", '#' }, { "-", '-' },
	{ "C--", '-' | KEYC_CTRL }, { "M--", '-' | KEYC_META },
	{ "^", '^' }, { "'", '\'' },
	{ "\xc3\xa9", 0xe9 },                 /* é */
	{ "M-\xc3\xa9", 0xe9 | KEYC_META },
	{ "\xe6\x97\xa5", 0x65e5 },           /* 日 */
	{ "\xf0\x9f\x98\x80", 0x1f600 },      /* an emoji */
	{ "\xc2\xa0", 0xa0 },                 /* no-break space */
};

static void
test_keys_names(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (key_string_lookup_string(names[i].name) != names[i].key)
			fail_msg("%s: got %#llx want %#llx", names[i].name,
			    (unsigned long long)
			    key_string_lookup_string(names[i].name),
			    (unsigned long long)names[i].key);
	}
}

static void
test_keys_printed(void **state)
{
	(void)state;
	assert_string_equal(key_string_lookup_key(']' | KEYC_CTRL), "C-]");
	assert_string_equal(key_string_lookup_key('a' | KEYC_CTRL |
	    KEYC_META), "C-M-a");
	assert_string_equal(key_string_lookup_key(KEYC_UP | KEYC_SHIFT),
	    "S-Up");
	assert_string_equal(key_string_lookup_key('\r'), "Enter");
	assert_string_equal(key_string_lookup_key(' '), "Space");
	assert_string_equal(key_string_lookup_key(' ' | KEYC_CTRL),
	    "C-Space");
	assert_string_equal(key_string_lookup_key(0x7f), "BSpace");
	assert_string_equal(key_string_lookup_key(KEYC_PPAGE), "PageUp");
	assert_string_equal(key_string_lookup_key(KEYC_NPAGE), "PageDown");
	assert_string_equal(key_string_lookup_key(KEYC_IC), "Insert");
	assert_string_equal(key_string_lookup_key(KEYC_BTAB), "BTab");
	assert_string_equal(key_string_lookup_key(0x65e5), "\xe6\x97\xa5");
	assert_string_equal(key_string_lookup_key(KEYC_NONE), "None");
	/* Nothing a name could give back. */
	assert_string_equal(key_string_lookup_key(0x01), "Invalid");
	assert_string_equal(key_string_lookup_key(0x85), "Invalid");
	assert_string_equal(key_string_lookup_key(0xd800), "Invalid");
	assert_string_equal(key_string_lookup_key(0x110000), "Invalid");
	assert_string_equal(key_string_lookup_key(KEYC_END_SPECIAL),
	    "Invalid");
	assert_string_equal(key_string_lookup_key(1ULL << 40), "Invalid");
}

/* name -> key -> name -> key gives the same key. */
static void
check_round_trip(key_code key)
{
	char name[64];
	key_code back;

	snprintf(name, sizeof name, "%s", key_string_lookup_key(key));
	back = key_string_lookup_string(name);
	if (back != key)
		fail_msg("%#llx printed as %s reads back as %#llx",
		    (unsigned long long)key, name, (unsigned long long)back);
	assert_string_equal(key_string_lookup_key(back), name);
}

static void
test_keys_round_trip(void **state)
{
	static const key_code mods[] = {
		0, KEYC_CTRL, KEYC_META, KEYC_SHIFT, KEYC_CTRL | KEYC_META,
		KEYC_CTRL | KEYC_SHIFT, KEYC_META | KEYC_SHIFT,
		KEYC_CTRL | KEYC_META | KEYC_SHIFT,
	};
	static const key_code plain[] = { '\r', '\t', 0x1b, ' ', 0x7f };
	static const key_code wide[] = { 0xa0, 0xe9, 0x3b1, 0x65e5,
		0xfffd, 0x1f600, 0x10fffd };
	key_code k;
	size_t i, m;

	(void)state;
	for (m = 0; m < sizeof mods / sizeof mods[0]; m++) {
		for (k = KEYC_BASE; k < KEYC_END_SPECIAL; k++) {
			if (k == KEYC_BTAB && (mods[m] & KEYC_SHIFT))
				continue;  /* S-BTab is BTab */
			check_round_trip(k | mods[m]);
		}
		for (i = 0; i < sizeof plain / sizeof plain[0]; i++) {
			if (plain[i] == '\t' && (mods[m] & KEYC_SHIFT))
				continue;  /* S-Tab is BTab */
			check_round_trip(plain[i] | mods[m]);
		}
		for (i = 0; i < sizeof wide / sizeof wide[0]; i++)
			check_round_trip(wide[i] | mods[m]);
		for (k = '!'; k <= '~'; k++) {
			/* C-A is C-a, C-i Tab, C-@ C-Space...: not canonical */
			if ((mods[m] & KEYC_CTRL) && ((k >= 'A' && k <= 'Z') ||
			    strchr("@im[?", (int)k) != NULL))
				continue;
			check_round_trip(k | mods[m]);
		}
	}
}

static void
test_keys_bad_names(void **state)
{
	static const char *const bad[] = {
		"", "Foo", "C-", "M-", "C-Foo", "ab", "aa", "--", "F0", "F13",
		"\x01", " ", "\t", "\x7f", "\x1b",
		"\xc3",                 /* truncated */
		"\xc3\x28",             /* bad continuation */
		"\xc0\xaf",             /* overlong / */
		"\xe0\x80\xaf",         /* overlong / */
		"\xed\xa0\x80",         /* a surrogate */
		"\xf4\x90\x80\x80",     /* above U+10FFFF */
		"\xf8\x88\x80\x80\x80", /* 5 bytes */
		"\xff", "\x80",
		"\xc2\x85",             /* a C1 control */
		"\xc3\xa9\xc3\xa9",     /* two characters */
		"C-\xc3", "M-C-", "X-a", "C-M-S-Foo",
		"Enter\n", "Up ",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (key_string_lookup_string(bad[i]) != KEYC_NONE)
			fail_msg("bad name %zu read as a key", i);
	}
	assert_int_equal(key_string_lookup_string(NULL), KEYC_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_names),
		cmocka_unit_test(test_keys_printed),
		cmocka_unit_test(test_keys_round_trip),
		cmocka_unit_test(test_keys_bad_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
