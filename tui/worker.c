/*
 * The checkpoint worker: one thread that takes the session's checkpoints so
 * the UI loop never waits for one (design §7). Requests queue in order; the
 * loop hears of each result through a pipe it polls, and reads it with
 * worker_result. The thread touches the store and nothing else: no ncurses,
 * no terminal, no warden socket.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui/tui.h"

#define WORKER_QUEUE 16

struct worker_job {
	char *reason;
	char *label;
	int force;
	uint64_t ticket;      /* control_server ticket, 0: none */
};

struct worker {
	struct store *store;
	const struct session *session;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct worker_job queue[WORKER_QUEUE];
	size_t head, count;
	int busy;             /* a job is being run */
	int stop;
	struct worker_result done[WORKER_QUEUE];
	size_t ndone;
	int pipe[2];
};

static void
worker_job_free(struct worker_job *job)
{
	free(job->reason);
	free(job->label);
	memset(job, 0, sizeof *job);
}

static void
worker_run_job(struct worker *w, struct worker_job *job,
    struct worker_result *r)
{
	struct ckpt_options o;

	memset(&o, 0, sizeof o);
	o.reason = job->reason;
	o.label = job->label;
	o.force = job->force;
	o.threads = session_checkpoint_threads();
	o.restored_from = CKPT_NONE;
	memset(r, 0, sizeof *r);
	r->reason = xstrdup(job->reason);
	r->ticket = job->ticket;
	r->rc = session_checkpoint(w->store, w->session, &o, &r->number,
	    &r->note, &r->cause);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct worker_job job;
	struct worker_result r;
	char byte = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->count == 0 && !w->stop)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->count == 0 && w->stop)
			break;
		job = w->queue[w->head];
		w->head = (w->head + 1) % WORKER_QUEUE;
		w->count--;
		w->busy = 1;
		pthread_mutex_unlock(&w->lock);

		worker_run_job(w, &job, &r);
		worker_job_free(&job);

		pthread_mutex_lock(&w->lock);
		w->busy = 0;
		if (w->ndone < WORKER_QUEUE)
			w->done[w->ndone++] = r;
		else
			worker_result_free(&r);
		/* the pipe is non-blocking: one byte pending is enough */
		if (write(w->pipe[1], &byte, 1) < 0 && errno != EAGAIN)
			break;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct worker *
worker_start(struct store *st, const struct session *s, char **cause)
{
	struct worker *w = xcalloc(1, sizeof *w);
	int error;

	w->store = st;
	w->session = s;
	if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		*cause = xasprintf("pipe: %s", strerror(errno));
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	error = pthread_create(&w->thread, NULL, worker_main, w);
	if (error != 0) {
		*cause = xasprintf("cannot start the checkpoint thread: %s",
		    strerror(error));
		close(w->pipe[0]);
		close(w->pipe[1]);
		free(w);
		return NULL;
	}
	return w;
}

void
worker_stop(struct worker *w)
{
	struct worker_result r;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	while (worker_result(w, &r))
		worker_result_free(&r);
	close(w->pipe[0]);
	close(w->pipe[1]);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}

int
worker_fd(const struct worker *w)
{
	return w->pipe[0];
}

int
worker_request(struct worker *w, const char *reason, const char *label,
    int force, uint64_t ticket)
{
	struct worker_job *job;

	pthread_mutex_lock(&w->lock);
	if (w->count == WORKER_QUEUE) {
		pthread_mutex_unlock(&w->lock);
		return -1;
	}
	job = &w->queue[(w->head + w->count) % WORKER_QUEUE];
	job->reason = xstrdup(reason);
	job->label = label != NULL ? xstrdup(label) : NULL;
	job->force = force;
	job->ticket = ticket;
	w->count++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

int
worker_busy(struct worker *w)
{
	int busy;

	pthread_mutex_lock(&w->lock);
	busy = w->busy || w->count > 0;
	pthread_mutex_unlock(&w->lock);
	return busy;
}

int
worker_result(struct worker *w, struct worker_result *r)
{
	char drain[64];
	int got = 0;

	while (read(w->pipe[0], drain, sizeof drain) > 0)
		;
	pthread_mutex_lock(&w->lock);
	if (w->ndone > 0) {
		*r = w->done[0];
		memmove(w->done, w->done + 1, --w->ndone * sizeof *w->done);
		got = 1;
	}
	pthread_mutex_unlock(&w->lock);
	return got;
}

void
worker_wait(struct worker *w)
{
	struct timespec ts = { 0, 10 * 1000000 };

	while (worker_busy(w))
		nanosleep(&ts, NULL);
}

void
worker_result_free(struct worker_result *r)
{
	free(r->reason);
	free(r->note);
	free(r->cause);
	memset(r, 0, sizeof *r);
}
