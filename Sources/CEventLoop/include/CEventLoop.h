// CEventLoop: the Linux event headers Swift's Glibc module does not export (eventfd, epoll,
// timerfd), and constants Swift cannot import from them. Nothing else.
#ifndef CEVENTLOOP_H
#define CEVENTLOOP_H

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

static const int CEVENTLOOP_EFD_CLOEXEC = EFD_CLOEXEC;
static const int CEVENTLOOP_EFD_NONBLOCK = EFD_NONBLOCK;
static const int CEVENTLOOP_EFD_SEMAPHORE = EFD_SEMAPHORE;
static const int CEVENTLOOP_EPOLL_CLOEXEC = EPOLL_CLOEXEC;
static const int CEVENTLOOP_TFD_CLOEXEC = TFD_CLOEXEC;
static const int CEVENTLOOP_TFD_NONBLOCK = TFD_NONBLOCK;
static const uint32_t CEVENTLOOP_EPOLLIN = EPOLLIN;
static const uint32_t CEVENTLOOP_EPOLLOUT = EPOLLOUT;
static const uint32_t CEVENTLOOP_EPOLLERR = EPOLLERR;
static const uint32_t CEVENTLOOP_EPOLLHUP = EPOLLHUP;
static const int CEVENTLOOP_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
static const int CEVENTLOOP_EPOLL_CTL_DEL = EPOLL_CTL_DEL;
static const int CEVENTLOOP_EPOLL_CTL_MOD = EPOLL_CTL_MOD;

/// epoll_event is packed on x86-64; these keep Swift away from its layout.
static inline int ceventloop_add(int epoll_fd, int fd, uint32_t events, uint64_t data) {
  struct epoll_event event = {.events = events, .data.u64 = data};
  return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
}
static inline int ceventloop_modify(int epoll_fd, int fd, uint32_t events, uint64_t data) {
  struct epoll_event event = {.events = events, .data.u64 = data};
  return epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event);
}
static inline int ceventloop_delete(int epoll_fd, int fd) { return epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, 0); }

/// Waits for up to `capacity` events; writes their data words and event masks. Returns the
/// count, or -1 with errno.
static inline int ceventloop_wait(int epoll_fd, uint64_t *data, uint32_t *events, int capacity, int timeout_ms) {
  struct epoll_event buffer[64];
  if (capacity > 64) capacity = 64;
  int count = epoll_wait(epoll_fd, buffer, capacity, timeout_ms);
  for (int i = 0; i < count; i++) {
    data[i] = buffer[i].data.u64;
    events[i] = buffer[i].events;
  }
  return count;
}

/// Arms a timerfd: first expiry after `initial_ns`, then every `interval_ns` (0: once).
static inline int ceventloop_timer_arm(int fd, uint64_t initial_ns, uint64_t interval_ns) {
  struct itimerspec spec = {
      .it_interval = {.tv_sec = (time_t)(interval_ns / 1000000000ull), .tv_nsec = (long)(interval_ns % 1000000000ull)},
      .it_value = {.tv_sec = (time_t)(initial_ns / 1000000000ull), .tv_nsec = (long)(initial_ns % 1000000000ull)},
  };
  return timerfd_settime(fd, 0, &spec, 0);
}

/// pipe2(2) with O_CLOEXEC | O_NONBLOCK on both ends (Glibc's module lacks pipe2). Returns 0 or -1.
int ceventloop_nonblocking_pipe(int ends[2]);

#endif
