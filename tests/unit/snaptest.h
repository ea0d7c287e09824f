/* Helpers shared by the unit tests of the checkpoint store: temporary
 * trees, hostile scratch content, listings to compare trees with. */
#ifndef AIRLOCK_SNAPTEST_H
#define AIRLOCK_SNAPTEST_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot/snapshot.h"

/* Enters a new user namespace (plus the namespaces in flags, e.g.
 * CLONE_NEWNS) mapping the caller's own uid and gid: what an unprivileged
 * test needs to mount. For children only. 0 or -1. */
int snaptest_userns(int flags);

/* A fresh directory below /tmp (caller frees; snaptest_rm removes it). */
char *snaptest_tmpdir(const char *tag);
void snaptest_rm(const char *dir);
/* dir/rel, created with parents as needed. */
void snaptest_mkdir(const char *dir, const char *rel, mode_t mode);
void snaptest_write(const char *dir, const char *rel, const void *data,
    size_t len, mode_t mode);
void snaptest_write_str(const char *dir, const char *rel, const char *s);
/* Incompressible bytes from a seeded generator. */
void snaptest_random(void *p, size_t len, uint32_t seed);
void snaptest_symlink(const char *dir, const char *rel, const char *target);
void snaptest_whiteout(const char *dir, const char *rel);
/* Sets *.overlay.opaque = y (trusted when root, user otherwise). */
void snaptest_opaque(const char *dir, const char *rel);
const char *snaptest_xattr_ns(void);
/* The tree below dir as text: one line per entry, sorted, with kind,
 * permissions, size, content hash, link target, whiteout and opaque
 * marks and (when with_times) mtimes. Reads through dir fds, so paths
 * longer than PATH_MAX are fine. */
char *snaptest_listing(const char *dir, int with_times);
/* Bytes in all packs of the store. */
uint64_t snaptest_pack_bytes(const char *storedir);
struct store *snaptest_store(const char *storedir);
/* A scratch full of what an untrusted program may write (see the .c). */
void snaptest_hostile(const char *upper);
/* A chain of directories with 200-byte names going past PATH_MAX, with a
 * file "bottom" at the end holding content. Returns the relative path of
 * the file (caller frees). */
char *snaptest_deep(const char *dir, const char *content);
/* Reads the file at the end of snaptest_deep's chain; NULL if missing. */
char *snaptest_deep_read(const char *dir);
/* checkpoint_take with the usual options; asserts success or "nothing
 * changed" as expected and returns the result. */
int snaptest_take(struct store *, uint32_t owner, const char *upper,
    const char *lower, int force, struct ckpt *out);

#endif
