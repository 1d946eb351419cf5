// C helpers for SwiftVMM's OS threads: the kick signal (SIGRTMIN is a glibc macro that calls
// a function, so Swift cannot import it), its no-op handler, and the thread name (prctl).
#ifndef CTHREADS_H
#define CTHREADS_H

#include <signal.h>

/// SIGRTMIN, the signal that kicks a vCPU thread out of KVM_RUN.
static inline int cthreads_sigrtmin(void) { return SIGRTMIN; }

/// Installs a no-op handler (without SA_RESTART) for `signal_number`. Returns 0 or -1 (errno set).
int cthreads_install_kick_handler(int signal_number);

/// Names the calling thread (at most 15 bytes are kept). Returns 0 or -1.
int cthreads_set_name(const char *name);

#endif
