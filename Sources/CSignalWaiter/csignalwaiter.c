#define _GNU_SOURCE
#include "CSignalWaiter.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static void (*signal_handler)(int);
static pthread_t waiter;
static int waiter_ready;   // set (atomically) once the waiter thread exists
static int early_signal;   // a signal that came before the waiter existed
static int reaping;        // PID 1 duty (csignalwaiter_reap_children): SIGCHLD reaps every child

static void shutdown_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    if (reaping) sigaddset(set, SIGCHLD);
}

int csignalwaiter_reap_children(void) {
    reaping = 1;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = SIG_DFL;  // not SIG_IGN, which would make children vanish unreaped by us
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(SIGCHLD, &action, NULL) != 0) return -1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

// Collects every child that has ended (orphans re-parented to PID 1 included).
static void reap(void) {
    int status;
    while (waitpid(-1, &status, WNOHANG) > 0) {
    }
}

// Threads that do not block the signals (Dispatch's workers manage their own masks) may receive
// them: hand each one to the waiter (where it is blocked, so sigwait takes it), or keep it for
// the waiter when it does not exist yet. Async-signal-safe: atomics and pthread_kill only.
static void forward(int number) {
    if (__atomic_load_n(&waiter_ready, __ATOMIC_ACQUIRE)) {
        pthread_kill(waiter, number);
    } else {
        __atomic_store_n(&early_signal, number, __ATOMIC_RELEASE);
    }
}

int csignalwaiter_block(void) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = forward;
    action.sa_flags = SA_RESTART;
    sigfillset(&action.sa_mask);
    if (sigaction(SIGTERM, &action, NULL) != 0 || sigaction(SIGINT, &action, NULL) != 0) return -1;
    sigset_t set;
    shutdown_signals(&set);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void *wait_for_signals(void *unused) {
    (void)unused;
    // Named from inside (prctl): naming another thread opens /proc/self/task/TID/comm for
    // writing, which the process filter refuses.
    prctl(PR_SET_NAME, "vmm-signals", 0, 0, 0);
    sigset_t set;
    shutdown_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    waiter = pthread_self();
    __atomic_store_n(&waiter_ready, 1, __ATOMIC_RELEASE);
    int early = __atomic_exchange_n(&early_signal, 0, __ATOMIC_ACQ_REL);
    if (early != 0) signal_handler(early);
    for (;;) {
        int number = 0;
        if (sigwait(&set, &number) != 0) continue;
        if (number == SIGCHLD) {
            reap();
        } else {
            signal_handler(number);
        }
    }
    return NULL;
}

int csignalwaiter_start(void (*handler)(int)) {
    signal_handler = handler;
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    int result = pthread_create(&thread, &attributes, wait_for_signals, NULL);
    pthread_attr_destroy(&attributes);
      return result;
}
