/*
 * Checkpoints of a session's scratch: the supervisor's (start, exit, the
 * agent's and the user's requests, rollbacks) and the commands' on a
 * session that does not run. Always the scratch as upper and the real tree
 * as lower, never from inside the sandbox.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/* zstd workers for big files: a few, never more than the machine has */
#define SESSION_CHECKPOINT_THREADS_MAX 4

int
session_checkpoint_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n <= 1)
		return 0;
	return n > SESSION_CHECKPOINT_THREADS_MAX ?
	    SESSION_CHECKPOINT_THREADS_MAX : (int)n;
}

int
session_checkpoint_newest(struct store *st, const struct session *s,
    uint32_t *number, char **cause)
{
	struct ckpt *v = NULL;
	size_t i, n = 0;

	if (checkpoint_list(st, s->id, &v, &n, cause) != 0)
		return -1;
	if (n > 0)
		*number = v[n - 1].number;
	for (i = 0; i < n; i++)
		ckpt_free(&v[i]);
	free(v);
	return n > 0 ? 0 : 1;
}

int
session_checkpoint(struct store *st, const struct session *s,
    const struct ckpt_options *opts, uint32_t *number, char **note,
    char **cause)
{
	AUTOFREE char *upper = session_upper(s);
	struct ckpt c;
	int rc;

	if (note != NULL)
		*note = NULL;
	rc = checkpoint_take(st, s->id, upper, s->tree, opts, &c, cause);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		*number = c.number;
		if (note != NULL) {
			*note = c.note;
			c.note = NULL;
		}
		ckpt_free(&c);
		return 0;
	}
	rc = session_checkpoint_newest(st, s, number, cause);
	if (rc == 1)
		*cause = xasprintf("session %u has no checkpoint", s->id);
	return rc == 0 ? 1 : -1;
}
