#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

static void
log_vprint(const char *what, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	/* One write, so lines from two processes do not interleave. */
	buf_printf(&b, "airlock: %s: ", what);
	buf_vprintf(&b, fmt, ap);
	buf_addch(&b, '\n');
	fflush(stdout);
	fwrite(b.data, 1, b.len, stderr);
	fflush(stderr);
	buf_free(&b);
}

void
log_error(const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(what, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(what, fmt, ap);
	va_end(ap);
}

void
log_cause(const char *what, char *cause)
{
	log_error(what, "%s", cause != NULL ? cause : "unknown error");
	free(cause);
}

void
log_bytes(struct buf *out, uint64_t bytes)
{
	static const char *units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		buf_printf(out, "%llu B", (unsigned long long)bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	buf_printf(out, "%.1f %s", v, units[u]);
}
