#define _GNU_SOURCE
#include "CPodNetwork.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// libnftables, loaded on first use. The typedefs check the header's prototypes.
static struct {
  pthread_once_t once;
  const char *failure;
  char failure_text[256];
  __typeof__(&nft_ctx_new) ctx_new;
  __typeof__(&nft_ctx_free) ctx_free;
  __typeof__(&nft_ctx_buffer_output) buffer_output;
  __typeof__(&nft_ctx_buffer_error) buffer_error;
  __typeof__(&nft_ctx_get_error_buffer) get_error_buffer;
  __typeof__(&nft_run_cmd_from_buffer) run_cmd_from_buffer;
  __typeof__(&nft_ctx_set_dry_run) set_dry_run;
} nft = {.once = PTHREAD_ONCE_INIT};

static void copy_text(char *out, size_t size, const char *text) {
  if (size == 0) return;
  snprintf(out, size, "%s", text ? text : "");
}

static void nft_load(void) {
  void *library = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) {
    snprintf(nft.failure_text, sizeof nft.failure_text, "cannot load libnftables.so.1 (%s)", dlerror());
    nft.failure = nft.failure_text;
    return;
  }
#define LOAD(field, symbol)                                                                        \
  do {                                                                                             \
    *(void **)(&nft.field) = dlsym(library, symbol);                                               \
    if (nft.field == NULL) {                                                                       \
      snprintf(nft.failure_text, sizeof nft.failure_text, "libnftables.so.1 has no %s", symbol);   \
      nft.failure = nft.failure_text;                                                              \
      return;                                                                                      \
    }                                                                                              \
  } while (0)
  LOAD(ctx_new, "nft_ctx_new");
  LOAD(ctx_free, "nft_ctx_free");
  LOAD(buffer_output, "nft_ctx_buffer_output");
  LOAD(buffer_error, "nft_ctx_buffer_error");
  LOAD(get_error_buffer, "nft_ctx_get_error_buffer");
  LOAD(run_cmd_from_buffer, "nft_run_cmd_from_buffer");
  LOAD(set_dry_run, "nft_ctx_set_dry_run");
#undef LOAD
}

int cpodnet_nft_available(char *error, size_t error_size) {
  pthread_once(&nft.once, nft_load);
  if (nft.failure != NULL) {
    copy_text(error, error_size, nft.failure);
    return 0;
  }
  return 1;
}

int cpodnet_nft_run(const char *commands, int dry_run, char *error, size_t error_size) {
  if (!cpodnet_nft_available(error, error_size)) return -1;
  struct nft_ctx *context = nft.ctx_new(NFT_CTX_DEFAULT);
  if (context == NULL) {
    copy_text(error, error_size, "nft_ctx_new failed");
    return -1;
  }
  // Buffered, so that nothing is printed and the error text can be returned.
  nft.buffer_output(context);
  nft.buffer_error(context);
  if (dry_run) nft.set_dry_run(context, true);
  int result = nft.run_cmd_from_buffer(context, commands);
  if (result != 0) {
    const char *text = nft.get_error_buffer(context);
    copy_text(error, error_size, text && *text ? text : "nft_run_cmd_from_buffer failed");
    result = -1;
  }
  nft.ctx_free(context);
  return result;
}

int cpodnet_udp_socket_on_interface(const char *name, uint16_t port) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (sock < 0) return -1;
  int one = 1;
  struct sockaddr_in local;
  memset(&local, 0, sizeof local);
  local.sin_family = AF_INET;
  local.sin_port = htons(port);
  local.sin_addr.s_addr = htonl(INADDR_ANY);
  if (setsockopt(sock, SOL_SOCKET, SO_BINDTODEVICE, name, (socklen_t)strnlen(name, IFNAMSIZ)) < 0 ||
      setsockopt(sock, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0 ||
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(sock, (struct sockaddr *)&local, sizeof local) < 0) {
    int saved = errno;
    close(sock);
    errno = saved;
    return -1;
  }
  return sock;
}

long cpodnet_udp_receive(int fd, uint8_t *buffer, size_t capacity) {
  // MSG_TRUNC: the datagram's real length, so that the caller can drop a truncated one.
  return (long)recv(fd, buffer, capacity, MSG_DONTWAIT | MSG_TRUNC);
}

long cpodnet_udp_send(int fd, const uint8_t *bytes, size_t length, uint32_t address, uint16_t port) {
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(address);
  return (long)sendto(fd, bytes, length, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&to, sizeof to);
}

int cpodnet_wait_readable(int fd, int timeout_ms) {
  struct pollfd entry = {.fd = fd, .events = POLLIN};
  int result = poll(&entry, 1, timeout_ms);
  if (result < 0) return errno == EINTR ? 0 : -1;
  return result > 0 ? 1 : 0;
}
