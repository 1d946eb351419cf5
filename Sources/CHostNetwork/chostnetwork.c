#define _GNU_SOURCE
#include "CHostNetwork.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

const unsigned CHOSTNETWORK_TUN_F_CSUM = TUN_F_CSUM;
const unsigned CHOSTNETWORK_TUN_F_TSO4 = TUN_F_TSO4;
const unsigned CHOSTNETWORK_TUN_F_TSO6 = TUN_F_TSO6;
const unsigned CHOSTNETWORK_TUN_F_TSO_ECN = TUN_F_TSO_ECN;
const unsigned CHOSTNETWORK_TUN_F_UFO = TUN_F_UFO;

int chostnetwork_interface_exists(const char *name) { return if_nametoindex(name) != 0; }

int chostnetwork_tap_open(const char *name, int *created, int *step) {
  *created = !chostnetwork_interface_exists(name);
  *step = 1;
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  struct ifreq request;
  memset(&request, 0, sizeof request);
  request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  *step = 2;
  if (ioctl(fd, TUNSETIFF, &request) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  *step = 3;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

int chostnetwork_tap_set_vnet_header_size(int fd, int size) { return ioctl(fd, TUNSETVNETHDRSZ, &size); }

int chostnetwork_tap_set_offload(int fd, unsigned flags) { return ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags); }

int chostnetwork_interface_up(const char *name, int mtu) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  struct ifreq request;
  memset(&request, 0, sizeof request);
  strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  int result = 0;
  if (mtu > 0) {
    request.ifr_mtu = mtu;
    if (ioctl(sock, SIOCSIFMTU, &request) < 0) result = -1;
  }
  if (result == 0 && ioctl(sock, SIOCGIFFLAGS, &request) < 0) result = -1;
  if (result == 0) {
    request.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(sock, SIOCSIFFLAGS, &request) < 0) result = -1;
  }
  int saved = errno;
  close(sock);
  errno = saved;
  return result;
}
