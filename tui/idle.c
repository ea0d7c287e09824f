/*
 * Scratch writes, for turn detection: the agent is quiet when it neither
 * prints nor writes files for idle-ms (design §6). inotify on every
 * directory of the scratch (the upper dir holds only what the agent
 * changed, so this is small); new directories are watched as they come.
 */
#include "config.h"

#include <sys/inotify.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui/tui.h"

#define IDLE_MAX_WATCHES 8192
#define IDLE_MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | \
    IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW)

struct idle {
	int fd;
	size_t watches;
	int full;             /* IDLE_MAX_WATCHES reached */
	char **paths;         /* by watch descriptor */
	size_t npaths;
};

static void
idle_remember(struct idle *id, int wd, const char *path)
{
	size_t n;

	if (wd < 0)
		return;
	if ((size_t)wd >= id->npaths) {
		n = (size_t)wd + 64;
		id->paths = xreallocarray(id->paths, n, sizeof *id->paths);
		memset(id->paths + id->npaths, 0,
		    (n - id->npaths) * sizeof *id->paths);
		id->npaths = n;
	}
	free(id->paths[wd]);
	id->paths[wd] = xstrdup(path);
}

/* Watches dir and every directory below it (depth-bounded by PATH_MAX). */
static void
idle_watch(struct idle *id, const char *dir)
{
	struct dirent *de;
	DIR *d;
	char *sub;
	int wd;

	if (id->watches >= IDLE_MAX_WATCHES) {
		id->full = 1;
		return;
	}
	wd = inotify_add_watch(id->fd, dir, IDLE_MASK);
	if (wd < 0)
		return;
	id->watches++;
	idle_remember(id, wd, dir);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (strlen(dir) + strlen(de->d_name) + 2 > PATH_MAX)
			continue;
		sub = path_join(dir, de->d_name);
		idle_watch(id, sub);
		free(sub);
	}
	closedir(d);
}

struct idle *
idle_create(const char *upper, char **note)
{
	struct idle *id = xcalloc(1, sizeof *id);

	*note = NULL;
	id->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (id->fd < 0) {
		*note = xasprintf("inotify: %s: only the agent's output "
		    "counts as activity", strerror(errno));
		return id;
	}
	idle_watch(id, upper);
	if (id->full)
		*note = xasprintf("more than %d directories in the scratch: "
		    "only the agent's output counts as activity in new ones",
		    IDLE_MAX_WATCHES);
	return id;
}

void
idle_free(struct idle *id)
{
	if (id == NULL)
		return;
	if (id->fd >= 0)
		close(id->fd);
	for (size_t i = 0; i < id->npaths; i++)
		free(id->paths[i]);
	free(id->paths);
	free(id);
}

int
idle_fd(const struct idle *id)
{
	return id->fd;
}

int
idle_read(struct idle *id)
{
	char data[8192] __attribute__((aligned(__alignof__(struct
	    inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *sub;
	int written = 0;

	while ((n = read(id->fd, data, sizeof data)) > 0) {
		for (char *p = data; p < data + n;
		    p += sizeof *ev + ev->len) {
			ev = (const struct inotify_event *)p;
			written = 1;
			if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE |
			    IN_MOVED_TO)) && ev->len > 0 && ev->wd >= 0 &&
			    (size_t)ev->wd < id->npaths &&
			    id->paths[ev->wd] != NULL) {
				sub = path_join(id->paths[ev->wd], ev->name);
				idle_watch(id, sub);
				free(sub);
			}
		}
	}
	return written;
}
