/*
 * The headless supervisor: one poll(2) loop over the warden's socket, the
 * relayed signals, and the control sockets, until the agent exits. The
 * requests are served in the loop itself: a checkpoint, a rollback or a
 * reject blocks it while it runs, which a headless session can afford (the
 * agent keeps the terminal and runs on; only its signals wait). The TUI moves
 * session_checkpoint to a worker thread instead.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

struct supervisor {
	struct store *store;
	const struct session *session;
	struct sandbox *sb;
};

static void
supervisor_checkpoint(struct supervisor *sv,
    const struct control_request *req, int from_agent, struct buf *answer)
{
	struct ckpt_options o;
	char *cause = NULL;
	uint32_t number;
	int rc;

	memset(&o, 0, sizeof o);
	o.reason = from_agent ? "agent" : "user";
	o.label = req->label;
	o.threads = session_checkpoint_threads();
	o.restored_from = CKPT_NONE;
	rc = session_checkpoint(sv->store, sv->session, &o, &number, NULL,
	    &cause);
	if (rc < 0)
		control_answer(answer, CONTROL_FAILED, 0, cause);
	else
		control_answer(answer, rc == 0 ? CONTROL_OK : CONTROL_UNCHANGED,
		    number, NULL);
	free(cause);
}

static void
supervisor_status(struct supervisor *sv, struct buf *answer)
{
	char *cause = NULL;
	uint32_t number;
	int rc;

	rc = session_checkpoint_newest(sv->store, sv->session, &number, &cause);
	if (rc == 0)
		control_answer(answer, CONTROL_OK, number, NULL);
	else
		control_answer(answer, CONTROL_FAILED, 0, rc == 1 ?
		    "no checkpoint yet" : cause);
	free(cause);
}

static void
supervisor_rollback(struct supervisor *sv, uint32_t to, struct buf *answer)
{
	char *cause = NULL;
	uint32_t now;

	if (rollback_session(sv->store, sv->session, sv->sb, to, &now,
	    &cause) != 0)
		control_answer(answer, CONTROL_FAILED, 0, cause);
	else
		control_answer(answer, CONTROL_OK, now, NULL);
	free(cause);
}

static void
supervisor_reject(struct supervisor *sv, const struct control_request *req,
    struct buf *answer)
{
	char *cause = NULL;
	uint32_t now;
	int rc;

	rc = reject_session(sv->store, sv->session, sv->sb, req->path,
	    req->hunks, req->nhunks, &now, &cause);
	if (rc < 0)
		control_answer(answer, CONTROL_FAILED, 0, cause);
	else
		control_answer(answer, rc == 0 ? CONTROL_OK : CONTROL_UNCHANGED,
		    now, NULL);
	free(cause);
}

static void
supervisor_request(const struct control_request *req, int from_agent,
    struct buf *answer, void *arg)
{
	struct supervisor *sv = arg;

	switch (req->verb) {
	case CONTROL_CHECKPOINT:
		supervisor_checkpoint(sv, req, from_agent, answer);
		break;
	case CONTROL_STATUS:
		supervisor_status(sv, answer);
		break;
	case CONTROL_ROLLBACK:
		/* control_parse never lets one through agent.sock */
		if (from_agent)
			control_answer(answer, CONTROL_FAILED, 0,
			    "not allowed");
		else
			supervisor_rollback(sv, req->number, answer);
		break;
	case CONTROL_REJECT:
		/* the same: ctl.sock only */
		if (from_agent)
			control_answer(answer, CONTROL_FAILED, 0,
			    "not allowed");
		else
			supervisor_reject(sv, req, answer);
		break;
	}
}

int
supervisor_run(struct store *st, const struct session *s, struct sandbox *sb,
    struct control_server *server)
{
	struct supervisor sv = { st, s, sb };
	struct pollfd pfd[2 + CONTROL_POLLFDS];
	size_t n;
	int status = -1, rc = 0;

	while (rc == 0) {
		/* a rollback may have read the agent's end already */
		if (sb->exited) {
			rc = sandbox_message(sb, &status);
			break;
		}
		pfd[0].fd = sb->sock;
		pfd[0].events = POLLIN;
		pfd[1].fd = sb->sfd;
		pfd[1].events = POLLIN;
		n = 2 + control_server_pollfds(server, pfd + 2);
		if (poll(pfd, n, control_server_timeout(server,
		    control_now())) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents & POLLIN)
			sandbox_relay(sb);
		control_server_dispatch(server, pfd + 2, supervisor_request,
		    &sv);
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			rc = sandbox_message(sb, &status);
	}
	return rc == 1 ? status : -1;
}
