/*
 * Crash-safe journal: before the agent touches the kernel for a fault, it writes what it is
 * about to do and how to undo it; after a crash, the next start (or `faultlined --cleanup`)
 * reads the records and undoes what they describe.
 */
#ifndef FL_JOURNAL_H
#define FL_JOURNAL_H

#include <sys/types.h>

#include <jansson.h>

struct journal;

/* Open (creating, mode 0700) the journal directory. Returns 0 or -errno. */
int journal_open(const char *dir, struct journal **out);
void journal_close(struct journal *j);

/*
 * Durably store record under key (a fault id), replacing the key's earlier record: one line
 * appended to this process's own log and fdatasync'ed (the log is created, and its directory
 * synced, at the process's first change). When this returns 0 the record survives a crash of
 * the agent or of the machine; when it fails, a crash brings back the key's earlier record at
 * most. Safe to call from several threads. Returns 0 or -errno.
 */
int journal_write(struct journal *j, const char *key, const json_t *record);

/*
 * Durably remove the record of key: a line appended and synced (0, and no sync, when there was
 * none). Called from journal_foreach()'s fn for a record of a dead writer, it only marks the
 * record: the records left are written together once fn has seen them all.
 */
int journal_remove(struct journal *j, const char *key);

/*
 * Call fn for every record of the logs whose writer died (and of the earlier format's KEY.json
 * files), oldest first; the log of a process still running is left to it. A torn last line (a
 * change whose write never completed, so never made) is ignored; a damaged line elsewhere is
 * reported with record NULL and its file kept as NAME.corrupt (an unreadable KEY.json as
 * KEY.corrupt), never silently dropped. The records fn did not remove are then folded into one
 * new log. Call with journal_lock() held. Returns the number of records seen, or -errno.
 */
int journal_foreach(struct journal *j,
		    void (*fn)(void *ctx, const char *key, json_t *record, const char *problem),
		    void *ctx);

const char *journal_dir(const struct journal *j);

/*
 * Tell journal_foreach() that the writer pid is dead, or being killed: its logs are an earlier
 * run's even while its lock lingers (a watchdog that killed a hung agent and could not wait
 * for the kernel to finish its exit).
 */
void journal_writer_gone(struct journal *j, pid_t pid);

/*
 * Take the journal's recovery lock (flock on a descriptor of its own, so a forked watchdog
 * and the agent it watches never share it): only one process undoes records at a time. Waits
 * up to timeout_ms for another holder (a watchdog cleaning up after a dead agent) to finish.
 * Returns the descriptor to pass to journal_unlock(), or -errno (-ETIMEDOUT).
 */
int journal_lock(struct journal *j, int timeout_ms);
void journal_unlock(int fd);

/* mkdir -p: path and its parents (0755), the last one with mode. 0 or -errno. */
int journal_mkdir_p(const char *path, mode_t mode);

#endif
