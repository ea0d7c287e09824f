/* Unit tests of core/policy.c: parsing, restrictions of the tree's file,
 * override order, the scrubbed environment and the mount plan. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#define FILE_NAME "/home/u/p/.airlock-policy"

/* A scratch world: base/home (with the store below it), base/home/proj (the
 * real tree) and base/outside. */
struct world {
	char *base;
	char *home;
	char *tree;
	char *store;
	char *outside;
};

static char *
world_path(const char *dir, const char *rel)
{
	return path_join(dir, rel);
}

static void
world_mkdirs(const char *dir, const char *rel)
{
	char *path = world_path(dir, rel), *cause = NULL;

	assert_int_equal(path_mkdirs(path, 0755, &cause), 0);
	free(path);
}

static void
world_write(const char *dir, const char *rel, const char *text)
{
	char *path = world_path(dir, rel);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	free(path);
}

static void
world_symlink(const char *target, const char *dir, const char *rel)
{
	char *path = world_path(dir, rel);

	assert_int_equal(symlink(target, path), 0);
	free(path);
}

static void
world_make(struct world *w)
{
	char tmpl[] = "/tmp/airlock-test-policy-XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	w->base = realpath(tmpl, NULL);
	assert_non_null(w->base);
	w->home = world_path(w->base, "home");
	w->tree = world_path(w->home, "proj");
	w->store = world_path(w->home, ".local/state/airlock");
	w->outside = world_path(w->base, "outside");
	world_mkdirs(w->tree, "");
	world_mkdirs(w->store, "");
	world_mkdirs(w->outside, "");
}

static void
world_free(struct world *w)
{
	char *cause = NULL;

	assert_int_equal(path_remove_tree(w->base, &cause), 0);
	free(w->base);
	free(w->home);
	free(w->tree);
	free(w->store);
	free(w->outside);
}

/* Parses text as FILE_NAME; returns the cause (caller frees) or NULL. */
static char *
parse(struct policy *p, const char *text, size_t len, int restrict_only,
    const char *home, const char *tree)
{
	char *cause = NULL;

	if (policy_parse(p, FILE_NAME, text, len, restrict_only, home, tree,
	    &cause) == 0) {
		assert_null(cause);
		return NULL;
	}
	assert_non_null(cause);
	return cause;
}

static void
parse_ok(struct policy *p, const char *text, int restrict_only)
{
	char *cause = parse(p, text, strlen(text), restrict_only, "/home/u",
	    "/home/u/p");

	if (cause != NULL)
		fail_msg("unexpected error: %s", cause);
}

/* Expects the exact error for text in a fresh policy with the defaults. */
static void
parse_err(const char *text, size_t len, int restrict_only,
    const char *want)
{
	struct policy p;
	char *cause;

	policy_init(&p);
	policy_add_defaults(&p, "/home/u");
	cause = parse(&p, text, len, restrict_only, "/home/u", "/home/u/p");
	if (cause == NULL)
		fail_msg("no error for '%s'", text);
	if (strcmp(cause, want) != 0)
		fail_msg("for '%s'\n got: %s\nwant: %s", text, cause, want);
	free(cause);
	policy_free(&p);
}

static const struct policy_rule *
rule_find(const struct policy *p, const char *path, int is_pattern)
{
	for (size_t i = 0; i < p->nrules; i++) {
		if (p->rules[i].is_pattern == is_pattern &&
		    strcmp(p->rules[i].path, path) == 0)
			return &p->rules[i];
	}
	return NULL;
}

static const struct policy_env *
env_find(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nenv; i++) {
		if (strcmp(p->env[i].name, name) == 0)
			return &p->env[i];
	}
	return NULL;
}

static const struct plan_entry *
plan_find(const struct plan *plan, const char *path)
{
	for (size_t i = 0; i < plan->n; i++) {
		if (strcmp(plan->v[i].path, path) == 0)
			return &plan->v[i];
	}
	return NULL;
}

static const struct plan_entry *
plan_find_in(const struct plan *plan, const char *dir, const char *rel)
{
	char *path = world_path(dir, rel);
	const struct plan_entry *e = plan_find(plan, path);

	free(path);
	return e;
}

static const struct plan_entry *
skipped_find(const struct plan *plan, const char *path)
{
	for (size_t i = 0; i < plan->nskipped; i++) {
		if (strcmp(plan->skipped[i].path, path) == 0)
			return &plan->skipped[i];
	}
	return NULL;
}

static void
plan_make(struct world *w, const struct policy *p, struct plan *plan)
{
	char *cause = NULL;

	if (policy_plan(p, w->tree, w->home, w->store, plan, &cause) != 0)
		fail_msg("policy_plan: %s", cause);
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Every mount comes after the mounts of its ancestors. */
static void
assert_plan_ordered(const struct plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		for (size_t j = i + 1; j < plan->n; j++) {
			if (path_is_under(plan->v[i].path, plan->v[j].path))
				fail_msg("%s comes before its ancestor %s",
				    plan->v[i].path, plan->v[j].path);
		}
	}
}

static void
test_policy_defaults(void **state)
{
	static const char *home_denied[] = {
		".ssh", ".gnupg", ".aws", ".azure", ".config/gcloud", ".kube",
		".docker/config.json", ".netrc", ".npmrc", ".pypirc",
		".git-credentials", ".config/gh",
	};
	static const char *patterns[] = {
		".env", ".env.*", "*.pem", "id_rsa*", "id_ed25519*",
	};
	static const char *dropped[] = {
		"SSH_AUTH_SOCK", "GPG_AGENT_INFO", "*_TOKEN",
		"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "*_PASSWORD",
		"*_SECRET", "*_SECRET_KEY", "GOOGLE_APPLICATION_CREDENTIALS",
		"AZURE_CLIENT_SECRET", "DOCKER_AUTH_CONFIG",
	};
	const struct policy_rule *r;
	struct policy p;
	size_t i;

	policy_init(&p);
	policy_add_defaults(&p, "/home/u/");
	for (i = 0; i < sizeof home_denied / sizeof home_denied[0]; i++) {
		char *path = world_path("/home/u", home_denied[i]);

		r = rule_find(&p, path, 0);
		if (r == NULL)
			fail_msg("no default deny for %s", path);
		assert_int_equal(r->action, POLICY_DENY);
		assert_string_equal(r->origin, "default");
		free(path);
	}
	assert_non_null(rule_find(&p, "/var/run/docker.sock", 0));
	assert_non_null(rule_find(&p, "/run/docker.sock", 0));
	for (i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
		r = rule_find(&p, patterns[i], 1);
		assert_non_null(r);
		assert_int_equal(r->action, POLICY_DENY);
	}
	assert_int_equal(p.nrules, 12 + 2 + 5);
	for (i = 0; i < sizeof dropped / sizeof dropped[0]; i++) {
		const struct policy_env *e = env_find(&p, dropped[i]);

		assert_non_null(e);
		assert_false(e->pass);
	}
	assert_null(env_find(&p, "ANTHROPIC_API_KEY"));
	assert_int_equal(p.net, NET_HOST);
	assert_string_equal(p.net_origin, "default");
	policy_free(&p);

	/* Without $HOME the home rules are left out, the rest stays. */
	policy_init(&p);
	policy_add_defaults(&p, NULL);
	assert_int_equal(p.nrules, 2 + 5);
	policy_free(&p);
}

static void
test_policy_parse_rules(void **state)
{
	const struct policy_rule *r;
	const struct policy_env *e;
	struct policy p;
	const char *text =
	    "# a comment\n"
	    "\n"
	    "   deny ~/secrets   \n"
	    "\tro\t/opt//data/./set/\n"
	    "rw .cache # a trailing comment\n"
	    "tmp \"~/with space/and \\\"quote\\\"\"\r\n"
	    "deny *.key\n"
	    "deny ./.env\n"
	    "deny conf#1\n"
	    "env pass GITHUB_TOKEN\n"
	    "env drop MY_*\n"
	    "env drop *_CRED\n"
	    "net allow api.example.com:443 *.GitHub.com 10.0.0.1 [::1]:8080\n";

	policy_init(&p);
	parse_ok(&p, text, 0);
	assert_int_equal(p.nrules, 7);

	r = rule_find(&p, "/home/u/secrets", 0);
	assert_non_null(r);
	assert_int_equal(r->action, POLICY_DENY);
	assert_string_equal(r->origin, FILE_NAME ":3");
	r = rule_find(&p, "/opt/data/set", 0);
	assert_non_null(r);
	assert_int_equal(r->action, POLICY_RO);
	assert_string_equal(r->origin, FILE_NAME ":4");
	r = rule_find(&p, "/home/u/p/.cache", 0);
	assert_non_null(r);
	assert_int_equal(r->action, POLICY_RW);
	r = rule_find(&p, "/home/u/with space/and \"quote\"", 0);
	assert_non_null(r);
	assert_int_equal(r->action, POLICY_TMP);
	assert_string_equal(r->origin, FILE_NAME ":6");
	r = rule_find(&p, "*.key", 1);
	assert_non_null(r);
	assert_int_equal(r->action, POLICY_DENY);
	/* "./" makes a name an exact path, not a pattern. */
	assert_null(rule_find(&p, ".env", 1));
	assert_non_null(rule_find(&p, "/home/u/p/.env", 0));
	/* '#' inside a word is part of it. */
	assert_non_null(rule_find(&p, "conf#1", 1));

	e = env_find(&p, "GITHUB_TOKEN");
	assert_non_null(e);
	assert_true(e->pass);
	assert_string_equal(e->origin, FILE_NAME ":10");
	assert_false(env_find(&p, "MY_*")->pass);
	assert_false(env_find(&p, "*_CRED")->pass);

	assert_int_equal(p.net, NET_ALLOW);
	assert_int_equal(p.nnet_allow, 4);
	assert_string_equal(p.net_allow[0], "api.example.com:443");
	assert_string_equal(p.net_allow[1], "*.github.com");
	assert_string_equal(p.net_allow[2], "10.0.0.1");
	assert_string_equal(p.net_allow[3], "[::1]:8080");
	assert_string_equal(p.net_origin, FILE_NAME ":13");

	parse_ok(&p, "net none\n", 0);
	assert_int_equal(p.net, NET_NONE);
	assert_int_equal(p.nnet_allow, 0);
	parse_ok(&p, "net host", 0);
	assert_int_equal(p.net, NET_HOST);
	assert_string_equal(p.net_origin, FILE_NAME ":1");
	policy_free(&p);

	/* Special words: ~ is $HOME, . is the tree, / is the root. */
	policy_init(&p);
	parse_ok(&p, "ro ~\ndeny .\nro /\n", 0);
	assert_non_null(rule_find(&p, "/home/u", 0));
	assert_non_null(rule_find(&p, "/home/u/p", 0));
	assert_non_null(rule_find(&p, "/", 0));
	policy_free(&p);

	/* An empty file, and a file of comments only. */
	policy_init(&p);
	assert_null(parse(&p, "", 0, 0, "/home/u", "/home/u/p"));
	parse_ok(&p, "#\n   # x\n\n\t\n", 0);
	assert_int_equal(p.nrules, 0);
	policy_free(&p);
}

static void
test_policy_parse_errors(void **state)
{
	char *line = xmalloc(5000);
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "# ok\n\nalow example.com\n",
		  FILE_NAME ":3: unknown rule 'alow' (expected deny, ro, rw, "
		  "tmp, net or env)" },
		{ "DENY ~/.x", FILE_NAME ":1: unknown rule 'DENY' (expected "
		  "deny, ro, rw, tmp, net or env)" },
		{ "deny", FILE_NAME ":1: deny: missing PATH" },
		{ "ro   # nothing", FILE_NAME ":1: ro: missing PATH" },
		{ "rw a b", FILE_NAME ":1: rw: too many arguments (put a path "
		  "that holds spaces in double quotes)" },
		{ "tmp", FILE_NAME ":1: tmp: missing PATH" },
		{ "deny /a/../b", FILE_NAME ":1: deny: '..' is not allowed in "
		  "a path ('/a/../b'): write the path without it" },
		{ "ro ~/..", FILE_NAME ":1: ro: '..' is not allowed in a path "
		  "('~/..'): write the path without it" },
		{ "deny ..", FILE_NAME ":1: deny: '..' is not allowed in a path "
		  "('..'): write the path without it" },
		{ "rw ../up", FILE_NAME ":1: rw: '..' is not allowed in a path "
		  "('../up'): write the path without it" },
		{ "deny \"\"", FILE_NAME ":1: deny: empty path" },
		{ "ro ~root/x", FILE_NAME ":1: ro: '~root/x': ~USER is not "
		  "supported, write the full path" },
		{ "deny /etc/*.conf", FILE_NAME ":1: deny: '/etc/*.conf': "
		  "wildcards only work in name patterns, which are deny rules "
		  "without '/'" },
		{ "ro *.txt", FILE_NAME ":1: ro: '*.txt': wildcards only work "
		  "in name patterns, which are deny rules without '/'" },
		{ "net", FILE_NAME ":1: net: missing mode (expected none, host "
		  "or allow HOST[:PORT]...)" },
		{ "net off", FILE_NAME ":1: net: unknown mode 'off' (expected "
		  "none, host or allow)" },
		{ "net none now", FILE_NAME ":1: net none: too many arguments" },
		{ "net allow", FILE_NAME ":1: net allow: missing HOST[:PORT]" },
		{ "net allow example.com:0", FILE_NAME ":1: net allow: "
		  "'example.com:0': bad port (expected 1-65535)" },
		{ "net allow example.com:65536", FILE_NAME ":1: net allow: "
		  "'example.com:65536': bad port (expected 1-65535)" },
		{ "net allow example.com:", FILE_NAME ":1: net allow: "
		  "'example.com:': bad port (expected 1-65535)" },
		{ "net allow example.com:+80", FILE_NAME ":1: net allow: "
		  "'example.com:+80': bad port (expected 1-65535)" },
		{ "net allow example.com:080", FILE_NAME ":1: net allow: "
		  "'example.com:080': bad port (expected 1-65535)" },
		{ "net allow ok.com ex_ample.com", FILE_NAME ":1: net allow: "
		  "'ex_ample.com': bad host name" },
		{ "net allow -bad.com", FILE_NAME ":1: net allow: '-bad.com': "
		  "bad host name" },
		{ "net allow bad-.com", FILE_NAME ":1: net allow: 'bad-.com': "
		  "bad host name" },
		{ "net allow a..b", FILE_NAME ":1: net allow: 'a..b': bad host "
		  "name" },
		{ "net allow example.com.", FILE_NAME ":1: net allow: "
		  "'example.com.': bad host name" },
		{ "net allow \"\"", FILE_NAME ":1: net allow: '': bad host "
		  "name" },
		{ "net allow api.*.com", FILE_NAME ":1: net allow: 'api.*.com': "
		  "'*' only works as the whole first label, as in "
		  "*.example.com" },
		{ "net allow *", FILE_NAME ":1: net allow: '*': '*' only works "
		  "as the whole first label, as in *.example.com" },
		{ "net allow 300.1.1.1", FILE_NAME ":1: net allow: '300.1.1.1': "
		  "bad IPv4 address" },
		{ "net allow 1.2.3", FILE_NAME ":1: net allow: '1.2.3': bad "
		  "IPv4 address" },
		{ "net allow ::1", FILE_NAME ":1: net allow: '::1': IPv6 "
		  "addresses go in brackets, as in [::1]:443" },
		{ "net allow [::g]", FILE_NAME ":1: net allow: '[::g]': bad "
		  "IPv6 address" },
		{ "net allow [::1", FILE_NAME ":1: net allow: '[::1': missing "
		  "']'" },
		{ "net allow [::1]443", FILE_NAME ":1: net allow: '[::1]443': "
		  "expected ':PORT' after ']'" },
		{ "env", FILE_NAME ":1: env: missing pass or drop" },
		{ "env keep X", FILE_NAME ":1: env: expected pass or drop, not "
		  "'keep'" },
		{ "env drop", FILE_NAME ":1: env drop: missing NAME" },
		{ "env drop A B", FILE_NAME ":1: env drop: too many arguments "
		  "(one NAME a rule)" },
		{ "env drop FOO-BAR", FILE_NAME ":1: env drop: bad variable "
		  "name 'FOO-BAR' (letters, digits and '_', not starting with "
		  "a digit, with one optional '*' at the start or the end)" },
		{ "env pass 1X", FILE_NAME ":1: env pass: bad variable name "
		  "'1X' (letters, digits and '_', not starting with a digit, "
		  "with one optional '*' at the start or the end)" },
		{ "env drop *", FILE_NAME ":1: env drop: bad variable name '*' "
		  "(letters, digits and '_', not starting with a digit, with "
		  "one optional '*' at the start or the end)" },
		{ "env drop *X*", FILE_NAME ":1: env drop: bad variable name "
		  "'*X*' (letters, digits and '_', not starting with a digit, "
		  "with one optional '*' at the start or the end)" },
		{ "env drop A*B", FILE_NAME ":1: env drop: bad variable name "
		  "'A*B' (letters, digits and '_', not starting with a digit, "
		  "with one optional '*' at the start or the end)" },
		{ "deny \"~/a b", FILE_NAME ":1: unterminated quote" },
		{ "deny \"~/a\\\"", FILE_NAME ":1: unterminated quote" },
		{ "deny \"~/a\\n\"", FILE_NAME ":1: bad escape in quotes (only "
		  "\\\" and \\\\ work)" },
		{ "deny \"~/a\"b", FILE_NAME ":1: text right after a closing "
		  "quote" },
		{ "deny ~/a\"b\"", FILE_NAME ":1: a quote inside a word (quote "
		  "the whole word)" },
		{ "ok\n", FILE_NAME ":1: unknown rule 'ok' (expected deny, ro, "
		  "rw, tmp, net or env)" },
		{ "deny ~/a\x01", FILE_NAME ":1: control character 0x01 in the "
		  "line" },
		{ "# \x1b[31m\n", FILE_NAME ":1: control character 0x1b in the "
		  "line" },
		{ "deny ~/a\x7f", FILE_NAME ":1: control character 0x7f in the "
		  "line" },
		{ "deny ~/a\rb", FILE_NAME ":1: control character 0x0d in the "
		  "line" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		parse_err(cases[i].text, strlen(cases[i].text), 0, cases[i].want);

	/* A NUL byte, on line 2, even inside a comment. */
	parse_err("deny ~/a\n# x\0y\n", 15, 0,
	    FILE_NAME ":2: NUL byte in the line");
	parse_err("deny ~/a\0/etc\n", 14, 0, FILE_NAME ":1: NUL byte in the "
	    "line");

	/* 4096 bytes is the longest line (without its newline). */
	memset(line, ' ', 4096);
	memcpy(line, "deny ~/x", 8);
	memcpy(line + 4096, "\n", 2);
	{
		struct policy p;

		policy_init(&p);
		parse_ok(&p, line, 0);
		policy_free(&p);
	}
	line[4096] = ' ';
	memcpy(line + 4097, "\n", 2);
	parse_err(line, 4098, 0, FILE_NAME ":1: line longer than 4096 bytes");
	/* Binary junk is an error, never a crash. */
	for (i = 0; i < 4098; i++)
		line[i] = (char)(i * 131 + 7);
	{
		struct policy p;
		char *cause;

		policy_init(&p);
		cause = parse(&p, line, 4098, 0, "/home/u", "/home/u/p");
		assert_non_null(cause);
		assert_true(strncmp(cause, FILE_NAME ":", strlen(FILE_NAME) + 1)
		    == 0);
		free(cause);
		policy_free(&p);
	}
	free(line);

	/* ~ without $HOME, a relative path without a tree. */
	{
		struct policy p;
		char *cause;

		policy_init(&p);
		cause = parse(&p, "\ndeny ~/.x", 10, 0, NULL, "/t");
		assert_string_equal(cause, FILE_NAME ":2: deny: '~/.x': $HOME "
		    "is not set");
		free(cause);
		cause = parse(&p, "ro x/y", 6, 0, "/h", NULL);
		assert_string_equal(cause, FILE_NAME ":1: ro: 'x/y': a "
		    "relative path needs the real tree");
		free(cause);
		policy_free(&p);
	}
}

static void
test_policy_restrict_only(void **state)
{
	struct policy p;

	parse_err("rw ~/.cache", 11, 1, FILE_NAME ":1: 'rw' loosens the "
	    "policy: the tree's policy may only add restrictions (deny, ro, "
	    "net none, net allow, env drop)");
	parse_err("deny x\ntmp build", 16, 1, FILE_NAME ":2: 'tmp' loosens "
	    "the policy: the tree's policy may only add restrictions (deny, "
	    "ro, net none, net allow, env drop)");
	parse_err("env pass GITHUB_TOKEN", 21, 1, FILE_NAME ":1: 'env pass' "
	    "loosens the policy: the tree's policy may only add restrictions "
	    "(deny, ro, net none, net allow, env drop)");
	parse_err("net host", 8, 1, FILE_NAME ":1: 'net host' loosens the "
	    "policy: the tree's policy may only add restrictions (deny, ro, "
	    "net none, net allow, env drop)");
	/* ro over a deny, below a denied directory, over a name pattern. */
	parse_err("ro ~/.ssh", 9, 1, FILE_NAME ":1: 'ro /home/u/.ssh' would "
	    "uncover what 'deny /home/u/.ssh' (default) hides: the tree's "
	    "policy may only add restrictions (deny, ro, net none, net allow, "
	    "env drop)");
	parse_err("ro ~/.ssh/known_hosts", 21, 1, FILE_NAME ":1: 'ro "
	    "/home/u/.ssh/known_hosts' would uncover what 'deny /home/u/.ssh' "
	    "(default) hides: the tree's policy may only add restrictions "
	    "(deny, ro, net none, net allow, env drop)");
	parse_err("ro config/.env", 14, 1, FILE_NAME ":1: 'ro "
	    "/home/u/p/config/.env' would uncover what 'deny .env' (default) "
	    "hides: the tree's policy may only add restrictions (deny, ro, "
	    "net none, net allow, env drop)");
	parse_err("ro keys/x.pem/inner", 19, 1, FILE_NAME ":1: 'ro "
	    "/home/u/p/keys/x.pem/inner' would uncover what 'deny *.pem' "
	    "(default) hides: the tree's policy may only add restrictions "
	    "(deny, ro, net none, net allow, env drop)");
	parse_err("deny secret\nro secret", 21, 1, FILE_NAME ":2: 'ro "
	    "/home/u/p/secret' would uncover what 'deny secret' ("
	    FILE_NAME ":1) hides: the tree's policy may only add restrictions "
	    "(deny, ro, net none, net allow, env drop)");

	/* What the tree's file may do. */
	policy_init(&p);
	policy_add_defaults(&p, "/home/u");
	parse_ok(&p, "deny secrets/\ndeny *.key\nro src\nro ~/.config\n"
	    "env drop OPENAI_API_KEY\nnet allow *.example.com:443 a.org\n", 1);
	assert_int_equal(rule_find(&p, "/home/u/p/secrets", 0)->action,
	    POLICY_DENY);
	assert_int_equal(rule_find(&p, "/home/u/p/src", 0)->action, POLICY_RO);
	assert_int_equal(p.net, NET_ALLOW);
	/* A narrower allow list passes, a wider one does not. */
	parse_ok(&p, "net allow api.example.com:443 *.x.example.com:443 "
	    "a.org:80\n", 1);
	assert_int_equal(p.nnet_allow, 3);
	policy_free(&p);

	policy_init(&p);
	policy_add_defaults(&p, "/home/u");
	parse_ok(&p, "net allow *.example.com:443 a.org\n", 0);
	{
		static const char *wider[] = {
			"net allow example.com:443",
			"net allow api.example.com",
			"net allow api.example.com:80",
			"net allow b.org",
			"net allow a.org.evil.com",
			"net allow [::1]:443",
		};

		for (size_t i = 0; i < sizeof wider / sizeof wider[0]; i++) {
			char *cause = parse(&p, wider[i], strlen(wider[i]), 1,
			    "/home/u", "/home/u/p");

			if (cause == NULL)
				fail_msg("'%s' widened the allow list", wider[i]);
			assert_non_null(strstr(cause, "the tree's policy may "
			    "only narrow it"));
			assert_non_null(strstr(cause, FILE_NAME ":1"));
			free(cause);
		}
	}
	assert_int_equal(p.nnet_allow, 2);
	parse_ok(&p, "net none", 1);
	assert_int_equal(p.net, NET_NONE);
	{
		char *cause = parse(&p, "net allow a.org", 15, 1, "/home/u",
		    "/home/u/p");

		assert_string_equal(cause, FILE_NAME ":1: 'net allow' loosens "
		    "'net none' (" FILE_NAME ":1): the tree's policy may only "
		    "add restrictions (deny, ro, net none, net allow, env drop)");
		free(cause);
	}
	policy_free(&p);
}

static void
test_policy_override_order(void **state)
{
	const struct policy_rule *r;
	struct policy p;
	size_t n;

	policy_init(&p);
	policy_add_defaults(&p, "/home/u");
	n = p.nrules;
	/* A user's file removes a default deny by giving the path a rule. */
	parse_ok(&p, "rw ~/.config/gh\nenv pass GITHUB_TOKEN\n"
	    "env pass *_TOKEN\n", 0);
	assert_int_equal(p.nrules, n);
	r = rule_find(&p, "/home/u/.config/gh", 0);
	assert_int_equal(r->action, POLICY_RW);
	assert_string_equal(r->origin, FILE_NAME ":1");
	/* The replacing rule moves to the end: it is the latest. */
	assert_ptr_equal(r, &p.rules[p.nrules - 1]);
	assert_true(env_find(&p, "*_TOKEN")->pass);
	assert_string_equal(env_find(&p, "*_TOKEN")->origin, FILE_NAME ":3");
	/* And a later rule replaces it again. */
	parse_ok(&p, "\n\nro ~/.config/gh/\n", 0);
	r = rule_find(&p, "/home/u/.config/gh", 0);
	assert_int_equal(r->action, POLICY_RO);
	assert_string_equal(r->origin, FILE_NAME ":3");
	assert_int_equal(p.nrules, n);
	/* Patterns and paths are different keys. */
	parse_ok(&p, "deny secret\ndeny ./secret\n", 0);
	assert_int_equal(p.nrules, n + 2);
	policy_free(&p);
}

static int
env_has(char **env, const char *entry)
{
	for (size_t i = 0; env[i] != NULL; i++) {
		if (strcmp(env[i], entry) == 0)
			return 1;
	}
	return 0;
}

static void
test_policy_environ(void **state)
{
	char *envp[] = {
		"PATH=/usr/bin", "HOME=/home/u", "SSH_AUTH_SOCK=/run/agent",
		"GPG_AGENT_INFO=x", "GITHUB_TOKEN=ghp", "GH_TOKEN=gh",
		"AWS_SECRET_ACCESS_KEY=k", "AWS_ACCESS_KEY_ID=id",
		"AWS_SESSION_TOKEN=s", "DB_PASSWORD=pw", "APP_SECRET=s",
		"DJANGO_SECRET_KEY=k", "GOOGLE_APPLICATION_CREDENTIALS=/f",
		"AZURE_CLIENT_SECRET=s", "DOCKER_AUTH_CONFIG={}",
		"ANTHROPIC_API_KEY=sk-ant", "OPENAI_API_KEY=sk",
		"CLAUDE_CODE_OAUTH_TOKEN=oauth", "TOKEN=bare", "NOEQUALS",
		"X_TOKEN_Y=kept", "_TOKEN=dropped", "MY_VAR=a=b", NULL
	};
	static const char *kept[] = {
		"PATH=/usr/bin", "HOME=/home/u", "AWS_ACCESS_KEY_ID=id",
		"ANTHROPIC_API_KEY=sk-ant", "OPENAI_API_KEY=sk",
		"CLAUDE_CODE_OAUTH_TOKEN=oauth", "TOKEN=bare", "NOEQUALS",
		"X_TOKEN_Y=kept", "MY_VAR=a=b",
	};
	struct policy p;
	char **env;
	size_t n, i;

	policy_init(&p);
	policy_add_defaults(&p, "/home/u");
	env = policy_environ(&p, envp);
	for (n = 0; env[n] != NULL; n++)
		;
	for (i = 0; i < sizeof kept / sizeof kept[0]; i++) {
		if (!env_has(env, kept[i]))
			fail_msg("%s was dropped", kept[i]);
	}
	assert_int_equal(n, sizeof kept / sizeof kept[0]);
	env_free(env);

	/* Later rules win: pass one token back, drop the model key. */
	parse_ok(&p, "env pass GITHUB_TOKEN\nenv drop ANTHROPIC_API_KEY\n"
	    "env drop PATH\nenv drop MY_*\nenv drop *ACCESS_KEY_ID\n", 0);
	env = policy_environ(&p, envp);
	assert_true(env_has(env, "GITHUB_TOKEN=ghp"));
	assert_false(env_has(env, "GH_TOKEN=gh"));
	assert_false(env_has(env, "ANTHROPIC_API_KEY=sk-ant"));
	assert_false(env_has(env, "PATH=/usr/bin"));
	assert_false(env_has(env, "MY_VAR=a=b"));
	assert_false(env_has(env, "AWS_ACCESS_KEY_ID=id"));
	assert_true(env_has(env, "OPENAI_API_KEY=sk"));
	env_free(env);

	/* ... and a drop after a pass wins again. */
	parse_ok(&p, "env drop GITHUB_TOKEN\n", 0);
	env = policy_environ(&p, envp);
	assert_false(env_has(env, "GITHUB_TOKEN=ghp"));
	env_free(env);
	policy_free(&p);

	/* An empty environment. */
	{
		char *none[] = { NULL };

		policy_init(&p);
		env = policy_environ(&p, none);
		assert_null(env[0]);
		env_free(env);
		policy_free(&p);
	}
}

static void
test_policy_set_net(void **state)
{
	static const char *bad[] = {
		"off", "allow", "allow:", "allow:,", "allow:a.com,b_c.com",
		"allow:a.com:99999", "None", "allow:::1",
	};
	struct policy p;
	char *cause = NULL;

	policy_init(&p);
	assert_int_equal(policy_set_net(&p, "none", &cause), 0);
	assert_int_equal(p.net, NET_NONE);
	assert_string_equal(p.net_origin, "--net");
	assert_int_equal(policy_set_net(&p,
	    "allow:API.example.com:443,*.pypi.org,[2001:db8::1]:22", &cause), 0);
	assert_int_equal(p.net, NET_ALLOW);
	assert_int_equal(p.nnet_allow, 3);
	assert_string_equal(p.net_allow[0], "api.example.com:443");
	assert_string_equal(p.net_allow[1], "*.pypi.org");
	assert_string_equal(p.net_allow[2], "[2001:db8::1]:22");
	assert_int_equal(policy_set_net(&p, "host", &cause), 0);
	assert_int_equal(p.net, NET_HOST);
	assert_int_equal(p.nnet_allow, 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		if (policy_set_net(&p, bad[i], &cause) == 0)
			fail_msg("--net %s was accepted", bad[i]);
		assert_non_null(cause);
		assert_true(strncmp(cause, "--net ", 6) == 0);
		free(cause);
	}
	/* A failed --net leaves the policy as it was. */
	assert_int_equal(p.net, NET_HOST);
	policy_free(&p);
}

static void
test_policy_load(void **state)
{
	struct world w;
	struct policy p;
	char *cause = NULL, *xdg, *extra, *big, *path;
	const char *old_xdg = getenv("XDG_CONFIG_HOME");
	char *saved = old_xdg != NULL ? xstrdup(old_xdg) : NULL;

	world_make(&w);
	xdg = world_path(w.base, "xdg");
	world_mkdirs(xdg, "airlock");
	assert_int_equal(setenv("XDG_CONFIG_HOME", xdg, 1), 0);

	/* Nothing but the defaults. */
	policy_init(&p);
	assert_int_equal(policy_load(&p, w.home, w.tree, NULL, &cause), 0);
	assert_int_equal(p.nrules, 12 + 2 + 5);
	policy_free(&p);

	/* User file, then --policy, then the tree's file. */
	world_write(xdg, "airlock/policy", "rw ~/.config/gh\nnet allow "
	    "*.example.com\nenv pass GH_TOKEN\n");
	extra = world_path(w.base, "extra-policy");
	world_write(w.base, "extra-policy", "deny ~/notes\n");
	world_write(w.tree, ".airlock-policy", "deny ~/.config/gh\n"
	    "net allow api.example.com:443\nenv drop GH_TOKEN\n");
	policy_init(&p);
	assert_int_equal(policy_load(&p, w.home, w.tree, extra, &cause), 0);
	{
		char *gh = world_path(w.home, ".config/gh");
		char *notes = world_path(w.home, "notes");
		char *own = world_path(w.tree, ".airlock-policy:1");
		const struct policy_rule *r = rule_find(&p, gh, 0);

		assert_int_equal(r->action, POLICY_DENY);
		assert_string_equal(r->origin, own);
		r = rule_find(&p, notes, 0);
		assert_non_null(r);
		assert_true(ends_with(r->origin, "/extra-policy:1"));
		assert_false(env_find(&p, "GH_TOKEN")->pass);
		assert_int_equal(p.nnet_allow, 1);
		assert_string_equal(p.net_allow[0], "api.example.com:443");
		free(gh);
		free(notes);
		free(own);
	}
	policy_free(&p);

	/* The tree's file may not loosen what the user's file set. */
	world_write(w.tree, ".airlock-policy", "# mine\nrw ~/.ssh\n");
	policy_init(&p);
	assert_int_equal(policy_load(&p, w.home, w.tree, NULL, &cause), -1);
	path = world_path(w.tree, ".airlock-policy:2: 'rw' loosens the policy");
	assert_true(strncmp(cause, path, strlen(path)) == 0);
	free(path);
	free(cause);
	policy_free(&p);
	world_write(w.tree, ".airlock-policy", "net allow other.org\n");
	policy_init(&p);
	assert_int_equal(policy_load(&p, w.home, w.tree, NULL, &cause), -1);
	assert_non_null(strstr(cause, "'other.org' is not in the allow list"));
	free(cause);
	policy_free(&p);
	world_write(w.tree, ".airlock-policy", "");

	/* --policy must exist; a directory or a huge file is no policy. */
	policy_init(&p);
	path = world_path(w.base, "missing");
	assert_int_equal(policy_load(&p, w.home, w.tree, path, &cause), -1);
	assert_non_null(strstr(cause, "missing: No such file or directory"));
	free(cause);
	free(path);
	policy_free(&p);
	policy_init(&p);
	assert_int_equal(policy_load(&p, w.home, w.tree, w.outside, &cause),
	    -1);
	assert_non_null(strstr(cause, "not a regular file"));
	free(cause);
	policy_free(&p);
	big = xmalloc(1024 * 1024 + 2);
	memset(big, '#', 1024 * 1024 + 1);
	big[1024 * 1024 + 1] = '\0';
	world_write(w.base, "big", big);
	free(big);
	path = world_path(w.base, "big");
	policy_init(&p);
	assert_int_equal(policy_load(&p, w.home, w.tree, path, &cause), -1);
	assert_non_null(strstr(cause, "larger than 1 MiB"));
	free(cause);
	free(path);
	policy_free(&p);

	/* Without XDG_CONFIG_HOME: ~/.config/airlock/policy. */
	unsetenv("XDG_CONFIG_HOME");
	world_mkdirs(w.home, ".config/airlock");
	world_write(w.home, ".config/airlock/policy", "bogus\n");
	policy_init(&p);
	assert_int_equal(policy_load(&p, w.home, w.tree, NULL, &cause), -1);
	assert_non_null(strstr(cause, "/.config/airlock/policy:1: unknown "
	    "rule 'bogus'"));
	free(cause);
	policy_free(&p);

	if (saved != NULL)
		setenv("XDG_CONFIG_HOME", saved, 1);
	free(saved);
	free(extra);
	free(xdg);
	world_free(&w);
}

/* The tree of the pattern walk test. */
static void
walk_tree_make(struct world *w)
{
	world_write(w->tree, ".env", "SECRET=1\n");
	world_mkdirs(w->tree, "a/b");
	world_write(w->tree, "a/.env.local", "x");
	world_write(w->tree, "a/b/server.pem", "x");
	world_write(w->tree, "a/b/readme.md", "x");
	world_write(w->tree, "a/we\nird.pem", "x");
	/* id_rsa at depth 9: beyond the bound; at depth 8: found. */
	world_mkdirs(w->tree, "deep/1/2/3/4/5/6/7");
	world_write(w->tree, "deep/1/2/3/4/5/6/7/id_rsa", "x");
	world_mkdirs(w->tree, "deep2/1/2/3/4/5/6");
	world_write(w->tree, "deep2/1/2/3/4/5/6/id_ed25519", "x");
	world_mkdirs(w->tree, ".git");
	world_write(w->tree, ".git/x.pem", "x");
	world_mkdirs(w->tree, "node_modules/pkg");
	world_write(w->tree, "node_modules/y.pem", "x");
	world_write(w->tree, "node_modules/pkg/.env", "x");
	/* A directory matching a pattern is masked whole. */
	world_mkdirs(w->tree, ".env.d");
	world_write(w->tree, ".env.d/inner.pem", "x");
	/* Symlinks: a .env pointing out, a directory pointing out. */
	world_mkdirs(w->tree, "sub");
	world_symlink("/etc/passwd", w->tree, "sub/.env");
	world_write(w->outside, ".env", "x");
	world_write(w->outside, "key.pem", "x");
	world_symlink(w->outside, w->tree, "linkdir");
	world_symlink("../../outside/key.pem", w->tree, "link.pem");
}

static void
test_policy_plan_walk(void **state)
{
	static const char *denied_files[] = {
		".env", "a/.env.local", "a/b/server.pem", "a/we\nird.pem",
		"deep2/1/2/3/4/5/6/id_ed25519", "sub/.env", "link.pem",
	};
	static const char *not_listed[] = {
		"a/b/readme.md", "deep/1/2/3/4/5/6/7/id_rsa", ".git/x.pem",
		"node_modules/y.pem", "node_modules/pkg/.env",
		".env.d/inner.pem", "linkdir/.env", "linkdir/key.pem", "linkdir",
	};
	const struct plan_entry *e;
	struct world w;
	struct policy p;
	struct plan plan;
	size_t i, masks = 0;

	world_make(&w);
	walk_tree_make(&w);
	policy_init(&p);
	policy_add_defaults(&p, w.home);
	plan_make(&w, &p, &plan);
	assert_false(plan.truncated);

	for (i = 0; i < sizeof denied_files / sizeof denied_files[0]; i++) {
		e = plan_find_in(&plan, w.tree, denied_files[i]);
		if (e == NULL)
			fail_msg("%s is not denied", denied_files[i]);
		assert_int_equal(e->kind, PLAN_DENY_FILE);
		assert_true(strncmp(e->origin, "default: name ", 14) == 0);
	}
	e = plan_find_in(&plan, w.tree, ".env.d");
	assert_non_null(e);
	assert_int_equal(e->kind, PLAN_DENY_DIR);
	assert_string_equal(e->origin, "default: name .env.*");
	for (i = 0; i < sizeof not_listed / sizeof not_listed[0]; i++) {
		if (plan_find_in(&plan, w.tree, not_listed[i]) != NULL)
			fail_msg("%s is in the plan", not_listed[i]);
	}
	/* Nothing was followed out of the tree. */
	for (i = 0; i < plan.n; i++) {
		e = &plan.v[i];
		if (e->kind == PLAN_DENY_FILE || e->kind == PLAN_DENY_DIR) {
			masks++;
			if (strcmp(e->path, w.store) != 0 &&
			    !path_is_under(e->path, w.tree))
				fail_msg("mask outside the tree: %s", e->path);
		}
		assert_false(path_is_under(e->path, w.outside));
		assert_string_not_equal(e->path, "/etc/passwd");
	}
	/* 7 files, .env.d and the store. */
	assert_int_equal(masks, 9);
	assert_int_equal(plan.hidden, 9);
	assert_plan_ordered(&plan);
	plan_free(&plan);

	/* The depth bound is the walk's: 9 levels find the deep id_rsa. */
	policy_set_walk_limits(9, 0);
	plan_make(&w, &p, &plan);
	assert_non_null(plan_find_in(&plan, w.tree,
	    "deep/1/2/3/4/5/6/7/id_rsa"));
	plan_free(&plan);
	policy_set_walk_limits(0, 0);

	policy_free(&p);
	world_free(&w);
}

static void
test_policy_plan_truncated(void **state)
{
	struct world w;
	struct policy p;
	struct plan plan;
	struct buf out = BUF_INIT;
	char name[32], *log, *text, *cause = NULL;
	int saved, fd;
	size_t len;

	world_make(&w);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof name, "f%02d", i);
		world_write(w.tree, name, "x");
	}
	world_write(w.tree, "zz.pem", "x");
	policy_init(&p);
	policy_add_defaults(&p, w.home);
	policy_set_walk_limits(0, 10);

	/* The warning goes to stderr once per walk. */
	log = world_path(w.base, "stderr");
	fflush(stderr);
	saved = dup(2);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	plan_make(&w, &p, &plan);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_true(plan.truncated);
	text = path_read_file(log, 65536, &len, &cause);
	assert_non_null(text);
	assert_non_null(strstr(text, "airlock: policy: stopped looking for "
	    "name patterns"));
	assert_non_null(strstr(text, "after 10 entries"));
	assert_non_null(strstr(text, "add 'deny PATH' rules"));
	assert_null(strstr(strstr(text, "stopped") + 1, "stopped"));
	free(text);
	plan_print(&out, &p, &plan);
	assert_non_null(strstr(out.data, "the walk stopped after 10 entries"));
	buf_free(&out);
	plan_free(&plan);

	/* With the default limit the whole tree is walked. */
	policy_set_walk_limits(0, 0);
	plan_make(&w, &p, &plan);
	assert_false(plan.truncated);
	assert_non_null(plan_find_in(&plan, w.tree, "zz.pem"));
	plan_free(&plan);
	free(log);
	policy_free(&p);
	world_free(&w);
}

static void
test_policy_plan_order(void **state)
{
	const struct plan_entry *e;
	struct world w;
	struct policy p;
	struct plan plan;
	char *tmp = realpath("/tmp", NULL), *path;
	long i_home = -1, i_tree = -1, i_ssh = -1, i_known = -1;

	world_make(&w);
	world_mkdirs(w.home, ".ssh");
	world_write(w.home, ".ssh/known_hosts", "x");
	world_write(w.home, ".netrc", "x");
	world_write(w.home, "notes.txt", "x");
	world_mkdirs(w.home, ".claude");
	world_mkdirs(w.home, "cache");
	world_mkdirs(w.home, "docs");
	world_mkdirs(w.tree, "node_modules");
	world_write(w.tree, ".env", "x");
	policy_init(&p);
	policy_add_defaults(&p, w.home);
	{
		char *text = xasprintf("rw ~/.ssh/known_hosts\nrw ~/.claude\n"
		    "tmp ~/cache\nro ~/docs\nro /usr\nrw node_modules\n"
		    "deny ~/missing\ntmp ~/notes.txt\nro %s/outside\n", w.base);

		parse(&p, text, strlen(text), 0, w.home, w.tree);
		free(text);
	}
	plan_make(&w, &p, &plan);
	assert_plan_ordered(&plan);
	for (size_t i = 0; i < plan.n; i++) {
		e = &plan.v[i];
		if (strcmp(e->path, w.home) == 0)
			i_home = (long)i;
		if (strcmp(e->path, w.tree) == 0)
			i_tree = (long)i;
		if (ends_with(e->path, "/home/.ssh"))
			i_ssh = (long)i;
		if (ends_with(e->path, "/home/.ssh/known_hosts"))
			i_known = (long)i;
	}
	assert_true(i_home >= 0 && i_tree > i_home);
	assert_true(i_ssh > i_home && i_known > i_ssh);

	e = plan_find(&plan, w.home);
	assert_int_equal(e->kind, PLAN_TMP);
	assert_string_equal(e->origin, "default: $HOME is a throwaway layer");
	e = plan_find(&plan, w.tree);
	assert_int_equal(e->kind, PLAN_TREE);
	assert_string_equal(e->origin, "the real tree: writes go to the "
	    "scratch");
	e = plan_find(&plan, tmp);
	assert_non_null(e);
	assert_int_equal(e->kind, PLAN_PRIVATE);
	assert_int_equal(plan_find_in(&plan, w.home, ".ssh")->kind,
	    PLAN_DENY_DIR);
	assert_int_equal(plan_find_in(&plan, w.home, ".netrc")->kind,
	    PLAN_DENY_FILE);
	assert_int_equal(plan_find_in(&plan, w.home, ".ssh/known_hosts")->kind,
	    PLAN_RW);
	assert_int_equal(plan_find_in(&plan, w.home, ".claude")->kind, PLAN_RW);
	assert_int_equal(plan_find_in(&plan, w.home, "cache")->kind, PLAN_TMP);
	assert_int_equal(plan_find_in(&plan, w.home, "docs")->kind, PLAN_RO);
	assert_int_equal(plan_find_in(&plan, w.tree, "node_modules")->kind,
	    PLAN_RW);
	assert_int_equal(plan_find_in(&plan, w.tree, ".env")->kind,
	    PLAN_DENY_FILE);
	e = plan_find(&plan, w.store);
	assert_non_null(e);
	assert_int_equal(e->kind, PLAN_DENY_DIR);
	assert_string_equal(e->origin, "always: the airlock store");

	/* Not mounted: absent paths, no-op ro, tmp of a file. */
	assert_null(plan_find(&plan, "/usr"));
	e = skipped_find(&plan, "/usr");
	assert_non_null(e);
	assert_true(ends_with(e->origin, "; no-op: already read-only"));
	/* Below the private /tmp a ro bind is no no-op. */
	if (path_is_under(w.base, tmp))
		assert_int_equal(plan_find(&plan, w.outside)->kind, PLAN_RO);
	path = world_path(w.home, ".aws");
	assert_null(plan_find(&plan, path));
	e = skipped_find(&plan, path);
	assert_non_null(e);
	assert_string_equal(e->origin, "default; absent");
	free(path);
	path = world_path(w.home, "missing");
	assert_true(ends_with(skipped_find(&plan, path)->origin, ":7; absent"));
	free(path);
	path = world_path(w.home, "notes.txt");
	assert_true(ends_with(skipped_find(&plan, path)->origin,
	    ":8; not a directory (tmp needs one)"));
	free(path);

	{
		size_t masks = 0;

		for (size_t i = 0; i < plan.n; i++) {
			if (plan.v[i].kind == PLAN_DENY_DIR ||
			    plan.v[i].kind == PLAN_DENY_FILE)
				masks++;
		}
		assert_int_equal(plan.hidden, masks);
		/* .ssh, .netrc, tree/.env, the store, maybe docker. */
		assert_true(masks >= 4);
	}
	plan_free(&plan);
	policy_free(&p);
	free(tmp);
	world_free(&w);
}

static void
test_policy_plan_overrides(void **state)
{
	const struct plan_entry *e;
	struct world w;
	struct policy p;
	struct plan plan;
	char *text, *path;

	world_make(&w);
	world_write(w.tree, ".env", "x");
	world_mkdirs(w.tree, "keys");
	world_write(w.tree, "keys/a.pem", "x");
	world_mkdirs(w.home, ".aws");
	world_write(w.home, ".aws/credentials", "x");
	policy_init(&p);
	policy_add_defaults(&p, w.home);
	/* The user's later rule for one match beats the default pattern. */
	text = "ro ./.env\nro keys/a.pem\ndeny ~/.aws/credentials\n"
	    "deny .\nrw ~\n";
	assert_null(parse(&p, text, strlen(text), 0, w.home, w.tree));
	/* The tree's later pattern beats the user's rule for keys/a.pem. */
	text = "deny a.pem\n";
	assert_null(parse(&p, text, strlen(text), 1, w.home, w.tree));
	plan_make(&w, &p, &plan);
	assert_plan_ordered(&plan);

	e = plan_find_in(&plan, w.tree, ".env");
	assert_non_null(e);
	assert_int_equal(e->kind, PLAN_RO);
	path = world_path(w.tree, ".env");
	e = skipped_find(&plan, path);
	assert_non_null(e);
	assert_non_null(strstr(e->origin, "overridden by " FILE_NAME ":1"));
	free(path);
	e = plan_find_in(&plan, w.tree, "keys/a.pem");
	assert_int_equal(e->kind, PLAN_DENY_FILE);
	assert_string_equal(e->origin, FILE_NAME ":1: name a.pem");
	/* A deny below a denied directory is covered, not mounted. */
	assert_null(plan_find_in(&plan, w.home, ".aws/credentials"));
	path = world_path(w.home, ".aws/credentials");
	assert_non_null(strstr(skipped_find(&plan, path)->origin,
	    "covered by the mask of"));
	free(path);
	/* The tree itself is always the overlay. */
	e = plan_find(&plan, w.tree);
	assert_int_equal(e->kind, PLAN_TREE);
	/* rw ~ replaces the throwaway layer of $HOME. */
	e = plan_find(&plan, w.home);
	assert_int_equal(e->kind, PLAN_RW);
	assert_string_equal(e->origin, FILE_NAME ":5");
	plan_free(&plan);
	policy_free(&p);
	world_free(&w);
}

static void
test_policy_plan_symlinks(void **state)
{
	const struct plan_entry *e;
	struct world w;
	struct policy p;
	struct plan plan;
	char *target;

	world_make(&w);
	/* A dotfile manager's ~/.aws -> ~/dotfiles/aws: both are masked. */
	world_mkdirs(w.home, "dotfiles/aws");
	world_symlink("dotfiles/aws", w.home, ".aws");
	/* A dangling ~/.kube link is masked as a file. */
	world_symlink("/nonexistent/kube", w.home, ".kube");
	/* A deny of a link to $HOME masks the link, never $HOME. */
	world_symlink(".", w.home, "selflink");
	policy_init(&p);
	policy_add_defaults(&p, w.home);
	parse(&p, "deny ~/selflink", 15, 0, w.home, w.tree);
	plan_make(&w, &p, &plan);

	e = plan_find_in(&plan, w.home, ".aws");
	assert_non_null(e);
	assert_int_equal(e->kind, PLAN_DENY_FILE);
	target = world_path(w.home, "dotfiles/aws");
	e = plan_find(&plan, target);
	assert_non_null(e);
	assert_int_equal(e->kind, PLAN_DENY_DIR);
	assert_non_null(strstr(e->origin, "default: the target of "));
	free(target);
	e = plan_find_in(&plan, w.home, ".kube");
	assert_non_null(e);
	assert_int_equal(e->kind, PLAN_DENY_FILE);
	e = plan_find_in(&plan, w.home, "selflink");
	assert_non_null(e);
	assert_int_equal(e->kind, PLAN_DENY_FILE);
	assert_int_equal(plan_find(&plan, w.home)->kind, PLAN_TMP);
	assert_plan_ordered(&plan);
	plan_free(&plan);
	policy_free(&p);

	/*
	 * A ro rule that reaches a masked path through a symlink: the tree's
	 * file is refused at parse time, even for a link in the middle of
	 * the path; a user's rule mounts nothing (naming the path itself is
	 * the way to uncover it).
	 */
	world_mkdirs(w.home, ".ssh");
	world_write(w.home, ".ssh/known_hosts", "x");
	world_symlink("../.ssh/known_hosts", w.tree, "peek");
	world_symlink("../.ssh", w.tree, "sshdir");
	policy_init(&p);
	policy_add_defaults(&p, w.home);
	{
		static const char *tree_rules[] = {
			"ro peek", "ro sshdir/known_hosts", "ro sshdir",
			"ro ./peek/", "ro aws-link",
		};

		world_symlink("../dotfiles/aws", w.tree, "aws-link");
		for (size_t i = 0; i < 5; i++) {
			char *cause = parse(&p, tree_rules[i],
			    strlen(tree_rules[i]), 1, w.home, w.tree);

			if (cause == NULL)
				fail_msg("'%s' was accepted", tree_rules[i]);
			assert_non_null(strstr(cause, "would uncover what "
			    "'deny "));
			free(cause);
		}
	}
	assert_null(parse(&p, "ro peek\nro sshdir", 17, 0, w.home, w.tree));
	plan_make(&w, &p, &plan);
	target = world_path(w.home, ".ssh/known_hosts");
	assert_null(plan_find(&plan, target));
	e = skipped_find(&plan, target);
	assert_non_null(e);
	assert_int_equal(e->kind, PLAN_RO);
	assert_non_null(strstr(e->origin, "; a symlink into the mask of "));
	free(target);
	target = world_path(w.home, ".ssh");
	assert_int_equal(plan_find(&plan, target)->kind, PLAN_DENY_DIR);
	free(target);
	assert_plan_ordered(&plan);
	plan_free(&plan);
	policy_free(&p);
	world_free(&w);
}

static void
test_policy_plan_store(void **state)
{
	static const char *refused[] = { "rw", "ro", "tmp" };
	struct world w;
	struct policy p;
	struct plan plan;
	char *cause = NULL, *text, *path, *absent;

	world_make(&w);
	world_mkdirs(w.store, "tree-1/sessions");
	for (size_t i = 0; i < 3; i++) {
		policy_init(&p);
		text = xasprintf("\n%s %s/tree-1/sessions\n", refused[i],
		    w.store);
		assert_null(parse(&p, text, strlen(text), 0, w.home, w.tree));
		assert_int_equal(policy_plan(&p, w.tree, w.home, w.store, &plan,
		    &cause), -1);
		path = xasprintf(FILE_NAME ":2: %s %s/tree-1/sessions: inside "
		    "the airlock store %s, which is never visible in the "
		    "sandbox", refused[i], w.store, w.store);
		assert_string_equal(cause, path);
		assert_int_equal(plan.n, 0);
		free(path);
		free(cause);
		free(text);
		policy_free(&p);
	}
	/* Also through a symlink that leads into the store. */
	world_symlink(w.store, w.home, "storelink");
	policy_init(&p);
	parse(&p, "rw ~/storelink", 14, 0, w.home, w.tree);
	assert_int_equal(policy_plan(&p, w.tree, w.home, w.store, &plan,
	    &cause), -1);
	assert_non_null(strstr(cause, "inside the airlock store"));
	free(cause);
	policy_free(&p);

	/* A deny inside the store is covered by the store's own mask. */
	policy_init(&p);
	text = xasprintf("deny %s/tree-1\nrw ~/.local\n", w.store);
	parse(&p, text, strlen(text), 0, w.home, w.tree);
	free(text);
	plan_make(&w, &p, &plan);
	assert_int_equal(plan_find(&plan, w.store)->kind, PLAN_DENY_DIR);
	path = world_path(w.store, "tree-1");
	assert_null(plan_find(&plan, path));
	assert_non_null(skipped_find(&plan, path));
	free(path);
	assert_plan_ordered(&plan);
	plan_free(&plan);

	/* An absent store is listed, not mounted. */
	absent = world_path(w.base, "nostore");
	assert_int_equal(policy_plan(&p, w.tree, w.home, absent, &plan,
	    &cause), 0);
	assert_null(plan_find(&plan, absent));
	assert_string_equal(skipped_find(&plan, absent)->origin,
	    "always: the airlock store; absent");
	plan_free(&plan);
	free(absent);

	/* A store holding the tree or $HOME is refused. */
	assert_int_equal(policy_plan(&p, w.tree, w.home, w.home, &plan,
	    &cause), -1);
	assert_non_null(strstr(cause, "is inside the airlock store"));
	free(cause);
	assert_int_equal(policy_plan(&p, w.outside, w.home, w.home, &plan,
	    &cause), -1);
	assert_non_null(strstr(cause, "holds $HOME"));
	free(cause);
	/* And so is a tree that does not exist. */
	path = world_path(w.base, "gone");
	assert_int_equal(policy_plan(&p, path, w.home, w.store, &plan,
	    &cause), -1);
	assert_non_null(strstr(cause, "gone: No such file or directory"));
	free(cause);
	free(path);
	policy_free(&p);
	world_free(&w);
}

/* The column where "(" starts on the line holding needle. */
static long
print_column(const char *text, const char *needle)
{
	const char *at = strstr(text, needle), *line, *paren;

	if (at == NULL)
		return -1;
	line = at;
	while (line > text && line[-1] != '\n')
		line--;
	paren = strstr(at, "  (");
	return paren == NULL ? -1 : (long)(paren - line);
}

static void
test_policy_plan_print(void **state)
{
	struct world w;
	struct policy p;
	struct plan plan;
	struct buf out = BUF_INIT;
	char *want, *cause = NULL;
	long col;

	world_make(&w);
	world_mkdirs(w.home, ".ssh");
	world_write(w.tree, ".env", "x");
	world_write(w.tree, "odd\nname.pem", "x");
	policy_init(&p);
	policy_add_defaults(&p, w.home);
	plan_make(&w, &p, &plan);
	plan_print(&out, &p, &plan);

	want = xasprintf("airlock sandbox policy\ntree: %s\nnet:  host "
	    "(default)\n      (net host is the default; `--net none` or "
	    "`net none` in a policy file cuts the network,\n      "
	    "`--net allow:HOST[:PORT],...` or `net allow HOST...` lets only "
	    "those hosts through\n      airlock's proxy)\n", w.tree);
	assert_true(strncmp(out.data, want, strlen(want)) == 0);
	free(want);
	assert_non_null(strstr(out.data, "\nmounts, in order:\n"));
	assert_non_null(strstr(out.data, "\nnot mounted:\n"));
	want = xasprintf("  deny     %s/.env", w.tree);
	assert_non_null(strstr(out.data, want));
	free(want);
	assert_non_null(strstr(out.data, "  (default: name .env)\n"));
	want = xasprintf("  deny     %s/.aws", w.home);
	assert_non_null(strstr(out.data, want));
	free(want);
	assert_non_null(strstr(out.data, "  (default; absent)\n"));
	want = xasprintf("  overlay  %s", w.tree);
	assert_non_null(strstr(out.data, want));
	free(want);
	assert_non_null(strstr(out.data, "(the real tree: writes go to the "
	    "scratch)\n"));
	assert_non_null(strstr(out.data, "(always: the airlock store)\n"));
	assert_non_null(strstr(out.data, "  drop     SSH_AUTH_SOCK "));
	assert_non_null(strstr(out.data, "  deny     *.pem "));
	/* A name with a newline is quoted, never printed raw. */
	want = xasprintf("\"%s/odd\\nname.pem\"", w.tree);
	assert_non_null(strstr(out.data, want));
	free(want);
	assert_null(strstr(out.data, "odd\nname"));
	/* Aligned: the origins start in one column. */
	want = xasprintf("  overlay  %s ", w.tree);
	col = print_column(out.data, want);
	free(want);
	assert_true(col > 0);
	assert_int_equal(print_column(out.data, "  drop     SSH_AUTH_SOCK "),
	    col);
	assert_int_equal(print_column(out.data, "  deny     *.pem "), col);
	want = xasprintf("%zu paths hidden.\n", plan.hidden);
	assert_true(ends_with(out.data, want));
	free(want);
	buf_free(&out);
	plan_free(&plan);

	/* Other net modes. */
	assert_int_equal(policy_set_net(&p, "none", &cause), 0);
	plan_make(&w, &p, &plan);
	plan_print(&out, &p, &plan);
	assert_non_null(strstr(out.data, "\nnet:  none (--net): no network"));
	assert_null(strstr(out.data, "net host is the default"));
	buf_free(&out);
	parse(&p, "net allow a.org b.org:443", 25, 0, w.home, w.tree);
	plan_print(&out, &p, &plan);
	assert_non_null(strstr(out.data, "\nnet:  allow a.org, b.org:443 ("
	    FILE_NAME ":1)"));
	buf_free(&out);
	plan_free(&plan);
	policy_free(&p);
	world_free(&w);
}

/* The walk's cache gives the same plan, and any change to the tree's
 * directories (a new secret deep down, a rename, a new directory) or to the
 * patterns, or a corrupt cache file, makes it walk again. */
static void
test_policy_plan_walk_cache(void **state)
{
	struct world w;
	struct policy p;
	struct plan plan;
	char *cache, *cause = NULL;
	size_t len;

	world_make(&w);
	world_mkdirs(w.tree, "a/b/c");
	world_write(w.tree, "a/b/c/.env", "x");
	world_write(w.tree, "a/readme", "x");
	plan_cache_set_settle(-1);
	policy_init(&p);
	policy_add_defaults(&p, w.home);
	cache = world_path(w.base, "walk.cache");
	p.walk_cache = xstrdup(cache);

	plan_make(&w, &p, &plan);
	assert_non_null(plan_find_in(&plan, w.tree, "a/b/c/.env"));
	plan_free(&plan);
	assert_int_equal(access(cache, F_OK), 0);

	/* A hit gives the same masks. */
	plan_make(&w, &p, &plan);
	assert_non_null(plan_find_in(&plan, w.tree, "a/b/c/.env"));
	assert_null(plan_find_in(&plan, w.tree, "a/readme"));
	plan_free(&plan);

	/* A new secret deep down is found. */
	world_write(w.tree, "a/b/c/key.pem", "x");
	plan_make(&w, &p, &plan);
	assert_non_null(plan_find_in(&plan, w.tree, "a/b/c/key.pem"));
	plan_free(&plan);

	/* A renamed one is masked under its new name, not the old. */
	world_mkdirs(w.tree, "z");
	{
		char *from = world_path(w.tree, "a/b/c/.env");
		char *to = world_path(w.tree, "z/.env");

		assert_int_equal(rename(from, to), 0);
		free(from);
		free(to);
	}
	plan_make(&w, &p, &plan);
	assert_non_null(plan_find_in(&plan, w.tree, "z/.env"));
	assert_null(plan_find_in(&plan, w.tree, "a/b/c/.env"));
	plan_free(&plan);

	/* Garbage in the cache file is a miss, never a wrong plan. */
	assert_int_equal(path_write_file(cache, "garbage", 7, 0600, &cause), 0);
	plan_make(&w, &p, &plan);
	assert_non_null(plan_find_in(&plan, w.tree, "z/.env"));
	assert_non_null(plan_find_in(&plan, w.tree, "a/b/c/key.pem"));
	plan_free(&plan);
	free(path_read_file(cache, 1 << 20, &len, &cause));
	assert_true(len > 7);

	/* Other patterns: the cached walk does not apply. */
	assert_null(parse(&p, "deny *.secret\n", 14, 0, w.home, w.tree));
	world_write(w.outside, "unrelated", "x");
	world_write(w.tree, "a/readme.secret", "x");
	plan_make(&w, &p, &plan);
	assert_non_null(plan_find_in(&plan, w.tree, "a/readme.secret"));
	plan_free(&plan);

	/* Directories that changed just now are not trusted: no cache. */
	plan_cache_set_settle(3600);
	assert_int_equal(unlink(cache), 0);
	plan_make(&w, &p, &plan);
	plan_free(&plan);
	assert_int_equal(access(cache, F_OK), -1);
	plan_cache_set_settle(2);

	free(cache);
	policy_free(&p);
	world_free(&w);
}

/* The byte-wise glob agrees with fnmatch(3) in the C locale, and matches
 * names that are not valid UTF-8. */
static void
test_glob_match(void **state)
{
	static const char *pats[] = { ".env", ".env.*", "*.pem", "id_rsa*",
		"id_ed25519*", "a?c", "[ab]x", "[!ab]x", "[^ab]x", "[a-c]*",
		"*a*b*", "x[", "[]", "**", "*.[ch]", "?", "*", "", "[a-]x" };
	static const char *names[] = { ".env", ".env.local", ".envx", "a.pem",
		"pem", ".pem", "id_rsa", "id_rsa.pub", "xid_rsa", "abc", "ac",
		"ax", "bx", "cx", "dx", "-x", "x[", "[]", "aXbYb", "f.c", "f.h",
		"f.o", "a", "" };
	size_t i, j;

	for (i = 0; i < sizeof pats / sizeof pats[0]; i++) {
		for (j = 0; j < sizeof names / sizeof names[0]; j++) {
			int want = fnmatch(pats[i], names[j], 0) == 0;

			if (policy_glob_match(pats[i], names[j]) != want)
				fail_msg("'%s' ~ '%s': want %d", pats[i],
				    names[j], want);
		}
	}
	assert_true(policy_glob_match("*.pem", "\xff\xfe.pem"));
	assert_true(policy_glob_match(".env.*", ".env.\x80"));
	assert_false(policy_glob_match("*.pem", "\xff.pen"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_match),
		cmocka_unit_test(test_policy_plan_walk_cache),
		cmocka_unit_test(test_policy_defaults),
		cmocka_unit_test(test_policy_parse_rules),
		cmocka_unit_test(test_policy_parse_errors),
		cmocka_unit_test(test_policy_restrict_only),
		cmocka_unit_test(test_policy_override_order),
		cmocka_unit_test(test_policy_environ),
		cmocka_unit_test(test_policy_set_net),
		cmocka_unit_test(test_policy_load),
		cmocka_unit_test(test_policy_plan_walk),
		cmocka_unit_test(test_policy_plan_truncated),
		cmocka_unit_test(test_policy_plan_order),
		cmocka_unit_test(test_policy_plan_overrides),
		cmocka_unit_test(test_policy_plan_symlinks),
		cmocka_unit_test(test_policy_plan_store),
		cmocka_unit_test(test_policy_plan_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
