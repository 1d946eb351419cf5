#define _GNU_SOURCE
#include "CHostNetwork.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
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

// Opens /dev/net/tun and attaches to (or creates) tap `name` with `flags`; *step says which call
// failed (1 open, 2 TUNSETIFF).
static int tap_attach(const char *name, short flags, int *step) {
  *step = 1;
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  struct ifreq request;
  memset(&request, 0, sizeof request);
  request.ifr_flags = flags;
  strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  *step = 2;
  if (ioctl(fd, TUNSETIFF, &request) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

int chostnetwork_tap_open(const char *name, int *created, int *step) {
  *created = !chostnetwork_interface_exists(name);
  int fd = tap_attach(name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, step);
  if (fd < 0) return -1;
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

// The MTU (when mtu > 0), then IFF_UP | `extra_flags`, on an ifreq that names the interface.
static int set_mtu_and_up(int sock, struct ifreq *request, int mtu, short extra_flags) {
  if (mtu > 0) {
    request->ifr_mtu = mtu;
    if (ioctl(sock, SIOCSIFMTU, request) < 0) return -1;
  }
  if (ioctl(sock, SIOCGIFFLAGS, request) < 0) return -1;
  request->ifr_flags |= IFF_UP | extra_flags;
  return ioctl(sock, SIOCSIFFLAGS, request) < 0 ? -1 : 0;
}

int chostnetwork_interface_up(const char *name, int mtu) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  struct ifreq request;
  memset(&request, 0, sizeof request);
  strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  int result = set_mtu_and_up(sock, &request, mtu, IFF_RUNNING);
  int saved = errno;
  close(sock);
  errno = saved;
  return result;
}

static int tap_set_persistent(const char *name, int persistent) {
  int step;
  int fd = tap_attach(name, IFF_TAP | IFF_NO_PI, &step);
  if (fd < 0) return -1;
  int result = ioctl(fd, TUNSETPERSIST, (unsigned long)persistent);
  int saved = errno;
  close(fd);
  errno = saved;
  return result < 0 ? -1 : 0;
}

int chostnetwork_tap_create_persistent(const char *name) { return tap_set_persistent(name, 1); }

static void fill_ipv4(struct sockaddr *out, uint32_t address) {
  struct sockaddr_in in;
  memset(&in, 0, sizeof in);
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(address);
  memcpy(out, &in, sizeof in);
}

static uint32_t read_ipv4(const struct sockaddr *from) {
  struct sockaddr_in in;
  memcpy(&in, from, sizeof in);
  return ntohl(in.sin_addr.s_addr);
}

int chostnetwork_interface_configure(const char *name, uint32_t address, int prefix_length, int mtu) {
  if (prefix_length < 0 || prefix_length > 32) {
    errno = EINVAL;
    return -1;
  }
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  struct ifreq request;
  memset(&request, 0, sizeof request);
  strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  int result = 0;
  fill_ipv4(&request.ifr_addr, address);
  if (ioctl(sock, SIOCSIFADDR, &request) < 0) result = -1;
  uint32_t mask = prefix_length == 0 ? 0 : 0xffffffffu << (32 - prefix_length);
  fill_ipv4(&request.ifr_netmask, mask);
  if (result == 0 && ioctl(sock, SIOCSIFNETMASK, &request) < 0) result = -1;
  if (result == 0) result = set_mtu_and_up(sock, &request, mtu, 0);
  int saved = errno;
  close(sock);
  errno = saved;
  return result;
}

int chostnetwork_interface_read(const char *name, uint32_t *address, uint32_t *netmask, int *mtu) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  struct ifreq request;
  memset(&request, 0, sizeof request);
  strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  int result = 0;
  if (ioctl(sock, SIOCGIFADDR, &request) < 0) result = -1;
  if (result == 0) *address = read_ipv4(&request.ifr_addr);
  if (result == 0 && ioctl(sock, SIOCGIFNETMASK, &request) < 0) result = -1;
  if (result == 0) *netmask = read_ipv4(&request.ifr_netmask);
  if (result == 0 && ioctl(sock, SIOCGIFMTU, &request) < 0) result = -1;
  if (result == 0) *mtu = request.ifr_mtu;
  int saved = errno;
  close(sock);
  errno = saved;
  return result;
}

unsigned chostnetwork_interface_index(const char *name) { return if_nametoindex(name); }

// Sends one netlink request (NLM_F_ACK set) and reads its acknowledgement: an NLMSG_ERROR whose
// error is 0 (success, 0 returned) or -errno (-1 returned, errno set).
static int netlink_transact(struct nlmsghdr *request) {
  int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) return -1;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  int result = -1;
  ssize_t length = (ssize_t)request->nlmsg_len;
  if (sendto(sock, request, (size_t)length, 0, (struct sockaddr *)&kernel, sizeof kernel) == length) {
    char reply[512];
    ssize_t received = recv(sock, reply, sizeof reply, 0);
    struct nlmsghdr *header = (struct nlmsghdr *)reply;
    if (received >= (ssize_t)(sizeof *header + sizeof(struct nlmsgerr)) && header->nlmsg_type == NLMSG_ERROR) {
      const struct nlmsgerr *ack = NLMSG_DATA(header);
      if (ack->error == 0)
        result = 0;
      else
        errno = -ack->error;
    } else if (received >= 0) {
      errno = EPROTO;
    }
  }
  int saved = errno;
  close(sock);
  errno = saved;
  return result;
}

int chostnetwork_link_delete(const char *name) {
  unsigned index = if_nametoindex(name);
  if (index == 0) return -1;  // errno ENODEV
  struct {
    struct nlmsghdr header;
    struct ifinfomsg link;
  } request;
  memset(&request, 0, sizeof request);
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = RTM_DELLINK;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  request.header.nlmsg_seq = 1;
  request.link.ifi_family = AF_UNSPEC;
  request.link.ifi_index = (int)index;
  return netlink_transact(&request.header);
}

int chostnetwork_link_ipv6_addresses_off(const char *name) {
  unsigned index = if_nametoindex(name);
  if (index == 0) return -1;
  // RTM_NEWLINK on the existing link: IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE = NONE } }.
  struct {
    struct nlmsghdr header;
    struct ifinfomsg link;
    char attributes[64];
  } request;
  memset(&request, 0, sizeof request);
  request.header.nlmsg_type = RTM_NEWLINK;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  request.header.nlmsg_seq = 1;
  request.link.ifi_family = AF_UNSPEC;
  request.link.ifi_index = (int)index;
  struct rtattr *spec = (struct rtattr *)request.attributes;
  spec->rta_type = IFLA_AF_SPEC;
  struct rtattr *inet6 = (struct rtattr *)RTA_DATA(spec);
  inet6->rta_type = AF_INET6;
  struct rtattr *mode = (struct rtattr *)RTA_DATA(inet6);
  mode->rta_type = IFLA_INET6_ADDR_GEN_MODE;
  mode->rta_len = RTA_LENGTH(1);
  *(unsigned char *)RTA_DATA(mode) = IN6_ADDR_GEN_MODE_NONE;
  inet6->rta_len = RTA_LENGTH(RTA_ALIGN(mode->rta_len));
  spec->rta_len = RTA_LENGTH(inet6->rta_len);
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof request.link) + RTA_ALIGN(spec->rta_len);
  if (netlink_transact(&request.header) == 0) return 0;
  // No IPv6 in this kernel or namespace: nothing can be configured over it anyway.
  return errno == EAFNOSUPPORT || errno == EOPNOTSUPP ? 0 : -1;
}

int chostnetwork_interface_down(const char *name) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  struct ifreq request;
  memset(&request, 0, sizeof request);
  strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  int result = ioctl(sock, SIOCGIFFLAGS, &request);
  if (result == 0 && (request.ifr_flags & IFF_UP)) {
    request.ifr_flags &= ~IFF_UP;
    result = ioctl(sock, SIOCSIFFLAGS, &request);
  }
  int saved = errno;
  close(sock);
  errno = saved;
  return result < 0 ? -1 : 0;
}
