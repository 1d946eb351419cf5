#define _GNU_SOURCE  // pipe2
#include <fcntl.h>
#include <unistd.h>

// The one function that needs _GNU_SOURCE (pipe2); the rest of CEventLoop is its header.

int ceventloop_nonblocking_pipe(int ends[2]) { return pipe2(ends, O_CLOEXEC | O_NONBLOCK); }
