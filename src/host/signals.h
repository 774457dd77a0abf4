/*
 * signals.h - SIGINT/SIGTERM as host shutdown requests. A signal handler can
 * only set a flag, so this is the one piece of process-global state in rrvm;
 * the replay layer's shutdown gate reads it and logs the request.
 */
#ifndef RRVM_SIGNALS_H
#define RRVM_SIGNALS_H

void host_signals_install(void);
/* The pending signal number (SIGINT/SIGTERM), or 0. Clears it. */
int host_signal_take(void);

#endif
