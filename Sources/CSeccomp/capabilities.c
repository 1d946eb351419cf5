// Capabilities: dropped on the calling thread, or on every thread of the process. Linux keeps
// capabilities per thread and capset(2) changes only the caller, so the process-wide drop asks
// each thread to drop its own, as glibc does for setuid(2): a signal to each task (SIGSYS, which
// no thread blocks — libdispatch's workers block every other asynchronous signal), whose
// handler drops the thread's capabilities; then /proc/self/task is read again until no thread
// holds any. Async-signal-safe where it runs in the handler: prctl, capget/capset, errno.
#define _GNU_SOURCE
#include "CSeccomp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// Task flags (linux/sched.h) of kernel workers that live in the process's thread group but run
// no user code and take no signal: io_uring's workers and KVM's NX recovery worker.
#define TASK_FLAG_IO_WORKER 0x00000010u
#define TASK_FLAG_USER_WORKER 0x00004000u
#define TASK_FLAG_KERNEL_THREAD 0x00200000u

static int read_capability_sets(struct __user_cap_data_struct data[2]) {
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    memset(data, 0, 2 * sizeof(data[0]));
    return syscall(SYS_capget, &header, data) == 0 ? 0 : -errno;
}

int cseccomp_limit_capabilities(uint64_t keep) {
    struct __user_cap_data_struct data[2];
    int result = read_capability_sets(data);
    if (result != 0) return result;
    uint64_t permitted = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
    uint64_t inheritable = (uint64_t)data[0].inheritable | ((uint64_t)data[1].inheritable << 32);
    // Nothing beyond `keep` is permitted (so nothing can be made effective, ambient or dropped
    // from the bounding set — that needs CAP_SETPCAP): nothing to do, and no call that a filter
    // installed since would have to allow.
    if (((permitted | inheritable) & ~keep) == 0) return 0;
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
    for (int index = 0; index < 2; index++) {
        uint32_t mask = (uint32_t)(keep >> (32 * index));
        data[index].effective &= mask;
        data[index].permitted &= mask;
        data[index].inheritable &= mask;
    }
    return syscall(SYS_capset, &header, data) == 0 ? 0 : -errno;
}

uint64_t cseccomp_effective_capabilities(void) {
    struct __user_cap_data_struct data[2];
    if (read_capability_sets(data) != 0) return 0;
    return (uint64_t)data[0].effective | ((uint64_t)data[1].effective << 32);
}

void cseccomp_drop_own_capabilities_from_handler(void) {
    int saved = errno;
    (void)cseccomp_limit_capabilities(0);
    errno = saved;
}

// Reads `path` into `buffer` (NUL-terminated); the length, or -1.
static ssize_t read_small_file(const char *path, char *buffer, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t total = 0;
    while ((size_t)total + 1 < size) {
        ssize_t count = read(fd, buffer + total, size - 1 - (size_t)total);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) break;
        total += count;
    }
    close(fd);
    buffer[total] = 0;
    return total;
}

// The task's flags (field 9 of /proc/self/task/TID/stat, after the parenthesised name, which
// may hold spaces and parentheses itself); 0 when unreadable.
static unsigned long task_flags(const char *tid) {
    char path[64];
    char text[1024];
    snprintf(path, sizeof path, "/proc/self/task/%s/stat", tid);
    if (read_small_file(path, text, sizeof text) <= 0) return 0;
    char *field = strrchr(text, ')');
    if (field == NULL) return 0;
    // ") " then state (3), ppid (4), pgrp (5), session (6), tty_nr (7), tpgid (8), flags (9):
    // the space before field n is the (n - 2)th after the parenthesis.
    for (int index = 3; index <= 9 && field != NULL; index++) field = strchr(field + 1, ' ');
    return field == NULL ? 0 : strtoul(field + 1, NULL, 10);
}

// Whether the task holds any capability in its inheritable, permitted, effective or ambient
// set; its name goes to `name`. -1 when the task is gone.
static int task_holds_capabilities(const char *tid, char *name, size_t name_size) {
    char path[64];
    char text[4096];
    snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
    if (read_small_file(path, text, sizeof text) <= 0) return -1;
    const char *keys[] = {"CapInh:", "CapPrm:", "CapEff:", "CapAmb:"};
    int holds = 0;
    for (size_t index = 0; index < sizeof keys / sizeof keys[0]; index++) {
        const char *line = strstr(text, keys[index]);
        if (line != NULL && strtoull(line + strlen(keys[index]), NULL, 16) != 0) holds = 1;
    }
    const char *line = strstr(text, "Name:");
    if (line != NULL && name_size > 0) {
        line += 5;
        while (*line == '\t' || *line == ' ') line++;
        size_t length = strcspn(line, "\n");
        if (length >= name_size) length = name_size - 1;
        memcpy(name, line, length);
        name[length] = 0;
    }
    return holds;
}

int cseccomp_drop_capabilities_everywhere(int rounds, char *holder, size_t holder_size) {
    if (holder_size > 0) holder[0] = 0;
    int result = cseccomp_limit_capabilities(0);
    if (result != 0) return result;
    pid_t process = getpid();
    pid_t self = (pid_t)syscall(SYS_gettid);
    // Two clean readings in a row: a thread that was being cloned by a thread still holding
    // capabilities during one reading is in the next.
    int clean = 0;
    for (int round = 0; round < rounds; round++) {
        DIR *tasks = opendir("/proc/self/task");
        if (tasks == NULL) return -errno;
        int holders = 0;
        struct dirent *entry;
        while ((entry = readdir(tasks)) != NULL) {
            if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
            pid_t tid = (pid_t)strtol(entry->d_name, NULL, 10);
            if (task_flags(entry->d_name) & (TASK_FLAG_IO_WORKER | TASK_FLAG_USER_WORKER | TASK_FLAG_KERNEL_THREAD))
                continue;
            if (task_holds_capabilities(entry->d_name, holder, holder_size) != 1) continue;
            holders++;
            if (tid == self) {
                result = cseccomp_limit_capabilities(0);
                if (result != 0) {
                    closedir(tasks);
                    return result;
                }
            } else if (syscall(SYS_tgkill, process, tid, SIGSYS) != 0 && errno != ESRCH) {
                int code = errno;
                closedir(tasks);
                return -code;
            }
        }
        closedir(tasks);
        clean = holders == 0 ? clean + 1 : 0;
        if (clean == 2) {
            if (holder_size > 0) holder[0] = 0;
            return 0;
        }
        if (holders == 0) continue;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 200 * 1000};
        nanosleep(&pause, NULL);
    }
    return -EAGAIN;
}

long cseccomp_probe(int which, const char *path) {
    long result;
    switch (which) {
    case CSECCOMP_PROBE_EXECUTABLE_MAPPING: {
        void *mapping = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mapping == MAP_FAILED) return -errno;
        munmap(mapping, 4096);
        return 0;
    }
    case CSECCOMP_PROBE_OPEN_FOR_WRITING:
        result = open(path, O_WRONLY | O_CLOEXEC);
        if (result < 0) return -errno;
        close((int)result);
        return 0;
    case CSECCOMP_PROBE_UNLINK:
        return unlink(path) == 0 ? 0 : -errno;
    case CSECCOMP_PROBE_IO_URING_SETUP: {
        struct { uint32_t words[30]; } parameters;
        memset(&parameters, 0, sizeof parameters);
        result = syscall(__NR_io_uring_setup, 4, &parameters);
        if (result < 0) return -errno;
        close((int)result);
        return 0;
    }
    case CSECCOMP_PROBE_UNIX_SOCKET:
        result = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (result < 0) return -errno;
        close((int)result);
        return 0;
    case CSECCOMP_PROBE_SIGNAL_OUTSIDE:
        // Signal 0 to PID 1: nothing is sent even where the call is allowed.
        return syscall(SYS_tgkill, 1, 1, 0) == 0 ? 0 : -errno;
    default:
        return -EINVAL;
    }
}
