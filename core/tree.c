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
