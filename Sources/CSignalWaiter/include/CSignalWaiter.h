// The executable's SIGTERM/SIGINT waiter: a plain pthread in sigwait (not a Dispatch worker, whose
// signal mask Dispatch manages). Nothing else.
#ifndef CSIGNALWAITER_H
#define CSIGNALWAITER_H

/// Installs a handler for SIGTERM and SIGINT that hands each to the waiter (threads whose mask
/// Dispatch manages may receive them), and blocks both in the calling thread (threads it creates
/// inherit the mask). A signal before the waiter exists is kept for it. Returns 0, or nonzero.
int csignalwaiter_block(void);

/// Starts a thread that takes SIGTERM and SIGINT with sigwait and calls `handler` with each
/// one's number, on that thread. Returns 0 or an errno.
int csignalwaiter_start(void (*handler)(int));

/// Makes the waiter reap every ended child on SIGCHLD (a container's PID 1 duty). Call before
/// any thread exists, after csignalwaiter_block. Returns 0 or -1.
int csignalwaiter_reap_children(void);

#endif
