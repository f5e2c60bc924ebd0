// Batched I/O on TUN and UDP fds. Every call moves a batch; nothing here
// decides where a packet goes. Buffers belong to the caller; the per-thread
// scratch arrays for mmsghdr/iovec/sockaddr are allocated once per thread.
#include "io.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "gso.h"
#include "layout.h"

namespace tulle {

namespace {

constexpr int kMaxBatch = 256;
constexpr int kMaxGroSegments = 64;  // the kernel's UDP_GRO_CNT_MAX

struct Scratch {
  mmsghdr msgs[kMaxBatch];
  iovec iovs[kMaxBatch];
  sockaddr_storage names[kMaxBatch];
  alignas(cmsghdr) uint8_t control[kMaxBatch][CMSG_SPACE(sizeof(int))];
};

thread_local Scratch scratch;

[[noreturn]] void Fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

}  // namespace

socklen_t ToSockaddr(const uint8_t* entry, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  uint16_t port = static_cast<uint16_t>((entry[kAddrPort] << 8) | entry[kAddrPort + 1]);
  if (entry[kAddrFamily] == 6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, entry + kAddrAddress, 16);
    return sizeof(sockaddr_in6);
  }
  auto* sin = reinterpret_cast<sockaddr_in*>(out);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  std::memcpy(&sin->sin_addr, entry + kAddrAddress, 4);
  return sizeof(sockaddr_in);
}

void FromSockaddr(const sockaddr_storage& in, uint8_t* entry) {
  std::memset(entry, 0, kAddrStride);
  if (in.ss_family == AF_INET6) {
    const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(in);
    entry[kAddrFamily] = 6;
    uint16_t port = ntohs(sin6.sin6_port);
    entry[kAddrPort] = port >> 8;
    entry[kAddrPort + 1] = port & 0xff;
    std::memcpy(entry + kAddrAddress, &sin6.sin6_addr, 16);
  } else {
    const auto& sin = reinterpret_cast<const sockaddr_in&>(in);
    entry[kAddrFamily] = 4;
    uint16_t port = ntohs(sin.sin_port);
    entry[kAddrPort] = port >> 8;
    entry[kAddrPort + 1] = port & 0xff;
    std::memcpy(entry + kAddrAddress, &sin.sin_addr, 4);
  }
}

namespace {

// poll(), again when a signal interrupts it; throws on any other error.
int PollRetry(pollfd* p, nfds_t count, int timeoutMs) {
  for (;;) {
    int n = poll(p, count, timeoutMs);
    if (n >= 0) return n;
    if (errno != EINTR) Fail("poll");
  }
}

int64_t MonotonicMicros() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// When this thread last found a descriptor readable (CLOCK_MONOTONIC µs). The low-latency window runs from
// there, not from each call: a thread whose traffic stopped goes back to sleep however often its loop waits.
thread_local int64_t lastReadyUs = INT64_MIN / 2;

// Busy-polls `p` without sleeping until spinUs after the last packet this thread saw, yielding the core to
// any other runnable thread between polls, so a spinning data-plane thread never keeps the host's own work
// waiting; then sleeps in poll() for the rest of the time. The wake-up a sleeping thread pays per packet is
// what the spin saves. The spin never outlasts timeoutMs, so the caller's loop still sees stop() in time.
int PollSpinning(pollfd* p, nfds_t count, int timeoutMs, int spinUs) {
  if (spinUs <= 0) return PollRetry(p, count, timeoutMs);
  const int64_t start = MonotonicMicros();
  const int64_t deadline = start + static_cast<int64_t>(timeoutMs) * 1000;
  const int64_t until = std::min(lastReadyUs + spinUs, deadline);
  int64_t now = start;
  while (now < until) {
    if (PollRetry(p, count, 0) > 0) {
      lastReadyUs = MonotonicMicros();
      return 1;
    }
    sched_yield();
    now = MonotonicMicros();
  }
  const int n = PollRetry(p, count, now < deadline ? static_cast<int>((deadline - now + 999) / 1000) : 0);
  if (n > 0) lastReadyUs = MonotonicMicros();
  return n;
}

}  // namespace

int WaitReadable(int fd, int timeoutMs, int spinUs) {
  pollfd p{fd, POLLIN, 0};
  return PollSpinning(&p, 1, timeoutMs, spinUs);
}

int WaitEither(int fdA, int fdB, int timeoutMs, int spinUs) {
  pollfd p[2] = {{fdA, POLLIN, 0}, {fdB, POLLIN, 0}};
  PollSpinning(p, 2, timeoutMs, spinUs);
  return ((p[0].revents & POLLIN) ? 1 : 0) | ((p[1].revents & POLLIN) ? 2 : 0);
}

int TunReadBatch(int fd, const Slots& slots, int32_t* desc, int maxCount, int timeoutMs, bool vnet) {
  int count = 0;
  bool waited = false;
  const int limit = maxCount < slots.capacity ? maxCount : slots.capacity;
  const int pre = vnet ? kVnetHdrLen : 0;
  if (slots.headroom < pre) throw std::system_error(EINVAL, std::generic_category(), "tunReadBatch: headroom below the virtio-net header");
  while (count < limit) {
    uint8_t* at = slots.slab + static_cast<size_t>(count) * slots.stride + slots.headroom;
    ssize_t n = read(fd, at - pre, slots.stride - slots.headroom + pre);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN && count == 0 && !waited && timeoutMs > 0) {
        waited = true;
        if (WaitReadable(fd, timeoutMs) == 0) return 0;
        continue;
      }
      if (errno == EAGAIN) break;
      Fail("read(tun)");
    }
    int32_t* d = desc + static_cast<ptrdiff_t>(count) * kDescStride;
    n -= pre;
    d[kDescOffset] = static_cast<int32_t>(at - slots.slab);
    d[kDescLength] = static_cast<int32_t>(n < 0 ? 0 : n);
    d[kDescVerdict] = 0;
    d[kDescSrcPort] = 0;
    d[kDescOutOffset] = 0;
    d[kDescOutLength] = 0;
    d[kDescGsoSize] = 0;
    d[kDescFlags] = 0;
    d[kDescSocket] = 0;
    if (vnet) {
      VnetHdr hdr;
      GsoInfo info;
      std::memcpy(&hdr, at - pre, kVnetHdrLen);
      if (n < 0 || !InspectVnet(hdr, at, static_cast<int>(n), &info)) {
        d[kDescVerdict] = kVerdictBadVnet;
      } else if (info.gsoSize > 0) {
        d[kDescGsoSize] = info.gsoSize;
        d[kDescFlags] = info.gsoType | (info.hdrLen << kFlagsHeaderLengthShift);
      }
    }
    count++;
  }
  return count;
}

bool WriteVec(int fd, const iovec* iov, int n) {
  ssize_t r;
  do r = writev(fd, iov, n);
  while (r < 0 && errno == EINTR);
  return r >= 0;
}

bool TunWriteOne(int fd, uint8_t* pkt, size_t len, bool vnet) {
  const int pre = vnet ? kVnetHdrLen : 0;
  if (vnet) std::memset(pkt - pre, 0, pre);
  iovec one{pkt - pre, len + pre};
  return WriteVec(fd, &one, 1);
}

int TunWriteBatch(int fd, uint8_t* slab, size_t slabLength, int32_t* desc, int count, bool vnet, int mtu) {
  const int pre = vnet ? kVnetHdrLen : 0;
  int written = 0;
  for (int i = 0; i < count; i++) {
    int32_t* d = desc + static_cast<ptrdiff_t>(i) * kDescStride;
    if (d[kDescVerdict] < 0) continue;
    const int64_t off = d[kDescOffset], len = d[kDescLength];
    if (off < pre || len <= 0 || off + len > static_cast<int64_t>(slabLength)) {
      d[kDescVerdict] = kVerdictWriteFailed;
      continue;
    }
    // A super-packet that crossed whole cannot go to a TUN without a virtio-net header as it is:
    // cut it here (only where a verified outer checksum covers it; see tunWriteCoalesced).
    const int cut = !vnet && mtu > 0 && !(d[kDescFlags] & kRxVerify) ? TunWriteCut(fd, slab + off, static_cast<int>(len), mtu) : 0;
    if (cut < 0 || (cut == 0 && !TunWriteOne(fd, slab + off, static_cast<size_t>(len), vnet))) {
      d[kDescVerdict] = kVerdictWriteFailed;
      continue;
    }
    written++;
  }
  return written;
}

bool UdpEnableGro(int fd) {
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
  int one = 1;
  return setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
}

bool UdpProbeGso(int fd) {
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
  // Setting a socket-wide segment size of 0 is accepted exactly when the kernel knows UDP_SEGMENT.
  int zero = 0;
  return setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof zero) == 0;
}

int UdpLocalPort(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) Fail("getsockname");
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

void DatagramPair(int fds[2]) {
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) Fail("socketpair");
}

int UdpOpen(int family, const char* address, int port, int bufferBytes) {
  const int af = family == 6 ? AF_INET6 : AF_INET;
  int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) Fail("socket");
  auto fail = [fd](const char* what) {
    int err = errno;
    close(fd);
    errno = err;
    Fail(what);
  };
  if (bufferBytes > 0) {
    // FORCE needs CAP_NET_ADMIN; without it the plain option is capped by rmem_max/wmem_max.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufferBytes, sizeof bufferBytes) < 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufferBytes, sizeof bufferBytes);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufferBytes, sizeof bufferBytes) < 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufferBytes, sizeof bufferBytes);
  }
  sockaddr_storage ss;
  std::memset(&ss, 0, sizeof ss);
  socklen_t len;
  // VTEPs do not fragment (RFC 7348 §4.3): DF on every outer packet, EMSGSIZE instead of fragments.
  if (af == AF_INET6) {
    int dont = IPV6_PMTUDISC_DO;
    setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &dont, sizeof dont);
  } else {
    int dont = IP_PMTUDISC_DO;
    setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &dont, sizeof dont);
  }
  if (af == AF_INET6) {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, address, &sin6->sin6_addr) != 1) {
      errno = EINVAL;
      fail("udpOpen: inet_pton(address)");
    }
    len = sizeof *sin6;
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address, &sin->sin_addr) != 1) {
      errno = EINVAL;
      fail("udpOpen: inet_pton(address)");
    }
    len = sizeof *sin;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) fail("udpOpen: bind");
  return fd;
}

int UdpSendTo(int fd, const char* address, int port, const uint8_t* data, size_t length) {
  sockaddr_storage ss;
  std::memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (std::strchr(address, ':') != nullptr) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, address, &sin6->sin6_addr) != 1)
      throw std::system_error(EINVAL, std::generic_category(), "udpSendTo: inet_pton(address)");
    len = sizeof *sin6;
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address, &sin->sin_addr) != 1) throw std::system_error(EINVAL, std::generic_category(), "udpSendTo: inet_pton(address)");
    len = sizeof *sin;
  }
  ssize_t sent = sendto(fd, data, length, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&ss), len);
  return sent < 0 ? errno : 0;
}

int UdpRecvBatch(int fd, const Slots& slots, int32_t* desc, int maxCount, int timeoutMs, uint8_t* srcAddrs, bool gro) {
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
  // With GRO one datagram can expand into up to 64 segments: receive no more
  // datagrams than the descriptors can describe after expansion.
  int limit = gro ? maxCount / kMaxGroSegments : maxCount;
  if (limit > slots.capacity) limit = slots.capacity;
  if (limit > kMaxBatch) limit = kMaxBatch;
  if (limit < 1) return 0;
  for (int i = 0; i < limit; i++) {
    scratch.iovs[i].iov_base = slots.slab + static_cast<size_t>(i) * slots.stride + slots.headroom;
    scratch.iovs[i].iov_len = static_cast<size_t>(slots.stride - slots.headroom);
    mmsghdr& m = scratch.msgs[i];
    std::memset(&m, 0, sizeof m);
    m.msg_hdr.msg_iov = &scratch.iovs[i];
    m.msg_hdr.msg_iovlen = 1;
    m.msg_hdr.msg_name = &scratch.names[i];
    m.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    if (gro) {
      m.msg_hdr.msg_control = scratch.control[i];
      m.msg_hdr.msg_controllen = sizeof scratch.control[i];
    }
  }
  int r;
  bool waited = false;
  for (;;) {
    r = recvmmsg(fd, scratch.msgs, static_cast<unsigned>(limit), MSG_DONTWAIT, nullptr);
    if (r >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN && !waited && timeoutMs > 0) {
      waited = true;
      if (WaitReadable(fd, timeoutMs) == 0) return 0;
      continue;
    }
    if (errno == EAGAIN) return 0;
    Fail("recvmmsg");
  }
  int out = 0;
  for (int i = 0; i < r; i++) {
    const msghdr& h = scratch.msgs[i].msg_hdr;
    const int len = static_cast<int>(scratch.msgs[i].msg_len);
    int segment = 0;
    if (gro) {
      for (cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(&h)); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
          int size = 0;
          std::memcpy(&size, CMSG_DATA(c), c->cmsg_len - CMSG_LEN(0) < sizeof size ? c->cmsg_len - CMSG_LEN(0) : sizeof size);
          segment = size;
        }
      }
    }
    if (segment <= 0 || segment >= len) segment = len;
    const int32_t base = static_cast<int32_t>(static_cast<size_t>(i) * slots.stride + slots.headroom);
    const int32_t verdict = (h.msg_flags & MSG_TRUNC) ? kVerdictTruncated : 0;
    for (int at = 0; at < len || (len == 0 && at == 0); at += segment) {
      if (out >= maxCount) break;
      int32_t* d = desc + static_cast<ptrdiff_t>(out) * kDescStride;
      d[kDescOffset] = base + at;
      d[kDescLength] = len - at < segment ? len - at : segment;
      d[kDescVerdict] = verdict;
      d[kDescSrcPort] = 0;
      d[kDescOutOffset] = 0;
      d[kDescOutLength] = 0;
      d[kDescGsoSize] = 0;
      d[kDescFlags] = 0;
      d[kDescSocket] = 0;
      FromSockaddr(scratch.names[i], srcAddrs + static_cast<ptrdiff_t>(out) * kAddrStride);
      out++;
      if (len == 0) break;
    }
  }
  return out;
}

}  // namespace tulle
