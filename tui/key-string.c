/*
 * Key names in tmux's notation, both ways: "C-]", "M-x", "S-Up", "Enter",
 * "PageUp", a single UTF-8 character. Every name key_string_lookup_key
 * prints reads back as the same key.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tui/tui.h"

#define nitems(a) (sizeof (a) / sizeof (a)[0])

/* The first name of a key is the one printed; the others are read too. */
static const struct key_string_entry {
	const char *name;
	key_code key;
} key_string_table[] = {
	{ "F1", KEYC_F1 }, { "F2", KEYC_F2 }, { "F3", KEYC_F3 },
	{ "F4", KEYC_F4 }, { "F5", KEYC_F5 }, { "F6", KEYC_F6 },
	{ "F7", KEYC_F7 }, { "F8", KEYC_F8 }, { "F9", KEYC_F9 },
	{ "F10", KEYC_F10 }, { "F11", KEYC_F11 }, { "F12", KEYC_F12 },
	{ "Insert", KEYC_IC }, { "IC", KEYC_IC },
	{ "Delete", KEYC_DC }, { "DC", KEYC_DC },
	{ "Home", KEYC_HOME },
	{ "End", KEYC_END },
	{ "PageDown", KEYC_NPAGE }, { "PgDn", KEYC_NPAGE },
	{ "NPage", KEYC_NPAGE },
	{ "PageUp", KEYC_PPAGE }, { "PgUp", KEYC_PPAGE },
	{ "PPage", KEYC_PPAGE },
	{ "BTab", KEYC_BTAB }, { "S-Tab", KEYC_BTAB },
	{ "Up", KEYC_UP }, { "Down", KEYC_DOWN },
	{ "Left", KEYC_LEFT }, { "Right", KEYC_RIGHT },
	{ "KPEnter", KEYC_KP_ENTER },
	{ "Enter", '\r' },
	{ "Escape", 0x1b },
	{ "Space", ' ' },
	{ "Tab", '\t' },
	{ "BSpace", 0x7f },
};

/*
 * What a terminal sends for these C- keys is another key (C-i is a Tab,
 * C-@ a NUL like C-Space): binding the alias binds what arrives.
 */
static const struct key_string_ctrl_alias {
	key_code from;
	key_code to;
} key_string_ctrl_aliases[] = {
	{ '@', ' ' | KEYC_CTRL },
	{ 'i', '\t' },
	{ 'm', '\r' },
	{ '[', 0x1b },
	{ '?', 0x7f },
};

/* The code point of exactly one UTF-8 character filling s, or -1. */
static long
key_string_utf8(const unsigned char *s, size_t len)
{
	static const long min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	long c;
	size_t n, i;

	if (s[0] < 0x80)
		n = 1;
	else if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return -1;
	if (len != n)
		return -1;
	c = n == 1 ? s[0] : s[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	return c;
}

/* 1 when c is a character that stands for itself in a key name. */
static int
key_string_printable(key_code c)
{
	if (c <= ' ' || c == 0x7f)
		return 0;
	return c < 0x80 || c >= 0xa0;  /* not a C1 control either */
}

/* Reads the modifier prefixes ("C-", "M-", "S-", "^"); the rest is left. */
static key_code
key_string_modifiers(const char **string)
{
	key_code mods = 0;
	const char *s = *string;

	for (;;) {
		if (s[0] == '^' && s[1] != '\0') {
			mods |= KEYC_CTRL;
			s++;
			continue;
		}
		if (s[0] == '\0' || s[1] != '-' || s[2] == '\0')
			break;
		switch (s[0]) {
		case 'C': case 'c': mods |= KEYC_CTRL; break;
		case 'M': case 'm': mods |= KEYC_META; break;
		case 'S': case 's': mods |= KEYC_SHIFT; break;
		default: goto out;
		}
		s += 2;
	}
out:
	*string = s;
	return mods;
}

/* C- with a letter or an alias: the key a terminal actually sends. */
static key_code
key_string_ctrl(key_code key)
{
	key_code base = key & KEYC_MASK_KEY, mods = key & KEYC_MASK_MODIFIERS;
	size_t i;

	if (!(mods & KEYC_CTRL))
		return key;
	if (base >= 'A' && base <= 'Z')
		return (base - 'A' + 'a') | mods;
	for (i = 0; i < nitems(key_string_ctrl_aliases); i++) {
		if (key_string_ctrl_aliases[i].from == base)
			return key_string_ctrl_aliases[i].to |
			    (mods & ~KEYC_CTRL);
	}
	return key;
}

key_code
key_string_lookup_string(const char *string)
{
	key_code mods, key = KEYC_NONE;
	long c;
	size_t i;

	if (string == NULL || *string == '\0')
		return KEYC_NONE;
	/* "S-Tab" is a name of its own, not S- on Tab. */
	for (i = 0; i < nitems(key_string_table); i++) {
		if (strcasecmp(string, key_string_table[i].name) == 0)
			return key_string_table[i].key;
	}
	mods = key_string_modifiers(&string);
	for (i = 0; i < nitems(key_string_table); i++) {
		if (strcasecmp(string, key_string_table[i].name) == 0) {
			key = key_string_table[i].key;
			break;
		}
	}
	if (key == KEYC_NONE) {
		c = key_string_utf8((const unsigned char *)string,
		    strlen(string));
		if (c < 0 || !key_string_printable((key_code)c))
			return KEYC_NONE;
		key = (key_code)c;
	}
	if (key == '\t' && (mods & KEYC_SHIFT))
		key = KEYC_BTAB;
	if (key == KEYC_BTAB)
		mods &= ~KEYC_SHIFT;  /* BTab is already shifted */
	return key_string_ctrl(key | mods);
}

/* Appends code point c as UTF-8 (c is valid). */
static void
key_string_put_utf8(char *out, key_code c)
{
	if (c < 0x80)
		*out++ = (char)c;
	else if (c < 0x800) {
		*out++ = (char)(0xc0 | (c >> 6));
		*out++ = (char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		*out++ = (char)(0xe0 | (c >> 12));
		*out++ = (char)(0x80 | ((c >> 6) & 0x3f));
		*out++ = (char)(0x80 | (c & 0x3f));
	} else {
		*out++ = (char)(0xf0 | (c >> 18));
		*out++ = (char)(0x80 | ((c >> 12) & 0x3f));
		*out++ = (char)(0x80 | ((c >> 6) & 0x3f));
		*out++ = (char)(0x80 | (c & 0x3f));
	}
	*out = '\0';
}

const char *
key_string_lookup_key(key_code key)
{
	static char out[64];
	key_code base = key & KEYC_MASK_KEY;
	char name[8];
	size_t i;

	if (key == KEYC_NONE)
		return "None";
	if ((key & ~(KEYC_MASK_KEY | KEYC_MASK_MODIFIERS)) != 0)
		return "Invalid";
	name[0] = '\0';
	for (i = 0; i < nitems(key_string_table); i++) {
		if (key_string_table[i].key == base) {
			snprintf(out, sizeof out, "%s%s%s%s",
			    (key & KEYC_CTRL) ? "C-" : "",
			    (key & KEYC_META) ? "M-" : "",
			    (key & KEYC_SHIFT) ? "S-" : "",
			    key_string_table[i].name);
			return out;
		}
	}
	if (base > 0x10ffff || (base >= 0xd800 && base <= 0xdfff) ||
	    !key_string_printable(base))
		return "Invalid";
	key_string_put_utf8(name, base);
	snprintf(out, sizeof out, "%s%s%s%s", (key & KEYC_CTRL) ? "C-" : "",
	    (key & KEYC_META) ? "M-" : "", (key & KEYC_SHIFT) ? "S-" : "",
	    name);
	return out;
}
