/*
 * The sandbox policy (design §3): the rules from the defaults and the policy
 * files, and the scrubbed environment. plan.c turns the rules into mounts.
 *
 * Rules are kept in the order they were given; a later rule for the same path
 * (or pattern, or variable) replaces the earlier one, so "later wins" holds
 * everywhere, also between a name pattern and a rule for one of its matches.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#define POLICY_LINE_MAX 4096
#define POLICY_FILE_MAX (1024 * 1024)

#define POLICY_RESTRICT_ONLY "the tree's policy may only add restrictions " \
	"(deny, ro, net none, net allow, env drop)"


static const char *const policy_default_home[] = {
	".ssh", ".gnupg", ".aws", ".azure", ".config/gcloud", ".kube",
	".docker/config.json", ".netrc", ".npmrc", ".pypirc",
	".git-credentials", ".config/gh",
};
static const char *const policy_default_paths[] = {
	"/var/run/docker.sock", "/run/docker.sock",
};
static const char *const policy_default_patterns[] = {
	".env", ".env.*", "*.pem", "id_rsa*", "id_ed25519*",
};
static const char *const policy_default_drop[] = {
	"SSH_AUTH_SOCK", "GPG_AGENT_INFO", "*_TOKEN", "AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN", "*_PASSWORD", "*_SECRET", "*_SECRET_KEY",
	"GOOGLE_APPLICATION_CREDENTIALS", "AZURE_CLIENT_SECRET",
	"DOCKER_AUTH_CONFIG",
};
/* The agents' own credentials: *_TOKEN would catch them. */
static const char *const policy_default_pass[] = {
	"ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
};

#define nitems(a) (sizeof (a) / sizeof (a)[0])

void
policy_init(struct policy *p)
{
	memset(p, 0, sizeof *p);
	p->net = NET_HOST;
}

static void
policy_free_allow(struct policy *p)
{
	for (size_t i = 0; i < p->nnet_allow; i++)
		free(p->net_allow[i]);
	free(p->net_allow);
	p->net_allow = NULL;
	p->nnet_allow = 0;
}

void
policy_free(struct policy *p)
{
	free(p->walk_cache);
	for (size_t i = 0; i < p->nrules; i++) {
		free(p->rules[i].path);
		free(p->rules[i].origin);
	}
	free(p->rules);
	for (size_t i = 0; i < p->nenv; i++) {
		free(p->env[i].name);
		free(p->env[i].origin);
	}
	free(p->env);
	policy_free_allow(p);
	free(p->net_origin);
	policy_init(p);
}

/* Adds a rule, replacing any earlier one for the same path; takes path and
 * origin. */
static void
policy_put_rule(struct policy *p, enum policy_action action, char *path,
    int is_pattern, char *origin)
{
	struct policy_rule *r;

	for (size_t i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		if (r->is_pattern != is_pattern || strcmp(r->path, path) != 0)
			continue;
		free(r->path);
		free(r->origin);
		memmove(r, r + 1, (p->nrules - i - 1) * sizeof *r);
		p->nrules--;
		break;
	}
	p->rules = xreallocarray(p->rules, p->nrules + 1, sizeof *p->rules);
	r = &p->rules[p->nrules++];
	r->action = action;
	r->path = path;
	r->is_pattern = is_pattern;
	r->origin = origin;
}

static void
policy_put_env(struct policy *p, char *name, int pass, char *origin)
{
	struct policy_env *e;

	for (size_t i = 0; i < p->nenv; i++) {
		e = &p->env[i];
		if (strcmp(e->name, name) != 0)
			continue;
		free(e->name);
		free(e->origin);
		memmove(e, e + 1, (p->nenv - i - 1) * sizeof *e);
		p->nenv--;
		break;
	}
	p->env = xreallocarray(p->env, p->nenv + 1, sizeof *p->env);
	e = &p->env[p->nenv++];
	e->name = name;
	e->pass = pass;
	e->origin = origin;
}

/* Sets the network; takes allow (an array of n entries) and origin. */
static void
policy_put_net(struct policy *p, enum net_mode mode, char **allow, size_t n,
    char *origin)
{
	policy_free_allow(p);
	free(p->net_origin);
	p->net = mode;
	p->net_allow = allow;
	p->nnet_allow = n;
	p->net_origin = origin;
}

/* prefix + "/" + rel, where rel is normalised and has no leading '/'. */
static char *
policy_join(const char *prefix, const char *rel)
{
	size_t n = strlen(prefix);

	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (*rel == '\0')
		return xstrndup(prefix, n);
	if (n == 1 && prefix[0] == '/')
		return xasprintf("/%s", rel);
	return xasprintf("%.*s/%s", (int)n, prefix, rel);
}

void
policy_add_defaults(struct policy *p, const char *home)
{
	size_t i;

	if (home != NULL && home[0] == '/') {
		for (i = 0; i < nitems(policy_default_home); i++) {
			policy_put_rule(p, POLICY_DENY,
			    policy_join(home, policy_default_home[i]), 0,
			    xstrdup("default"));
		}
	}
	for (i = 0; i < nitems(policy_default_paths); i++) {
		policy_put_rule(p, POLICY_DENY,
		    xstrdup(policy_default_paths[i]), 0, xstrdup("default"));
	}
	for (i = 0; i < nitems(policy_default_patterns); i++) {
		policy_put_rule(p, POLICY_DENY,
		    xstrdup(policy_default_patterns[i]), 1, xstrdup("default"));
	}
	for (i = 0; i < nitems(policy_default_drop); i++) {
		policy_put_env(p, xstrdup(policy_default_drop[i]), 0,
		    xstrdup("default"));
	}
	for (i = 0; i < nitems(policy_default_pass); i++) {
		policy_put_env(p, xstrdup(policy_default_pass[i]), 1,
		    xstrdup("default"));
	}
	policy_put_net(p, NET_HOST, NULL, 0, xstrdup("default"));
}

/*
 * Network entries: HOST, HOST:PORT, [IPV6] or [IPV6]:PORT, where HOST is a
 * lower-cased DNS name, *.NAME, or an IPv4 literal.
 */

static int
net_check_port(const char *s)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5 || s[0] == '0' || strspn(s, "0123456789") != n)
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	return v >= 1 && v <= 65535 ? 0 : -1;
}

static int
net_check_name(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return -1;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return -1;
			label = 0;
			continue;
		}
		if (label == 0 && c == '-')
			return -1;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return -1;
		label++;
	}
	return 0;
}

/* Checks one allow entry and returns it normalised, or NULL with *why. */
static char *
net_parse_entry(const char *entry, char **why)
{
	struct in6_addr a6;
	struct in_addr a4;
	const char *port = NULL, *close;
	char *host, *out;

	if (entry[0] == '[') {
		close = strchr(entry, ']');
		if (close == NULL) {
			*why = xasprintf("'%s': missing ']'", entry);
			return NULL;
		}
		if (close[1] != '\0' && close[1] != ':') {
			*why = xasprintf("'%s': expected ':PORT' after ']'", entry);
			return NULL;
		}
		if (close[1] == ':')
			port = close + 2;
		host = xstrndup(entry + 1, (size_t)(close - entry - 1));
		if (inet_pton(AF_INET6, host, &a6) != 1) {
			*why = xasprintf("'%s': bad IPv6 address", entry);
			free(host);
			return NULL;
		}
	} else {
		close = strchr(entry, ':');
		if (close != NULL && strchr(close + 1, ':') != NULL) {
			*why = xasprintf("'%s': IPv6 addresses go in brackets, "
			    "as in [::1]:443", entry);
			return NULL;
		}
		if (close != NULL)
			port = close + 1;
		host = close != NULL ? xstrndup(entry, (size_t)(close - entry)) :
		    xstrdup(entry);
		for (char *c = host; *c != '\0'; c++) {
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		}
		if (strspn(host, "0123456789.") == strlen(host) &&
		    host[0] != '\0') {
			if (inet_pton(AF_INET, host, &a4) != 1) {
				*why = xasprintf("'%s': bad IPv4 address", entry);
				free(host);
				return NULL;
			}
		} else if (strchr(host + (strncmp(host, "*.", 2) == 0 ? 2 : 0),
		    '*') != NULL) {
			*why = xasprintf("'%s': '*' only works as the whole first "
			    "label, as in *.example.com", entry);
			free(host);
			return NULL;
		} else if (net_check_name(host + (strncmp(host, "*.", 2) == 0 ?
		    2 : 0)) != 0) {
			*why = xasprintf("'%s': bad host name", entry);
			free(host);
			return NULL;
		}
	}
	if (port != NULL && net_check_port(port) != 0) {
		*why = xasprintf("'%s': bad port (expected 1-65535)", entry);
		free(host);
		return NULL;
	}
	if (entry[0] == '[')
		out = xasprintf("[%s]%s%s", host, port ? ":" : "", port ? port : "");
	else
		out = xasprintf("%s%s%s", host, port ? ":" : "", port ? port : "");
	free(host);
	return out;
}

char *
policy_net_entry(const char *entry, char **cause)
{
	return net_parse_entry(entry, cause);
}

/* Splits a normalised entry into its host and its port (NULL: any). */
static char *
net_entry_host(const char *entry, const char **port)
{
	const char *colon;

	if (entry[0] == '[') {
		colon = strchr(entry, ']') + 1;
		*port = *colon == ':' ? colon + 1 : NULL;
		return xstrndup(entry, (size_t)(colon - entry));
	}
	colon = strchr(entry, ':');
	*port = colon != NULL ? colon + 1 : NULL;
	return colon != NULL ? xstrndup(entry, (size_t)(colon - entry)) :
	    xstrdup(entry);
}

/* 1 when every connection small allows is also allowed by big. */
static int
net_entry_covers(const char *big, const char *small)
{
	const char *bport, *sport;
	char *bhost = net_entry_host(big, &bport);
	char *shost = net_entry_host(small, &sport);
	size_t bl = strlen(bhost), sl = strlen(shost);
	int ok;

	if (bport != NULL && (sport == NULL || strcmp(bport, sport) != 0))
		ok = 0;
	else if (strcmp(bhost, shost) == 0)
		ok = 1;
	else if (strncmp(bhost, "*.", 2) == 0 && shost[0] != '[')
		ok = sl > bl - 1 && strcmp(shost + sl - (bl - 1), bhost + 1) == 0;
	else
		ok = 0;
	free(bhost);
	free(shost);
	return ok;
}

/* The parser of one policy file. */
struct policy_parser {
	struct policy *p;
	const char *file;
	size_t line;
	int restrict_only;
	const char *home;
	const char *tree;
};

static int parser_error(struct policy_parser *, char **, const char *, ...)
    PRINTFLIKE(3, 4);

static int
parser_error(struct policy_parser *pp, char **cause, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	*cause = xasprintf("%s:%zu: %s", pp->file, pp->line, msg);
	free(msg);
	return -1;
}

static char *
parser_origin(struct policy_parser *pp)
{
	return xasprintf("%s:%zu", pp->file, pp->line);
}

struct policy_words {
	char **v;
	size_t n;
};

static void
words_free(struct policy_words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	w->v = NULL;
	w->n = 0;
}

/*
 * Splits a line into words: blanks separate them, "..." holds blanks (with
 * \" and \\ inside), and '#' at the start of a word starts a comment.
 */
static int
parser_split(struct policy_parser *pp, const char *s, size_t len,
    struct policy_words *w, char **cause)
{
	struct buf word = BUF_INIT;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0')
			return parser_error(pp, cause, "NUL byte in the line");
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return parser_error(pp, cause,
			    "control character 0x%02x in the line", c);
		}
	}
	i = 0;
	for (;;) {
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == len || s[i] == '#')
			return 0;
		buf_reset(&word);
		if (s[i] == '"') {
			for (i++;; i++) {
				if (i == len) {
					buf_free(&word);
					return parser_error(pp, cause,
					    "unterminated quote");
				}
				if (s[i] == '"')
					break;
				if (s[i] == '\\') {
					if (i + 1 == len || (s[i + 1] != '"' &&
					    s[i + 1] != '\\')) {
						buf_free(&word);
						return parser_error(pp, cause,
						    "bad escape in quotes (only "
						    "\\\" and \\\\ work)");
					}
					i++;
				}
				buf_addch(&word, s[i]);
			}
			i++;
			if (i < len && s[i] != ' ' && s[i] != '\t') {
				buf_free(&word);
				return parser_error(pp, cause,
				    "text right after a closing quote");
			}
		} else {
			for (; i < len && s[i] != ' ' && s[i] != '\t'; i++) {
				if (s[i] == '"') {
					buf_free(&word);
					return parser_error(pp, cause, "a quote "
					    "inside a word (quote the whole word)");
				}
				buf_addch(&word, s[i]);
			}
		}
		w->v = xreallocarray(w->v, w->n + 1, sizeof *w->v);
		w->v[w->n++] = xstrndup(word.data, word.len);
		buf_free(&word);
	}
}

/* Appends the normalised form of rel to out; -1 when it holds "..". */
static int
policy_normalise(const char *rel, struct buf *out)
{
	const char *s = rel, *end;

	while (*s != '\0') {
		end = strchrnul(s, '/');
		if (end - s == 2 && s[0] == '.' && s[1] == '.')
			return -1;
		if (end != s && !(end - s == 1 && s[0] == '.')) {
			if (out->len > 0)
				buf_addch(out, '/');
			buf_add(out, s, (size_t)(end - s));
		}
		s = *end == '/' ? end + 1 : end;
	}
	return 0;
}

/* Resolves a PATH word to an absolute path, or a name pattern for deny. */
static int
parser_path(struct policy_parser *pp, const char *kw, const char *word,
    int allow_pattern, char **out, int *is_pattern, char **cause)
{
	struct buf rel = BUF_INIT;
	const char *prefix, *rest;

	*is_pattern = 0;
	if (*word == '\0')
		return parser_error(pp, cause, "%s: empty path", kw);
	if (strcmp(word, "..") == 0 || (policy_normalise(word, &rel) != 0)) {
		buf_free(&rel);
		return parser_error(pp, cause, "%s: '..' is not allowed in a "
		    "path ('%s'): write the path without it", kw, word);
	}
	buf_free(&rel);
	if (allow_pattern && strchr(word, '/') == NULL &&
	    strcmp(word, "~") != 0 && strcmp(word, ".") != 0) {
		*out = xstrdup(word);
		*is_pattern = 1;
		return 0;
	}
	if (strpbrk(word, "*?") != NULL) {
		return parser_error(pp, cause, "%s: '%s': wildcards only work in "
		    "name patterns, which are deny rules without '/'", kw, word);
	}
	if (word[0] == '~') {
		if (word[1] != '\0' && word[1] != '/') {
			return parser_error(pp, cause, "%s: '%s': ~USER is not "
			    "supported, write the full path", kw, word);
		}
		if (pp->home == NULL || pp->home[0] != '/') {
			return parser_error(pp, cause, "%s: '%s': $HOME is not "
			    "set", kw, word);
		}
		prefix = pp->home;
		rest = word + 1;
	} else if (word[0] == '/') {
		prefix = "/";
		rest = word;
	} else {
		if (pp->tree == NULL || pp->tree[0] != '/') {
			return parser_error(pp, cause, "%s: '%s': a relative path "
			    "needs the real tree", kw, word);
		}
		prefix = pp->tree;
		rest = word;
	}
	policy_normalise(rest, &rel);
	*out = policy_join(prefix, rel.data);
	buf_free(&rel);
	return 0;
}

/* The deny rule that hides path, by name or through symlinks, or NULL. */
static const struct policy_rule *
restrict_hider(const struct policy *p, const char *tree, const char *path)
{
	for (size_t i = 0; i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];
		const char *s, *end;
		char *real;
		int hit;

		if (r->action != POLICY_DENY)
			continue;
		if (!r->is_pattern) {
			hit = path_is_under(path, r->path);
			if (!hit && (real = realpath(r->path, NULL)) != NULL) {
				hit = path_is_under(path, real);
				free(real);
			}
			if (hit)
				return r;
			continue;
		}
		if (tree == NULL || !path_is_under(path, tree))
			continue;
		for (s = path + strlen(tree); *s != '\0'; s = end) {
			char *name;

			s += strspn(s, "/");
			end = strchrnul(s, '/');
			name = xstrndup(s, (size_t)(end - s));
			hit = *name != '\0' && policy_glob_match(r->path, name);
			free(name);
			if (hit)
				return r;
		}
	}
	return NULL;
}

/* The tree's file may not let ro uncover what a deny hides, not even
 * through a symlink in the tree. */
static int
parser_restrict_ro(struct policy_parser *pp, const char *path, char **cause)
{
	const struct policy_rule *r;
	char *real;

	r = restrict_hider(pp->p, pp->tree, path);
	if (r == NULL && (real = realpath(path, NULL)) != NULL) {
		r = restrict_hider(pp->p, pp->tree, real);
		free(real);
	}
	if (r == NULL)
		return 0;
	return parser_error(pp, cause, "'ro %s' would uncover what 'deny %s' "
	    "(%s) hides: " POLICY_RESTRICT_ONLY, path, r->path, r->origin);
}

static int
parser_path_rule(struct policy_parser *pp, enum policy_action action,
    struct policy_words *w, char **cause)
{
	const char *kw = w->v[0];
	char *path = NULL;
	int is_pattern;

	if (w->n < 2)
		return parser_error(pp, cause, "%s: missing PATH", kw);
	if (w->n > 2) {
		return parser_error(pp, cause, "%s: too many arguments (put a "
		    "path that holds spaces in double quotes)", kw);
	}
	if (pp->restrict_only && (action == POLICY_RW || action == POLICY_TMP))
		return parser_error(pp, cause, "'%s' loosens the policy: "
		    POLICY_RESTRICT_ONLY, kw);
	if (parser_path(pp, kw, w->v[1], action == POLICY_DENY, &path,
	    &is_pattern, cause) != 0)
		return -1;
	if (pp->restrict_only && action == POLICY_RO &&
	    parser_restrict_ro(pp, path, cause) != 0) {
		free(path);
		return -1;
	}
	policy_put_rule(pp->p, action, path, is_pattern, parser_origin(pp));
	return 0;
}

/* In the tree's file, net allow may only narrow: host -> allow -> none. */
static int
parser_restrict_allow(struct policy_parser *pp, char **allow, size_t n,
    char **cause)
{
	const struct policy *p = pp->p;

	if (p->net == NET_HOST)
		return 0;
	if (p->net == NET_NONE) {
		return parser_error(pp, cause, "'net allow' loosens 'net none' "
		    "(%s): " POLICY_RESTRICT_ONLY,
		    p->net_origin != NULL ? p->net_origin : "default");
	}
	for (size_t i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < p->nnet_allow; j++) {
			if (net_entry_covers(p->net_allow[j], allow[i]))
				break;
		}
		if (j == p->nnet_allow) {
			return parser_error(pp, cause, "net allow: '%s' is not in "
			    "the allow list of %s: the tree's policy may only "
			    "narrow it", allow[i],
			    p->net_origin != NULL ? p->net_origin : "default");
		}
	}
	return 0;
}

static int
parser_net(struct policy_parser *pp, struct policy_words *w, char **cause)
{
	char **allow, *why;
	size_t n;

	if (w->n < 2) {
		return parser_error(pp, cause, "net: missing mode (expected "
		    "none, host or allow HOST[:PORT]...)");
	}
	if (strcmp(w->v[1], "none") == 0 || strcmp(w->v[1], "host") == 0) {
		enum net_mode mode = w->v[1][0] == 'n' ? NET_NONE : NET_HOST;

		if (w->n > 2) {
			return parser_error(pp, cause, "net %s: too many "
			    "arguments", w->v[1]);
		}
		if (pp->restrict_only && mode == NET_HOST) {
			return parser_error(pp, cause, "'net host' loosens the "
			    "policy: " POLICY_RESTRICT_ONLY);
		}
		policy_put_net(pp->p, mode, NULL, 0, parser_origin(pp));
		return 0;
	}
	if (strcmp(w->v[1], "allow") != 0) {
		return parser_error(pp, cause, "net: unknown mode '%s' "
		    "(expected none, host or allow)", w->v[1]);
	}
	if (w->n < 3)
		return parser_error(pp, cause, "net allow: missing HOST[:PORT]");
	n = w->n - 2;
	allow = xcalloc(n, sizeof *allow);
	for (size_t i = 0; i < n; i++) {
		allow[i] = net_parse_entry(w->v[i + 2], &why);
		if (allow[i] == NULL) {
			parser_error(pp, cause, "net allow: %s", why);
			free(why);
			goto fail;
		}
	}
	if (pp->restrict_only && parser_restrict_allow(pp, allow, n, cause) != 0)
		goto fail;
	policy_put_net(pp->p, NET_ALLOW, allow, n, parser_origin(pp));
	return 0;

fail:
	for (size_t i = 0; i < n; i++)
		free(allow[i]);
	free(allow);
	return -1;
}

/* NAME is [A-Za-z_][A-Za-z0-9_]*, with one '*' at its start or its end. */
static int
env_name_valid(const char *name)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_";
	size_t n = strlen(name), start = 0;

	if (n > 0 && name[0] == '*')
		start = 1;
	else if (n > 0 && name[n - 1] == '*')
		n--;
	if (n <= start || strspn(name + start, chars) != n - start)
		return 0;
	/* A suffix pattern may start with a digit, a whole name may not. */
	return start == 1 || !(name[0] >= '0' && name[0] <= '9');
}

static int
parser_env(struct policy_parser *pp, struct policy_words *w, char **cause)
{
	int pass;

	if (w->n < 2)
		return parser_error(pp, cause, "env: missing pass or drop");
	if (strcmp(w->v[1], "pass") != 0 && strcmp(w->v[1], "drop") != 0) {
		return parser_error(pp, cause, "env: expected pass or drop, "
		    "not '%s'", w->v[1]);
	}
	pass = w->v[1][0] == 'p';
	if (w->n < 3)
		return parser_error(pp, cause, "env %s: missing NAME", w->v[1]);
	if (w->n > 3) {
		return parser_error(pp, cause, "env %s: too many arguments (one "
		    "NAME a rule)", w->v[1]);
	}
	if (!env_name_valid(w->v[2])) {
		return parser_error(pp, cause, "env %s: bad variable name '%s' "
		    "(letters, digits and '_', not starting with a digit, with "
		    "one optional '*' at the start or the end)", w->v[1],
		    w->v[2]);
	}
	if (pp->restrict_only && pass) {
		return parser_error(pp, cause, "'env pass' loosens the policy: "
		    POLICY_RESTRICT_ONLY);
	}
	policy_put_env(pp->p, xstrdup(w->v[2]), pass, parser_origin(pp));
	return 0;
}

static int
parser_line(struct policy_parser *pp, const char *s, size_t len,
    char **cause)
{
	static const struct {
		const char *name;
		enum policy_action action;
	} path_rules[] = {
		{ "deny", POLICY_DENY },
		{ "ro", POLICY_RO },
		{ "rw", POLICY_RW },
		{ "tmp", POLICY_TMP },
	};
	struct policy_words w = { NULL, 0 };
	int rc = -1;
	size_t i;

	if (parser_split(pp, s, len, &w, cause) != 0)
		goto out;
	if (w.n == 0) {
		rc = 0;
		goto out;
	}
	for (i = 0; i < nitems(path_rules); i++) {
		if (strcmp(w.v[0], path_rules[i].name) == 0) {
			rc = parser_path_rule(pp, path_rules[i].action, &w, cause);
			goto out;
		}
	}
	if (strcmp(w.v[0], "net") == 0)
		rc = parser_net(pp, &w, cause);
	else if (strcmp(w.v[0], "env") == 0)
		rc = parser_env(pp, &w, cause);
	else {
		parser_error(pp, cause, "unknown rule '%s' (expected deny, ro, "
		    "rw, tmp, net or env)", w.v[0]);
	}
out:
	words_free(&w);
	return rc;
}

int
policy_parse(struct policy *p, const char *file, const char *text,
    size_t len, int restrict_only, const char *home, const char *tree,
    char **cause)
{
	struct policy_parser pp = { p, file, 0, restrict_only, home, tree };
	size_t off = 0;

	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		size_t n = end - off;

		pp.line++;
		if (n > 0 && text[off + n - 1] == '\r')
			n--;
		if (n > POLICY_LINE_MAX) {
			return parser_error(&pp, cause, "line longer than %d "
			    "bytes", POLICY_LINE_MAX);
		}
		if (parser_line(&pp, text + off, n, cause) != 0)
			return -1;
		off = nl != NULL ? end + 1 : len;
	}
	return 0;
}

/* Reads and parses one file; a missing optional file is no error. */
static int
policy_load_file(struct policy *p, const char *path, int optional,
    int restrict_only, const char *home, const char *tree, char **cause)
{
	struct stat st;
	char *text;
	size_t len;
	int rc;

	if (stat(path, &st) != 0) {
		if (optional && errno == ENOENT)
			return 0;
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*cause = xasprintf("%s: not a regular file", path);
		return -1;
	}
	if (st.st_size > POLICY_FILE_MAX) {
		*cause = xasprintf("%s: larger than 1 MiB, not a policy file",
		    path);
		return -1;
	}
	text = path_read_file(path, POLICY_FILE_MAX, &len, cause);
	if (text == NULL)
		return -1;
	rc = policy_parse(p, path, text, len, restrict_only, home, tree, cause);
	free(text);
	return rc;
}

int
policy_load(struct policy *p, const char *home, const char *tree,
    const char *extra, char **cause)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	char *user = NULL, *own;
	int rc;

	policy_add_defaults(p, home);
	if (xdg != NULL && xdg[0] == '/')
		user = path_join(xdg, "airlock/policy");
	else if (home != NULL && home[0] == '/')
		user = path_join(home, ".config/airlock/policy");
	if (user != NULL) {
		rc = policy_load_file(p, user, 1, 0, home, tree, cause);
		free(user);
		if (rc != 0)
			return -1;
	}
	if (extra != NULL &&
	    policy_load_file(p, extra, 0, 0, home, tree, cause) != 0)
		return -1;
	if (tree == NULL)
		return 0;
	/* Read from the real tree, never the scratch: the agent cannot
	 * loosen its own policy. */
	own = path_join(tree, ".airlock-policy");
	rc = policy_load_file(p, own, 1, 1, home, tree, cause);
	free(own);
	return rc;
}

int
policy_set_net(struct policy *p, const char *arg, char **cause)
{
	char **allow = NULL, *why, *list, *item, *save = NULL;
	size_t n = 0;

	if (strcmp(arg, "none") == 0 || strcmp(arg, "host") == 0) {
		policy_put_net(p, arg[0] == 'n' ? NET_NONE : NET_HOST, NULL, 0,
		    xstrdup("--net"));
		return 0;
	}
	if (strncmp(arg, "allow:", 6) != 0) {
		*cause = xasprintf("--net %s: expected none, host or "
		    "allow:HOST[:PORT],...", arg);
		return -1;
	}
	list = xstrdup(arg + 6);
	for (item = strtok_r(list, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		allow = xreallocarray(allow, n + 1, sizeof *allow);
		allow[n] = net_parse_entry(item, &why);
		if (allow[n] == NULL) {
			*cause = xasprintf("--net %s: %s", arg, why);
			free(why);
			break;
		}
		n++;
	}
	free(list);
	if (item != NULL || n == 0) {
		if (n == 0 && item == NULL) {
			*cause = xasprintf("--net %s: missing HOST[:PORT] after "
			    "allow:", arg);
		}
		for (size_t i = 0; i < n; i++)
			free(allow[i]);
		free(allow);
		return -1;
	}
	policy_put_net(p, NET_ALLOW, allow, n, xstrdup("--net"));
	return 0;
}

/* 1 when the variable name (len bytes) matches an env rule's name. */
static int
env_name_match(const char *pat, const char *name, size_t len)
{
	size_t n = strlen(pat);

	if (pat[0] == '*') {
		n--;
		return len >= n && memcmp(name + len - n, pat + 1, n) == 0;
	}
	if (n > 0 && pat[n - 1] == '*') {
		n--;
		return len >= n && memcmp(name, pat, n) == 0;
	}
	return len == n && memcmp(name, pat, n) == 0;
}

char **
policy_environ(const struct policy *p, char *const *envp)
{
	size_t n = 0, k = 0;
	char **out;

	while (envp[n] != NULL)
		n++;
	out = xcalloc(n + 1, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(envp[i], '=');
		size_t len = eq != NULL ? (size_t)(eq - envp[i]) :
		    strlen(envp[i]);
		int pass = 1;

		/* The last rule that matches decides. */
		for (size_t j = p->nenv; j-- > 0;) {
			if (env_name_match(p->env[j].name, envp[i], len)) {
				pass = p->env[j].pass;
				break;
			}
		}
		if (pass)
			out[k++] = xstrdup(envp[i]);
	}
	out[k] = NULL;
	return out;
}

void
env_free(char **env)
{
	if (env == NULL)
		return;
	for (size_t i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/* Matches the set at p ("[...]") against c; *end is set past the set, or
 * NULL when the set is not closed (then '[' is an ordinary byte). */
static int
glob_set(const char *p, unsigned char c, const char **end)
{
	int negate = 0, hit = 0;
	const char *q = p + 1;

	if (*q == '!' || *q == '^') {
		negate = 1;
		q++;
	}
	do {
		unsigned char lo = (unsigned char)*q, hi = lo;

		if (*q == '\0') {
			*end = NULL;
			return 0;
		}
		if (q[1] == '-' && q[2] != ']' && q[2] != '\0') {
			hi = (unsigned char)q[2];
			q += 2;
		}
		if (c >= lo && c <= hi)
			hit = 1;
		q++;
	} while (*q != ']');
	*end = q + 1;
	return hit != negate;
}

int
policy_glob_match(const char *p, const char *n)
{
	const char *star_p = NULL, *star_n = NULL, *end;
	int hit;

	while (*n != '\0') {
		if (*p == '*') {
			star_p = ++p;
			star_n = n;
			continue;
		}
		if (*p == '[') {
			hit = glob_set(p, (unsigned char)*n, &end);
			if (end != NULL && hit) {
				p = end;
				n++;
				continue;
			}
			if (end != NULL)
				goto backtrack;
			/* An unclosed '[' is an ordinary byte. */
		}
		if (*p != '\0' && (*p == '?' || *p == *n)) {
			p++;
			n++;
			continue;
		}
backtrack:
		if (star_p == NULL)
			return 0;
		p = star_p;
		n = ++star_n;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}
