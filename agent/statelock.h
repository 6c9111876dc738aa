/* The state directory's lock: one agent (or one --cleanup) per journal, naming the holder. */
#ifndef FL_STATELOCK_H
#define FL_STATELOCK_H

#include <sys/types.h>

/*
 * Lock STATE_DIR/lock (creating the directory, 0700, and the file) for this process and write
 * its pid into it. The lock is a POSIX record lock (fcntl F_SETLK): it belongs to the process,
 * so the kernel releases it when the process dies, however it dies, and a child made by fork()
 * or clone() never holds it (a watchdog or a stressor worker cannot keep it alive); the fd is
 * close-on-exec. While another process holds it, retry for up to wait_ms (a holder that is
 * exiting, e.g. just SIGKILLed, releases it within milliseconds; -1 waits for as long as it
 * takes), then -EWOULDBLOCK with the holder's pid in *holder (0 when it cannot be known).
 * Returns 0 with the locked fd in *fd, or -errno. The process must not open and close the
 * lock file otherwise: closing any fd of the file would drop a POSIX lock.
 */
/* How long faultlined and faultlined --cleanup wait for a held lock before refusing. */
#define STATELOCK_WAIT_MS 3000

int statelock_acquire(const char *state_dir, int wait_ms, int *fd, pid_t *holder);

/* Release the lock (close the fd); the pid stays in the file, harmless once unlocked. */
void statelock_release(int fd);

#endif
