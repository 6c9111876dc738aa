/* systemd readiness notification (sd_notify protocol), without linking libsystemd. */
#ifndef FL_NOTIFY_H
#define FL_NOTIFY_H

/* Send state (e.g. "READY=1") to $NOTIFY_SOCKET. 0 when sent or when not under systemd. */
int notify_systemd(const char *state);

#endif
