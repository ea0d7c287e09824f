#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/snapshot.h"

static char *
store_home(char **cause)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home != NULL && home[0] == '/')
		return xstrdup(home);
	pw = getpwuid(getuid());
	if (pw != NULL && pw->pw_dir != NULL && pw->pw_dir[0] == '/')
		return xstrdup(pw->pw_dir);
	*cause = xstrdup("cannot find the home directory: set HOME or "
	    "AIRLOCK_HOME");
	return NULL;
}

char *
store_root(char **cause)
{
	const char *env = getenv("AIRLOCK_HOME");
	char *home, *root, *cwd;

	if (env != NULL && env[0] != '\0') {
		if (env[0] == '/')
			return xstrdup(env);
		cwd = getcwd(NULL, 0);
		if (cwd == NULL) {
			*cause = xasprintf("AIRLOCK_HOME is relative and the "
			    "working directory is gone: %s", strerror(errno));
			return NULL;
		}
		root = path_join(cwd, env);
		free(cwd);
		return root;
	}
	env = getenv("XDG_STATE_HOME");
	if (env != NULL && env[0] == '/')
		return path_join(env, "airlock");
	home = store_home(cause);
	if (home == NULL)
		return NULL;
	root = path_join(home, ".local/state/airlock");
	free(home);
	return root;
}

char *
store_dir_for_tree(const char *root, const char *tree)
{
	unsigned char digest[HASH_LEN];
	char hex[HASH_HEX_LEN + 1], name[41], *dir;
	const char *base = strrchr(tree, '/');
	size_t i;

	base = (base == NULL || base[1] == '\0') ? "root" : base + 1;
	for (i = 0; base[i] != '\0' && i < sizeof name - 1; i++) {
		unsigned char c = (unsigned char)base[i];

		name[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ?
		    (char)c : '_';
	}
	name[i] = '\0';
	if (name[0] == '.')
		name[0] = '_';
	hash_buffer(tree, strlen(tree), digest);
	hash_hex(digest, hex);
	hex[16] = '\0';
	dir = xasprintf("%s/%s-%s", root, name, hex);
	return dir;
}

int
store_open(const char *dir, int create, struct store **out, char **cause)
{
	struct store *st;
	struct stat sb;
	char *sessions, *index;
	int rc;

	if (stat(dir, &sb) != 0) {
		if (errno != ENOENT) {
			*cause = xasprintf("cannot open the store %s: %s", dir,
			    strerror(errno));
			return -1;
		}
		if (!create)
			return 1;
	} else if (!S_ISDIR(sb.st_mode)) {
		*cause = xasprintf("the store %s is not a directory", dir);
		return -1;
	}
	sessions = path_join(dir, "sessions");
	rc = path_mkdirs(sessions, 0700, cause);
	free(sessions);
	if (rc != 0)
		return -1;
	st = xcalloc(1, sizeof *st);
	st->dir = xstrdup(dir);
	index = path_join(dir, "index.mdb");
	rc = index_open(index, &st->index, cause);
	free(index);
	if (rc != 0) {
		store_close(st);
		return -1;
	}
	*out = st;
	return 0;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	index_close(st->index);
	free(st->dir);
	free(st);
}
