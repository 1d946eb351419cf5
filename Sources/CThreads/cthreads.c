// The kick signal's handler lives in C: it must be async-signal-safe and must not be inferred
// into any Swift actor. Its only job is to exist, so that the signal interrupts a blocking
// system call (KVM_RUN) with EINTR instead of killing the process.
#include "CThreads.h"

#include <sys/prctl.h>

static void cthreads_kick_handler(int signal_number) { (void)signal_number; }

int cthreads_install_kick_handler(int signal_number) {
  struct sigaction action = {0};
  action.sa_handler = cthreads_kick_handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
  return sigaction(signal_number, &action, 0);
}

int cthreads_set_name(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0); }
