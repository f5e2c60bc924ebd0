#pragma once
#include <cstddef>
#include <cstdint>

#include <sys/socket.h>
#include <sys/uio.h>

#include "layout.h"

namespace tulle {

// Address table entry (layout.h) <-> socket address.
socklen_t ToSockaddr(const uint8_t* entry, sockaddr_storage* out);
void FromSockaddr(const sockaddr_storage& in, uint8_t* entry);

// The batch geometry of a read: slot i starts at i * stride, its packet at + headroom.
struct Slots {
  uint8_t* slab;
  size_t slabLength;
  int headroom;
  int stride;
  int capacity;  // slots that fit in the slab
};

// 1 readable, 0 timeout; throws on error. With spinUs > 0 it busy-polls until spinUs after the last time this
// thread found a descriptor readable (never past timeoutMs), then sleeps.
int WaitReadable(int fd, int timeoutMs, int spinUs = 0);
// Which of two fds became readable within the time: bit 0 fdA, bit 1 fdB (0: timeout); spinUs as above.
int WaitEither(int fdA, int fdB, int timeoutMs, int spinUs = 0);

// Reads up to maxCount packets from a TUN fd (non-blocking) into slots; waits
// up to timeoutMs for the first. Fills OFFSET/LENGTH; VERDICT = 0.
// With `vnet`, each read starts with a virtio-net header, kept right before the
// packet; single packets get their checksum completed, super-packets are
// described in GSO_SIZE and FLAGS (gso type | header length << 16).
int TunReadBatch(int fd, const Slots& slots, int32_t* desc, int maxCount, int timeoutMs, bool vnet);

// Writes each packet whose verdict is >= 0 (OFFSET/LENGTH) to the TUN fd.
// writev, retried on EINTR; false on any other failure.
bool WriteVec(int fd, const iovec* iov, int n);

// Writes one packet to a TUN; with `vnet` a zeroed virtio-net header (no GSO,
// checksums complete) goes into the 10 bytes before `pkt`, which must be ours.
bool TunWriteOne(int fd, uint8_t* pkt, size_t len, bool vnet);

// With `vnet`, a zeroed virtio-net header is written into the 10 bytes before each packet.
// Without it and with `mtu` > 0, a TCP packet longer than `mtu` not marked RX_VERIFY is cut
// into segments that fit (TunWriteCut in gso.h).
int TunWriteBatch(int fd, uint8_t* slab, size_t slabLength, int32_t* desc, int count, bool vnet, int mtu = 0);

// Turns UDP_GRO on for the socket; false if the kernel refuses.
bool UdpEnableGro(int fd);
// True when the kernel accepts UDP_SEGMENT on this socket.
bool UdpProbeGso(int fd);

// Opens a non-blocking UDP socket bound to address:port with the given buffer sizes.
int UdpOpen(int family, const char* address, int port, int bufferBytes);
// The port a socket of UdpOpen is bound to (getsockname).
int UdpLocalPort(int fd);
// A connected pair of non-blocking AF_UNIX datagram sockets: a stand-in for a
// TUN, since each read returns one whole message as a TUN read returns one packet.
void DatagramPair(int fds[2]);

// One datagram to address:port (IPv4 or IPv6 text). Returns 0, or the errno of a
// refused send: EMSGSIZE is how a socket with DF set learns a datagram exceeds the
// path MTU the kernel knows. Throws only for an address that does not parse.
int UdpSendTo(int fd, const char* address, int port, const uint8_t* data, size_t length);

// Receives datagrams with recvmmsg into slots and describes them in at most
// maxCount descriptors; with `gro` a coalesced datagram is described as one
// descriptor per segment. Source addresses go to srcAddrs[descriptor].
int UdpRecvBatch(int fd, const Slots& slots, int32_t* desc, int maxCount, int timeoutMs, uint8_t* srcAddrs, bool gro);

}  // namespace tulle
