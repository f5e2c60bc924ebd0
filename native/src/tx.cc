// TX: encapsulate a decided batch and hand it to the kernel in as few calls
// as possible. A GSO super-packet from the TUN becomes one UDP_SEGMENT send
// (capped at 64 segments and 65,000 bytes per send) or, without UDP GSO, one
// datagram per segment in the same sendmmsg.
#include "tx.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "bytes.h"
#include "gso.h"
#include "io.h"
#include "layout.h"
#include "tunnel.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace tulle {

namespace {

constexpr int kMaxMsgs = 1024;
constexpr int kMaxGsoSegments = 64;
constexpr int kMaxGsoBytes = 65000;

struct Sender {
  mmsghdr msgs[kMaxMsgs];
  iovec iovs[kMaxMsgs];
  sockaddr_storage names[kMaxMsgs];
  alignas(cmsghdr) uint8_t control[kMaxMsgs][CMSG_SPACE(sizeof(uint16_t))];
  int descIndex[kMaxMsgs];
  int segments[kMaxMsgs];
  int n = 0;
};

thread_local Sender sender;

class Batch {
 public:
  Batch(int fd, int32_t* desc, const uint8_t* addrs, int32_t* status) : fd_(fd), desc_(desc), addrs_(addrs), status_(status) {}

  bool Full() const { return sender.n >= kMaxMsgs; }

  // Later datagrams leave on `fd`; one sendmmsg carries one socket's run of datagrams.
  void Use(int fd) {
    if (fd == fd_) return;
    Flush();
    fd_ = fd;
  }

  // One datagram, or (segSize > 0) several of segSize bytes sent with UDP_SEGMENT.
  void Add(uint8_t* data, size_t len, int peer, int descIndex, int segSize, int segments) {
    if (Full()) Flush();
    const int i = sender.n++;
    sender.iovs[i].iov_base = data;
    sender.iovs[i].iov_len = len;
    mmsghdr& m = sender.msgs[i];
    std::memset(&m, 0, sizeof m);
    m.msg_hdr.msg_iov = &sender.iovs[i];
    m.msg_hdr.msg_iovlen = 1;
    m.msg_hdr.msg_name = &sender.names[i];
    m.msg_hdr.msg_namelen = ToSockaddr(addrs_ + static_cast<ptrdiff_t>(peer) * kAddrStride, &sender.names[i]);
    if (segSize > 0) {
      m.msg_hdr.msg_control = sender.control[i];
      m.msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
      cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const uint16_t size = static_cast<uint16_t>(segSize);
      std::memcpy(CMSG_DATA(c), &size, sizeof size);
    }
    sender.descIndex[i] = descIndex;
    sender.segments[i] = segments;
  }

  void Flush() {
    int done = 0;
    int stalls = 0;
    while (done < sender.n) {
      int r = sendmmsg(fd_, sender.msgs + done, static_cast<unsigned>(sender.n - done), 0);
      if (r > 0) {
        for (int k = done; k < done + r; k++) status_[kTxStatusSent] += sender.segments[k];
        done += r;
        continue;
      }
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == ENOBUFS) && stalls++ < 20) {
        pollfd p{fd_, POLLOUT, 0};
        poll(&p, 1, 5);
        continue;
      }
      const bool gso = sender.msgs[done].msg_hdr.msg_controllen != 0;
      if (gso && (errno == EIO || errno == EINVAL)) status_[kTxStatusGsoRefused]++;
      desc_[static_cast<ptrdiff_t>(sender.descIndex[done]) * kDescStride + kDescVerdict] = kVerdictSendFailed;
      done++;
    }
    sender.n = 0;
  }

 private:
  int fd_;
  int32_t* desc_;
  const uint8_t* addrs_;
  int32_t* status_;
};

}  // namespace

int TxBatch(const int32_t* fds, int fdCount, uint8_t* slab, size_t slabLength, int32_t* desc, int count, const TemplateTable& table,
            const uint8_t* addrs, int addrCount, uint8_t* arena, size_t arenaLength, int options, int32_t* status, int tunnelFd,
            const uint8_t* tunnelParams) {
  for (int w = 0; w < kTxStatusWords; w++) status[w] = 0;
  Batch batch(fds[0], desc, addrs, status);
  size_t used = 0;
  for (int i = 0; i < count; i++) {
    int32_t* d = desc + static_cast<ptrdiff_t>(i) * kDescStride;
    const int32_t peer = d[kDescVerdict];
    d[kDescOutOffset] = 0;
    d[kDescOutLength] = 0;
    if (peer < 0) continue;
    const int32_t socket = d[kDescSocket];
    const int32_t srcPort = d[kDescSrcPort];
    if (peer >= addrCount || peer >= table.capacity || socket < 0 || socket >= fdCount) {
      d[kDescVerdict] = kVerdictEncapFailed;
      continue;
    }
    batch.Use(fds[socket]);
    const int64_t off = d[kDescOffset];
    const int len = d[kDescLength];
    if (d[kDescGsoSize] == 0) {
      const int64_t start = ApplyTemplate(slab, slabLength, off, len, table, peer, srcPort);
      if (start < 0) {
        d[kDescVerdict] = kVerdictEncapFailed;
        continue;
      }
      d[kDescOutLength] = static_cast<int32_t>(off - start + len);
      batch.Add(slab + start, static_cast<size_t>(off - start + len), peer, i, 0, 1);
      continue;
    }
    // A super-packet: split into the arena, encapsulating each segment.
    VnetHdr vnet;
    GsoInfo info;
    if (!(options & kTxVnet) || off < kVnetHdrLen) {
      d[kDescVerdict] = kVerdictBadVnet;
      continue;
    }
    std::memcpy(&vnet, slab + off - kVnetHdrLen, kVnetHdrLen);
    if (!InspectVnet(vnet, slab + off, len, &info) || info.gsoSize == 0) {
      d[kDescVerdict] = kVerdictBadVnet;
      continue;
    }
    // Whether it may leave whole is the engine's decision (the flag); whether it can is checked here.
    if ((d[kDescFlags] & kFlagSendWhole) && (options & kTxWhole) && tunnelParams != nullptr && Whole(off, len, info, table, peer, addrs)) {
      // Without a port of its own, the flow's pool socket's port: its small packets and its super-packets
      // then travel as one flow on the underlay (one receive queue, no reordering between the two).
      const int port = srcPort != 0 ? srcPort : Get16(tunnelParams + (fdCount > 1 ? 12 + 2 * socket : 10));
      batch.Flush();  // what is queued for the sockets leaves first: the flow's order holds
      const int frame = SendWhole(tunnelFd, tunnelParams, slab, slabLength, off, len, info, vnet, table, peer, addrs, port);
      if (frame > 0) {
        d[kDescOutLength] = frame;
        status[kTxStatusSent] += SegmentCount(len, info);
        status[kTxStatusWholeSent]++;
        continue;
      }
      if (frame < 0) status[kTxStatusWholeRefused]++;
    }
    const int headerLength = table.meta[static_cast<ptrdiff_t>(peer) * kMetaStride + kMetaHeaderLength];
    // An unset slot holds -1: refuse it before any segment is written in front of its headroom.
    if (headerLength < 0 || headerLength > kTemplateStride) {
      d[kDescVerdict] = kVerdictEncapFailed;
      continue;
    }
    const int segments = SegmentCount(len, info);
    const size_t need = static_cast<size_t>(segments) * (headerLength + info.hdrLen + info.gsoSize);
    if (need > arenaLength) {
      d[kDescVerdict] = kVerdictEncapFailed;
      continue;
    }
    if (used + need > arenaLength) {
      batch.Flush();  // the arena's packets are on their way: reuse it
      used = 0;
    }
    const int datagram = headerLength + info.hdrLen + info.gsoSize;  // every segment but the last
    uint8_t* runStart = arena + used;
    int runSegments = 0;
    size_t runBytes = 0;
    bool failed = false;
    for (int s = 0; s < segments; s++) {
      uint8_t* at = arena + used;
      const int segLen = WriteSegment(slab + off, len, info, s, at + headerLength);
      const int64_t start = ApplyTemplate(arena, arenaLength, at + headerLength - arena, segLen, table, peer, srcPort);
      if (start != at - arena) {
        failed = true;
        break;
      }
      const size_t bytes = static_cast<size_t>(headerLength + segLen);
      used += bytes;
      d[kDescOutLength] += static_cast<int32_t>(bytes);
      if (!(options & kTxUdpGso)) {
        batch.Add(at, bytes, peer, i, 0, 1);
        continue;
      }
      runSegments++;
      runBytes += bytes;
      const bool runFull = runSegments == kMaxGsoSegments || runBytes + datagram > kMaxGsoBytes || s == segments - 1;
      if (runFull) {
        batch.Add(runStart, runBytes, peer, i, runSegments > 1 ? datagram : 0, runSegments);
        runStart = arena + used;
        runSegments = 0;
        runBytes = 0;
      }
    }
    if (failed) d[kDescVerdict] = kVerdictEncapFailed;
  }
  batch.Flush();
  return status[kTxStatusSent];
}

}  // namespace tulle
