#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

static void
store_lock_init(struct store *st)
{
	pthread_mutexattr_t attr;

	st->lock_fd = -1;
	st->lock_depth = 0;
	if (pthread_mutexattr_init(&attr) != 0 ||
	    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE) != 0 ||
	    pthread_mutex_init(&st->lock_mutex, &attr) != 0)
		fatalx("cannot create the store lock mutex");
	pthread_mutexattr_destroy(&attr);
}

int
store_open(const char *dir, int create, struct store **out, char **cause)
{
	struct store *st;
	struct stat sb;
	char *sessions, *index;
	int rc, fresh = 0;

	if (stat(dir, &sb) != 0) {
		if (errno != ENOENT) {
			*cause = xasprintf("cannot open the store %s: %s", dir,
			    strerror(errno));
			return -1;
		}
		if (!create)
			return 1;
		fresh = 1;
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
	store_lock_init(st);
	index = path_join(dir, "index.mdb");
	rc = index_open(index, &st->index, cause);
	free(index);
	/* A new store gets its first pack now: the first checkpoint with
	 * content then appends, as every later one does. */
	if (rc == 0 && fresh)
		rc = pack_init(st, cause);
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
	if (st->lock_fd != -1)
		close(st->lock_fd);
	pthread_mutex_destroy(&st->lock_mutex);
	free(st->dir);
	free(st);
}

int
store_lock(struct store *st, char **cause)
{
	char *path;
	int fd;

	pthread_mutex_lock(&st->lock_mutex);
	if (st->lock_depth++ > 0)
		return 0;
	path = path_join(st->dir, "lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	while (fd != -1 && flock(fd, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		close(fd);
		fd = -1;
	}
	if (fd == -1) {
		*cause = xasprintf("cannot lock %s: %s", path, strerror(errno));
		free(path);
		st->lock_depth--;
		pthread_mutex_unlock(&st->lock_mutex);
		return -1;
	}
	free(path);
	st->lock_fd = fd;
	return 0;
}

void
store_unlock(struct store *st)
{
	if (st->lock_depth == 0)
		fatalx("store_unlock without store_lock");
	if (--st->lock_depth == 0) {
		close(st->lock_fd);   /* releases the flock */
		st->lock_fd = -1;
	}
	pthread_mutex_unlock(&st->lock_mutex);
}
