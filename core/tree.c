#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

char *
tree_find(const char *dir, char **cause)
{
	char *real, *probe, *slash;
	struct stat st;

	if (dir == NULL)
		dir = ".";
	real = realpath(dir, NULL);
	if (real == NULL) {
		*cause = xasprintf("%s: %s", dir, strerror(errno));
		return NULL;
	}
	if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
		*cause = xasprintf("%s: not a directory", dir);
		free(real);
		return NULL;
	}
	/* The nearest ancestor holding .git (a directory, or a file for
	 * worktrees and submodules) is the git top-level. */
	probe = xstrdup(real);
	for (;;) {
		char *git = path_join(probe, ".git");
		int found = lstat(git, &st) == 0 &&
		    (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode));

		free(git);
		if (found) {
			free(real);
			return probe;
		}
		slash = strrchr(probe, '/');
		if (slash == NULL || slash == probe)
			break;
		*slash = '\0';
	}
	free(probe);
	return real;
}

/* Resolves "." and ".." of an absolute path lexically, in place. */
static void
tree_normalise(char *path)
{
	char *out = path, *p = path, *end;
	size_t len;

	while (*p != '\0') {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len == 1 && p[0] == '.') {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (out > path && *--out != '/')
				;
		} else {
			*out++ = '/';
			memmove(out, p, len);
			out += len;
		}
		p = end;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

char *
tree_relative(const char *tree, const char *arg, char **cause)
{
	char *full, *cwd, *rel;
	size_t tl = strlen(tree);

	if (arg[0] == '/')
		full = xstrdup(arg);
	else {
		if ((cwd = getcwd(NULL, 0)) == NULL) {
			*cause = xasprintf("cannot find the current directory: "
			    "%s", strerror(errno));
			return NULL;
		}
		full = path_join(cwd, arg);
		free(cwd);
	}
	tree_normalise(full);
	if (strncmp(full, tree, tl) != 0 || (full[tl] != '\0' &&
	    full[tl] != '/' && strcmp(tree, "/") != 0)) {
		*cause = xasprintf("%s is outside the real tree %s", arg, tree);
		free(full);
		return NULL;
	}
	rel = xstrdup(full + tl + (full[tl] == '/'));
	free(full);
	return rel;
}
