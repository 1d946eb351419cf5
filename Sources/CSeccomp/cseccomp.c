#define _GNU_SOURCE
#include "CSeccomp.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// si_code of a SIGSYS that a seccomp filter raised (asm-generic/siginfo.h; glibc's <signal.h>
// does not define it).
#define SIGSYS_FROM_SECCOMP 1

static int violation_status = 16;

// Async-signal-safe: only write(2), prctl(PR_GET_NAME) and _exit. Every filter allows those.
static void append(char *buffer, size_t *length, size_t capacity, const char *text) {
    while (*text && *length + 1 < capacity) buffer[(*length)++] = *text++;
}

static void append_number(char *buffer, size_t *length, size_t capacity, long value) {
    char digits[24];
    int count = 0;
    if (value < 0) {
        append(buffer, length, capacity, "-");
        value = -value;
    }
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0 && count < (int)sizeof(digits));
    while (count > 0 && *length + 1 < capacity) buffer[(*length)++] = digits[--count];
}

static void violation(int signal, siginfo_t *info, void *context) {
    (void)signal;
    (void)context;
    // A SIGSYS this process sent itself (cseccomp_drop_capabilities_everywhere): drop this
    // thread's capabilities. Any other SIGSYS that no filter raised (kill(2) from outside) is
    // ignored: only a filter's report stops the VMM.
    if (info->si_code == SI_TKILL && info->si_pid == getpid()) {
        cseccomp_drop_own_capabilities_from_handler();
        return;
    }
    if (info->si_code != SIGSYS_FROM_SECCOMP) return;
    char name[17] = {0};
    prctl(PR_GET_NAME, name, 0, 0, 0);
    char message[256];
    size_t length = 0;
    append(message, &length, sizeof(message), "swiftvmm: seccomp: thread '");
    append(message, &length, sizeof(message), name);
    append(message, &length, sizeof(message), "' made system call ");
    append_number(message, &length, sizeof(message), info->si_syscall);
    append(message, &length, sizeof(message),
           ", which its filter forbids; the VMM stops (run with --seccomp=log to list such calls)\n");
    ssize_t ignored = write(2, message, length);
    (void)ignored;
    _exit(violation_status);
}

int cseccomp_install_violation_handler(int exit_status) {
    violation_status = exit_status;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = violation;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGSYS, &action, NULL) == 0 ? 0 : -errno;
}

void *cseccomp_new(int default_action) {
    uint32_t action = default_action == CSECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
    scmp_filter_ctx context = seccomp_init(action);
    if (context == NULL) return NULL;
    // A binary tree of system calls: the filter's cost does not grow with the list.
    seccomp_attr_set(context, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    return context;
}

int cseccomp_add_rule(void *context, const char *name, int error, const cseccomp_condition *conditions,
                      unsigned count) {
    int number = seccomp_syscall_resolve_name(name);
    if (number == __NR_SCMP_ERROR) return -EINVAL;
    if (count > 6) return -E2BIG;
    struct scmp_arg_cmp comparisons[6];
    for (unsigned index = 0; index < count; index++) {
        const cseccomp_condition *condition = &conditions[index];
        if (condition->argument > 5) return -EINVAL;
        comparisons[index].arg = condition->argument;
        switch (condition->operation) {
        case CSECCOMP_EQUAL:
            comparisons[index].op = SCMP_CMP_EQ;
            comparisons[index].datum_a = condition->value;
            comparisons[index].datum_b = 0;
            break;
        case CSECCOMP_MASKED_EQUAL:
            comparisons[index].op = SCMP_CMP_MASKED_EQ;
            comparisons[index].datum_a = condition->mask;
            comparisons[index].datum_b = condition->value;
            break;
        default:
            return -EINVAL;
        }
    }
    uint32_t action = error == 0 ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO((uint32_t)error);
    return seccomp_rule_add_array(context, action, number, count, comparisons);
}

int cseccomp_allow_clone_threads(void *context) {
    int result = seccomp_rule_add(context, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    if (result != 0) return result;
    // glibc 2.34+ may try clone3 first; answering ENOSYS makes it fall back to clone, whose
    // flags a filter can check (clone3 passes them in memory).
    return seccomp_rule_add(context, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

int cseccomp_load(void *context, int all_threads) {
    if (all_threads) seccomp_attr_set(context, SCMP_FLTATR_CTL_TSYNC, 1);
    int result = seccomp_load(context);
    seccomp_release(context);
    return result;
}

void cseccomp_release(void *context) { seccomp_release(context); }

int cseccomp_resolve(const char *name) { return seccomp_syscall_resolve_name(name); }
