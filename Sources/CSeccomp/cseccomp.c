#define _GNU_SOURCE
#include "CSeccomp.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

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

int cseccomp_allow(void *context, const char *name) {
    int number = seccomp_syscall_resolve_name(name);
    if (number == __NR_SCMP_ERROR) return -EINVAL;
    return seccomp_rule_add(context, SCMP_ACT_ALLOW, number, 0);
}

int cseccomp_fail(void *context, const char *name, int error) {
    int number = seccomp_syscall_resolve_name(name);
    if (number == __NR_SCMP_ERROR) return -EINVAL;
    return seccomp_rule_add(context, SCMP_ACT_ERRNO((uint32_t)error), number, 0);
}

int cseccomp_allow_ioctl(void *context, unsigned long request) {
    return seccomp_rule_add(context, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                            SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)request));
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

int cseccomp_limit_capabilities(uint64_t keep) {
    // The bounding set first (dropping needs CAP_SETPCAP, which may go below). A thread whose
    // process already gave up CAP_SETPCAP keeps its bounding set: it only matters for execve,
    // which no filter allows, and the sets below still shrink.
    for (int capability = 0; capability <= 63; capability++) {
        if (keep & (1ULL << capability)) continue;
        if (prctl(PR_CAPBSET_READ, capability, 0, 0, 0) != 1) continue;
        if (prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0) {
            if (errno == EPERM) break;
            return -errno;
        }
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return -errno;
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &header, data) != 0) return -errno;
    for (int index = 0; index < 2; index++) {
        uint32_t mask = (uint32_t)(keep >> (32 * index));
        data[index].effective &= mask;
        data[index].permitted &= mask;
        data[index].inheritable &= mask;
    }
    return syscall(SYS_capset, &header, data) == 0 ? 0 : -errno;
}

uint64_t cseccomp_effective_capabilities(void) {
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &header, data) != 0) return 0;
    return (uint64_t)data[0].effective | ((uint64_t)data[1].effective << 32);
}
