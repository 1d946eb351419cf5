// CEventLoop: the Linux event headers Swift's Glibc module does not export (eventfd, epoll,
// timerfd). Nothing else.
#ifndef CEVENTLOOP_H
#define CEVENTLOOP_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

static const int CEVENTLOOP_EFD_CLOEXEC = EFD_CLOEXEC;
static const int CEVENTLOOP_EFD_NONBLOCK = EFD_NONBLOCK;

#endif
