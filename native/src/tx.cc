// TX: encapsulate a decided batch and hand it to the kernel in as few calls
// as possible. A GSO super-packet from the TUN becomes one UDP_SEGMENT send
// (capped at 64 segments and 65,000 bytes per send) or, without UDP GSO, one
// datagram per segment in the same sendmmsg. With UDP GSO, consecutive single
// datagrams to one peer from one socket and of one length also leave as one
// UDP_SEGMENT send (the same caps), each from its own place in the slab: the
// kernel's UDP send path then runs once per run instead of once per datagram.
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
constexpr int kMaxIovs = 4096;  // a message has 1..kMaxGsoSegments iovecs: coalesced datagrams stay in place
constexpr int kMaxGsoSegments = 64;
constexpr int kMaxGsoBytes = 65000;

struct Sender {
  mmsghdr msgs[kMaxMsgs];
  iovec iovs[kMaxIovs];
  sockaddr_storage names[kMaxMsgs];
  alignas(cmsghdr) uint8_t control[kMaxMsgs][CMSG_SPACE(sizeof(uint16_t))];
  // The descriptors a message carries: one super-packet (first == last), or a run of single
  // datagrams (every descriptor in between with a verdict >= 0 is one of them).
  int firstDesc[kMaxMsgs];
  int lastDesc[kMaxMsgs];
  int segments[kMaxMsgs];
  bool coalesced[kMaxMsgs];  // a run of single datagrams, not a super-packet's segments
  int n = 0;
  int iovUsed = 0;
};

thread_local Sender sender;

// The single datagram the last message began with, while later ones may still join it.
struct Run {
  bool open = false;
  int peer = 0;
  int srcPort = 0;
  size_t segSize = 0;
  size_t bytes = 0;
};

class Batch {
 public:
  Batch(int fd, int32_t* desc, const uint8_t* addrs, int32_t* status) : fd_(fd), desc_(desc), addrs_(addrs), status_(status) {}

  // Later datagrams leave on `fd`; one sendmmsg carries one socket's run of datagrams.
  void Use(int fd) {
    if (fd == fd_) return;
    Flush();
    fd_ = fd;
  }

  // One datagram, or (segSize > 0) several of segSize bytes sent with UDP_SEGMENT.
  void Add(uint8_t* data, size_t len, int peer, int descIndex, int segSize, int segments) {
    const int i = Open(peer, descIndex);
    sender.iovs[sender.iovUsed++] = iovec{data, len};
    if (segSize > 0) SetSegment(i, segSize);
    sender.segments[i] = segments;
  }

  // A single datagram: with `coalesce`, it joins the previous message when that is a run of single
  // datagrams to the same peer with the same source port and length (the last may be shorter).
  void AddSingle(uint8_t* data, size_t len, int peer, int srcPort, int descIndex, bool coalesce) {
    Run& r = run_;
    if (coalesce && r.open && sender.iovUsed < kMaxIovs && r.peer == peer && r.srcPort == srcPort && len <= r.segSize) {
      const int i = sender.n - 1;
      sender.iovs[sender.iovUsed++] = iovec{data, len};
      sender.msgs[i].msg_hdr.msg_iovlen++;
      if (sender.segments[i]++ == 1) {
        SetSegment(i, static_cast<int>(r.segSize));
        sender.coalesced[i] = true;
      }
      sender.lastDesc[i] = descIndex;
      r.bytes += len;
      // Only the last segment of a UDP_SEGMENT send may be shorter.
      r.open = len == r.segSize && sender.segments[i] < kMaxGsoSegments && r.bytes + r.segSize <= static_cast<size_t>(kMaxGsoBytes);
      return;
    }
    Add(data, len, peer, descIndex, 0, 1);
    r = Run{coalesce, peer, srcPort, len, len};
  }

  void Flush() {
    int done = 0;
    int stalls = 0;
    while (done < sender.n) {
      int r = sendmmsg(fd_, sender.msgs + done, static_cast<unsigned>(sender.n - done), 0);
      if (r > 0) {
        for (int k = done; k < done + r; k++) {
          status_[kTxStatusSent] += sender.segments[k];
          if (sender.coalesced[k]) status_[kTxStatusCoalesced] += sender.segments[k];
        }
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
      // Every datagram of the message failed with it; the descriptors in between that are not
      // among them were dropped before (negative verdicts), so they stay as they are.
      for (int k = sender.firstDesc[done]; k <= sender.lastDesc[done]; k++) {
        int32_t* verdict = desc_ + static_cast<ptrdiff_t>(k) * kDescStride + kDescVerdict;
        if (*verdict >= 0) *verdict = kVerdictSendFailed;
      }
      done++;
    }
    sender.n = 0;
    sender.iovUsed = 0;
    run_.open = false;
  }

 private:
  // Starts message i with one iovec to come (the caller adds it), flushing first when full.
  int Open(int peer, int descIndex) {
    if (sender.n >= kMaxMsgs || sender.iovUsed >= kMaxIovs) Flush();
    run_.open = false;
    const int i = sender.n++;
    mmsghdr& m = sender.msgs[i];
    std::memset(&m, 0, sizeof m);
    m.msg_hdr.msg_iov = &sender.iovs[sender.iovUsed];
    m.msg_hdr.msg_iovlen = 1;
    m.msg_hdr.msg_name = &sender.names[i];
    m.msg_hdr.msg_namelen = ToSockaddr(addrs_ + static_cast<ptrdiff_t>(peer) * kAddrStride, &sender.names[i]);
    sender.firstDesc[i] = descIndex;
    sender.lastDesc[i] = descIndex;
    sender.coalesced[i] = false;
    return i;
  }

  static void SetSegment(int i, int segSize) {
    msghdr& h = sender.msgs[i].msg_hdr;
    h.msg_control = sender.control[i];
    h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const uint16_t size = static_cast<uint16_t>(segSize);
    std::memcpy(CMSG_DATA(c), &size, sizeof size);
  }

  int fd_;
  int32_t* desc_;
  const uint8_t* addrs_;
  int32_t* status_;
  Run run_;
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
      batch.AddSingle(slab + start, static_cast<size_t>(off - start + len), peer, srcPort, i, (options & kTxUdpGso) != 0);
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
