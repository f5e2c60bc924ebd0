// The addon's whole surface: flat functions over caller-owned memory. It does
// byte work and syscalls only; every decision is made in TypeScript.
// Declared for TypeScript in src/native/addon.d.ts.
#include <napi.h>

#include <system_error>

#include "checksum.h"
#include "encap.h"
#include "ethtool.h"
#include "gro.h"
#include "gso.h"
#include "io.h"
#include "layout.h"
#include "notify.h"
#include "thread.h"
#include "tun.h"
#include "tunnel.h"
#include "tx.h"

namespace {

using tulle::kDescStride;
using tulle::kMetaStride;
using tulle::kTemplateStride;

[[noreturn]] void ThrowRange(Napi::Env env, const std::string& message) { throw Napi::RangeError::New(env, message); }

uint32_t ArgUint(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v <= 4294967295.0) || v != static_cast<double>(static_cast<uint64_t>(v))) {
    ThrowRange(info.Env(), std::string(name) + " must be a non-negative integer, got " + std::to_string(v));
  }
  return static_cast<uint32_t>(v);
}

template <typename T>
T ArgArray(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " has the wrong type");
  }
  return info[i].As<T>();
}

// checksum(bytes, offset, length, seed = 0): the complemented 16-bit checksum.
Napi::Value Checksum(const Napi::CallbackInfo& info) {
  auto bytes = ArgArray<Napi::Uint8Array>(info, 0, "bytes", napi_uint8_array);
  uint32_t offset = ArgUint(info, 1, "offset");
  uint32_t length = ArgUint(info, 2, "length");
  uint32_t seed = info.Length() > 3 ? ArgUint(info, 3, "seed") : 0;
  if (static_cast<uint64_t>(offset) + length > bytes.ByteLength()) {
    ThrowRange(info.Env(), "checksum: range " + std::to_string(offset) + "+" + std::to_string(length) + " exceeds the buffer (" +
                               std::to_string(bytes.ByteLength()) + " bytes)");
  }
  return Napi::Number::New(info.Env(), tulle::Checksum(bytes.Data() + offset, length, tulle::Fold(seed)));
}

void CheckDesc(const Napi::CallbackInfo& info, Napi::Int32Array desc, uint32_t count, const char* fn) {
  if (static_cast<uint64_t>(count) * kDescStride > desc.ElementLength()) {
    ThrowRange(info.Env(), std::string(fn) + ": count " + std::to_string(count) + " needs " +
                               std::to_string(static_cast<uint64_t>(count) * kDescStride) + " descriptor words, desc has " +
                               std::to_string(desc.ElementLength()));
  }
}

// The template table as two caller-owned arrays; its capacity is what both can hold.
tulle::TemplateTable ArgTemplates(const Napi::CallbackInfo& info, size_t bytesArg) {
  auto bytes = ArgArray<Napi::Uint8Array>(info, bytesArg, "templateBytes", napi_uint8_array);
  auto meta = ArgArray<Napi::Int32Array>(info, bytesArg + 1, "templateMeta", napi_int32_array);
  size_t capacity = std::min(bytes.ByteLength() / kTemplateStride, meta.ElementLength() / kMetaStride);
  return tulle::TemplateTable{bytes.Data(), meta.Data(), static_cast<int>(capacity)};
}

// encapBatch(slab, desc, count, templateBytes, templateMeta): packets encapsulated.
Napi::Value EncapBatch(const Napi::CallbackInfo& info) {
  auto slab = ArgArray<Napi::Uint8Array>(info, 0, "slab", napi_uint8_array);
  auto desc = ArgArray<Napi::Int32Array>(info, 1, "desc", napi_int32_array);
  uint32_t count = ArgUint(info, 2, "count");
  tulle::TemplateTable table = ArgTemplates(info, 3);
  CheckDesc(info, desc, count, "encapBatch");
  int done = tulle::EncapBatch(slab.Data(), slab.ByteLength(), desc.Data(), static_cast<int>(count), table);
  return Napi::Number::New(info.Env(), done);
}

// Runs a syscall-level function; a std::system_error becomes a JS Error
// whose message names the syscall, with `errno` set.
template <typename F>
auto Syscall(Napi::Env env, F fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::system_error& e) {
    Napi::Error error = Napi::Error::New(env, e.what());
    error.Set("errno", Napi::Number::New(env, e.code().value()));
    throw error;
  }
}

// tunOpen(name, flags): { fd, name }.
Napi::Value TunOpen(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "tunOpen: name must be a string");
  uint32_t flags = info.Length() > 1 ? ArgUint(info, 1, "flags") : 0;
  tulle::TunHandle handle = Syscall(info.Env(), [&] { return tulle::TunOpen(info[0].As<Napi::String>().Utf8Value(), static_cast<int>(flags)); });
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("fd", handle.fd);
  result.Set("name", handle.name);
  return result;
}

tulle::Slots ArgSlots(const Napi::CallbackInfo& info, Napi::Uint8Array slab, size_t headroomArg) {
  uint32_t headroom = ArgUint(info, headroomArg, "headroom");
  uint32_t stride = ArgUint(info, headroomArg + 1, "stride");
  if (stride == 0 || headroom >= stride) ThrowRange(info.Env(), "headroom must be below stride, and stride above 0");
  return tulle::Slots{slab.Data(), slab.ByteLength(), static_cast<int>(headroom), static_cast<int>(stride),
                      static_cast<int>(slab.ByteLength() / stride)};
}

// tunReadBatch(fd, slab, desc, maxCount, headroom, stride, timeoutMs, vnet): packets read.
Napi::Value TunReadBatch(const Napi::CallbackInfo& info) {
  uint32_t fd = ArgUint(info, 0, "fd");
  auto slab = ArgArray<Napi::Uint8Array>(info, 1, "slab", napi_uint8_array);
  auto desc = ArgArray<Napi::Int32Array>(info, 2, "desc", napi_int32_array);
  uint32_t maxCount = ArgUint(info, 3, "maxCount");
  tulle::Slots slots = ArgSlots(info, slab, 4);
  uint32_t timeoutMs = ArgUint(info, 6, "timeoutMs");
  const bool vnet = info.Length() > 7 && info[7].ToBoolean().Value();
  CheckDesc(info, desc, maxCount, "tunReadBatch");
  return Napi::Number::New(info.Env(), Syscall(info.Env(), [&] {
                             return tulle::TunReadBatch(static_cast<int>(fd), slots, desc.Data(), static_cast<int>(maxCount),
                                                        static_cast<int>(timeoutMs), vnet);
                           }));
}

// An optional last argument: microseconds to busy-poll before sleeping (0 when absent).
uint32_t ArgSpin(const Napi::CallbackInfo& info, size_t i) { return info.Length() > i && !info[i].IsUndefined() ? ArgUint(info, i, "spinUs") : 0; }

// waitReadable(fd, timeoutMs, spinUs?): whether fd became readable within the time (poll).
Napi::Value WaitReadable(const Napi::CallbackInfo& info) {
  uint32_t fd = ArgUint(info, 0, "fd");
  uint32_t timeoutMs = ArgUint(info, 1, "timeoutMs");
  uint32_t spinUs = ArgSpin(info, 2);
  return Napi::Boolean::New(info.Env(), Syscall(info.Env(), [&] {
                                          return tulle::WaitReadable(static_cast<int>(fd), static_cast<int>(timeoutMs), static_cast<int>(spinUs));
                                        }) == 1);
}

// waitEither(fdA, fdB, timeoutMs, spinUs?): bit 0 when fdA became readable, bit 1 for fdB (poll).
Napi::Value WaitEither(const Napi::CallbackInfo& info) {
  uint32_t a = ArgUint(info, 0, "fdA");
  uint32_t b = ArgUint(info, 1, "fdB");
  uint32_t timeoutMs = ArgUint(info, 2, "timeoutMs");
  uint32_t spinUs = ArgSpin(info, 3);
  return Napi::Number::New(info.Env(), Syscall(info.Env(), [&] {
                             return tulle::WaitEither(static_cast<int>(a), static_cast<int>(b), static_cast<int>(timeoutMs),
                                                      static_cast<int>(spinUs));
                           }));
}

// tunWriteBatch(fd, slab, desc, count, vnet, mtu): packets written.
Napi::Value TunWriteBatch(const Napi::CallbackInfo& info) {
  uint32_t fd = ArgUint(info, 0, "fd");
  auto slab = ArgArray<Napi::Uint8Array>(info, 1, "slab", napi_uint8_array);
  auto desc = ArgArray<Napi::Int32Array>(info, 2, "desc", napi_int32_array);
  uint32_t count = ArgUint(info, 3, "count");
  const bool vnet = info.Length() > 4 && info[4].ToBoolean().Value();
  const uint32_t mtu = info.Length() > 5 && !info[5].IsUndefined() ? ArgUint(info, 5, "mtu") : 0;
  CheckDesc(info, desc, count, "tunWriteBatch");
  return Napi::Number::New(info.Env(), tulle::TunWriteBatch(static_cast<int>(fd), slab.Data(), slab.ByteLength(), desc.Data(),
                                                            static_cast<int>(count), vnet, static_cast<int>(mtu)));
}

// tunSetOffload(fd, flags): the TUN_F_* bits the kernel accepted.
Napi::Value TunSetOffload(const Napi::CallbackInfo& info) {
  uint32_t fd = ArgUint(info, 0, "fd");
  uint32_t flags = ArgUint(info, 1, "flags");
  return Napi::Number::New(info.Env(), Syscall(info.Env(), [&] { return tulle::TunSetOffload(static_cast<int>(fd), static_cast<int>(flags)); }));
}

// udpEnableGro(fd) / udpProbeGso(fd): whether the kernel takes UDP_GRO / UDP_SEGMENT.
Napi::Value UdpEnableGro(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tulle::UdpEnableGro(static_cast<int>(ArgUint(info, 0, "fd"))));
}
Napi::Value UdpProbeGso(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tulle::UdpProbeGso(static_cast<int>(ArgUint(info, 0, "fd"))));
}

// txBatch(fds, slab, desc, count, templateBytes, templateMeta, addrs, arena, options, status, tunnelFd, tunnelParams): datagrams sent.
Napi::Value TxBatch(const Napi::CallbackInfo& info) {
  // One socket (a number), or a pool (an Int32Array) that each descriptor's SOCKET indexes.
  int32_t one = 0;
  const int32_t* fds = &one;
  int fdCount = 1;
  Napi::Int32Array pool;
  if (info.Length() > 0 && info[0].IsTypedArray()) {
    pool = ArgArray<Napi::Int32Array>(info, 0, "fds", napi_int32_array);
    if (pool.ElementLength() == 0 || pool.ElementLength() > static_cast<size_t>(tulle::kMaxSockets)) {
      ThrowRange(info.Env(),
                 "txBatch: fds must hold 1 to " + std::to_string(tulle::kMaxSockets) + " sockets, got " + std::to_string(pool.ElementLength()));
    }
    fds = pool.Data();
    fdCount = static_cast<int>(pool.ElementLength());
  } else {
    one = static_cast<int32_t>(ArgUint(info, 0, "fd"));
  }
  auto slab = ArgArray<Napi::Uint8Array>(info, 1, "slab", napi_uint8_array);
  auto desc = ArgArray<Napi::Int32Array>(info, 2, "desc", napi_int32_array);
  uint32_t count = ArgUint(info, 3, "count");
  tulle::TemplateTable table = ArgTemplates(info, 4);
  auto addrs = ArgArray<Napi::Uint8Array>(info, 6, "addrs", napi_uint8_array);
  auto arena = ArgArray<Napi::Uint8Array>(info, 7, "arena", napi_uint8_array);
  uint32_t options = ArgUint(info, 8, "options");
  auto status = ArgArray<Napi::Int32Array>(info, 9, "status", napi_int32_array);
  CheckDesc(info, desc, count, "txBatch");
  if (status.ElementLength() < static_cast<size_t>(tulle::kTxStatusWords)) {
    ThrowRange(info.Env(),
               "txBatch: status needs " + std::to_string(tulle::kTxStatusWords) + " words, got " + std::to_string(status.ElementLength()));
  }
  int tunnelFd = -1;
  const uint8_t* tunnelParams = nullptr;
  if (options & tulle::kTxWhole) {
    tunnelFd = static_cast<int>(ArgUint(info, 10, "tunnelFd"));
    auto params = ArgArray<Napi::Uint8Array>(info, 11, "tunnelParams", napi_uint8_array);
    if (params.ByteLength() < static_cast<size_t>(tulle::kTunnelParamsBytes)) ThrowRange(info.Env(), "txBatch: tunnelParams too small");
    tunnelParams = params.Data();
  }
  return Napi::Number::New(info.Env(), tulle::TxBatch(fds, fdCount, slab.Data(), slab.ByteLength(), desc.Data(), static_cast<int>(count), table,
                                                      addrs.Data(), static_cast<int>(addrs.ByteLength() / tulle::kAddrStride), arena.Data(),
                                                      arena.ByteLength(), static_cast<int>(options), status.Data(), tunnelFd, tunnelParams));
}

// udpOpen(family, address, port, bufferBytes): fd.
Napi::Value UdpOpen(const Napi::CallbackInfo& info) {
  uint32_t family = ArgUint(info, 0, "family");
  if (family != 4 && family != 6) ThrowRange(info.Env(), "udpOpen: family must be 4 or 6");
  if (!info[1].IsString()) throw Napi::TypeError::New(info.Env(), "udpOpen: address must be a string");
  std::string address = info[1].As<Napi::String>().Utf8Value();
  uint32_t port = ArgUint(info, 2, "port");
  if (port > 65535) ThrowRange(info.Env(), "udpOpen: port must be 0..65535");
  uint32_t buffer = ArgUint(info, 3, "bufferBytes");
  return Napi::Number::New(info.Env(), Syscall(info.Env(), [&] {
                             return tulle::UdpOpen(static_cast<int>(family), address.c_str(), static_cast<int>(port), static_cast<int>(buffer));
                           }));
}

// udpLocalPort(fd): the port the socket is bound to.
Napi::Value UdpLocalPortFn(const Napi::CallbackInfo& info) {
  uint32_t fd = ArgUint(info, 0, "fd");
  return Napi::Number::New(info.Env(), Syscall(info.Env(), [&] { return tulle::UdpLocalPort(static_cast<int>(fd)); }));
}

// datagramPair(): [fdA, fdB], a connected pair of non-blocking AF_UNIX datagram sockets.
Napi::Value DatagramPairFn(const Napi::CallbackInfo& info) {
  int fds[2];
  Syscall(info.Env(), [&] { tulle::DatagramPair(fds); });
  Napi::Array pair = Napi::Array::New(info.Env(), 2);
  pair.Set(0u, fds[0]);
  pair.Set(1u, fds[1]);
  return pair;
}

// udpSendTo(fd, address, port, bytes, length): 0, or the errno of a refused send (EMSGSIZE: over the path MTU).
Napi::Value UdpSendToFn(const Napi::CallbackInfo& info) {
  uint32_t fd = ArgUint(info, 0, "fd");
  if (!info[1].IsString()) throw Napi::TypeError::New(info.Env(), "udpSendTo: address must be a string");
  std::string address = info[1].As<Napi::String>().Utf8Value();
  uint32_t port = ArgUint(info, 2, "port");
  if (port == 0 || port > 65535) ThrowRange(info.Env(), "udpSendTo: port must be 1..65535");
  auto bytes = ArgArray<Napi::Uint8Array>(info, 3, "bytes", napi_uint8_array);
  uint32_t length = ArgUint(info, 4, "length");
  if (length > bytes.ByteLength())
    ThrowRange(info.Env(), "udpSendTo: length " + std::to_string(length) + " exceeds the buffer (" + std::to_string(bytes.ByteLength()) + " bytes)");
  return Napi::Number::New(info.Env(), Syscall(info.Env(), [&] {
                             return tulle::UdpSendTo(static_cast<int>(fd), address.c_str(), static_cast<int>(port), bytes.Data(), length);
                           }));
}

// udpRecvBatch(fd, slab, desc, maxCount, headroom, stride, timeoutMs, srcAddrs, gro): descriptors written.
Napi::Value UdpRecvBatch(const Napi::CallbackInfo& info) {
  uint32_t fd = ArgUint(info, 0, "fd");
  auto slab = ArgArray<Napi::Uint8Array>(info, 1, "slab", napi_uint8_array);
  auto desc = ArgArray<Napi::Int32Array>(info, 2, "desc", napi_int32_array);
  uint32_t maxCount = ArgUint(info, 3, "maxCount");
  tulle::Slots slots = ArgSlots(info, slab, 4);
  uint32_t timeoutMs = ArgUint(info, 6, "timeoutMs");
  auto srcAddrs = ArgArray<Napi::Uint8Array>(info, 7, "srcAddrs", napi_uint8_array);
  const bool gro = info.Length() > 8 && info[8].ToBoolean().Value();
  CheckDesc(info, desc, maxCount, "udpRecvBatch");
  if (static_cast<uint64_t>(maxCount) * tulle::kAddrStride > srcAddrs.ByteLength())
    ThrowRange(info.Env(), "udpRecvBatch: srcAddrs too small for maxCount");
  return Napi::Number::New(info.Env(), Syscall(info.Env(), [&] {
                             return tulle::UdpRecvBatch(static_cast<int>(fd), slots, desc.Data(), static_cast<int>(maxCount),
                                                        static_cast<int>(timeoutMs), srcAddrs.Data(), gro);
                           }));
}

// tunWriteCoalesced(fd, slab, desc, count, status, verify = true, mtu, uso = 0): packets delivered; status[COALESCE_STATUS_MERGED] =
// super-packets written, status[COALESCE_STATUS_MERGED_UDP] = those of them that are UDP.
Napi::Value TunWriteCoalesced(const Napi::CallbackInfo& info) {
  uint32_t fd = ArgUint(info, 0, "fd");
  auto slab = ArgArray<Napi::Uint8Array>(info, 1, "slab", napi_uint8_array);
  auto desc = ArgArray<Napi::Int32Array>(info, 2, "desc", napi_int32_array);
  uint32_t count = ArgUint(info, 3, "count");
  auto status = ArgArray<Napi::Int32Array>(info, 4, "status", napi_int32_array);
  CheckDesc(info, desc, count, "tunWriteCoalesced");
  if (status.ElementLength() < static_cast<size_t>(tulle::kCoalesceStatusWords)) {
    ThrowRange(info.Env(), "tunWriteCoalesced: status needs " + std::to_string(tulle::kCoalesceStatusWords) + " words, got " +
                               std::to_string(status.ElementLength()));
  }
  const bool verify = info.Length() <= 5 || info[5].ToBoolean().Value();
  const uint32_t mtu = info.Length() > 6 && !info[6].IsUndefined() ? ArgUint(info, 6, "mtu") : 0xffff;
  const uint32_t uso = info.Length() > 7 && !info[7].IsUndefined() ? ArgUint(info, 7, "uso") : 0;
  tulle::CoalesceCounts counts{};
  int written = tulle::TunWriteCoalesced(static_cast<int>(fd), slab.Data(), slab.ByteLength(), desc.Data(), static_cast<int>(count), verify,
                                         static_cast<int>(mtu), static_cast<int>(uso), &counts);
  status[tulle::kCoalesceStatusMerged] = counts.merged;
  status[tulle::kCoalesceStatusMergedUdp] = counts.mergedUdp;
  return Napi::Number::New(info.Env(), written);
}

// ethtoolGet(ifname, feature) / ethtoolSet(ifname, feature, on): an offload
// feature of a device in the calling thread's network namespace.
tulle::EthtoolFeature ArgFeature(const Napi::CallbackInfo& info, const char* fn) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": ifname must be a string");
  if (!info[1].IsString()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": feature must be a string");
  std::string name = info[1].As<Napi::String>().Utf8Value();
  tulle::EthtoolFeature feature;
  if (!tulle::ParseEthtoolFeature(name, &feature)) {
    ThrowRange(info.Env(), std::string(fn) + ": feature \"" + name + "\" is not one of gro, tx-checksum, rx-checksum, tso, gso, sg");
  }
  return feature;
}
Napi::Value EthtoolGetFn(const Napi::CallbackInfo& info) {
  tulle::EthtoolFeature feature = ArgFeature(info, "ethtoolGet");
  std::string ifname = info[0].As<Napi::String>().Utf8Value();
  return Napi::Boolean::New(info.Env(), Syscall(info.Env(), [&] { return tulle::EthtoolGet(ifname, feature); }));
}
Napi::Value EthtoolSetFn(const Napi::CallbackInfo& info) {
  tulle::EthtoolFeature feature = ArgFeature(info, "ethtoolSet");
  std::string ifname = info[0].As<Napi::String>().Utf8Value();
  if (!info[2].IsBoolean()) throw Napi::TypeError::New(info.Env(), "ethtoolSet: on must be a boolean");
  bool on = info[2].As<Napi::Boolean>().Value();
  Syscall(info.Env(), [&] {
    tulle::EthtoolSet(ifname, feature, on);
    return 0;
  });
  return info.Env().Undefined();
}

// ethtoolFeatureActive(ifname, name): true/false, or undefined when the kernel has no such feature.
Napi::Value EthtoolFeatureActiveFn(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "ethtoolFeatureActive: ifname must be a string");
  if (!info[1].IsString()) throw Napi::TypeError::New(info.Env(), "ethtoolFeatureActive: name must be a string");
  std::string ifname = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  int active = Syscall(info.Env(), [&] { return tulle::EthtoolFeatureActive(ifname, name); });
  if (active < 0) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), active == 1);
}

// notifySend(path, message): one datagram to systemd's NOTIFY_SOCKET (notify.h).
Napi::Value NotifySendFn(const Napi::CallbackInfo& info) {
  if (!info[0].IsString() || !info[1].IsString()) throw Napi::TypeError::New(info.Env(), "notifySend: path and message must be strings");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string message = info[1].As<Napi::String>().Utf8Value();
  Syscall(info.Env(), [&] { tulle::NotifySend(path, message); });
  return info.Env().Undefined();
}

// yieldCore(): sched_yield for the calling thread (a data-plane thread with a backlog).
Napi::Value YieldCoreFn(const Napi::CallbackInfo& info) {
  tulle::YieldCore();
  return info.Env().Undefined();
}

// setThreadName(name): names the calling thread (the data-plane workers: tulle-duplex, tulle-tx, tulle-rx).
Napi::Value SetThreadNameFn(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "setThreadName: name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  Syscall(info.Env(), [&] { tulle::SetThreadName(name); });
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("checksum", Napi::Function::New(env, Checksum, "checksum"));
  exports.Set("encapBatch", Napi::Function::New(env, EncapBatch, "encapBatch"));
  exports.Set("tunOpen", Napi::Function::New(env, TunOpen, "tunOpen"));
  exports.Set("tunReadBatch", Napi::Function::New(env, TunReadBatch, "tunReadBatch"));
  exports.Set("waitReadable", Napi::Function::New(env, WaitReadable, "waitReadable"));
  exports.Set("waitEither", Napi::Function::New(env, WaitEither, "waitEither"));
  exports.Set("tunWriteBatch", Napi::Function::New(env, TunWriteBatch, "tunWriteBatch"));
  exports.Set("tunWriteCoalesced", Napi::Function::New(env, TunWriteCoalesced, "tunWriteCoalesced"));
  exports.Set("tunSetOffload", Napi::Function::New(env, TunSetOffload, "tunSetOffload"));
  exports.Set("udpOpen", Napi::Function::New(env, UdpOpen, "udpOpen"));
  exports.Set("udpEnableGro", Napi::Function::New(env, UdpEnableGro, "udpEnableGro"));
  exports.Set("udpProbeGso", Napi::Function::New(env, UdpProbeGso, "udpProbeGso"));
  exports.Set("txBatch", Napi::Function::New(env, TxBatch, "txBatch"));
  exports.Set("ethtoolGet", Napi::Function::New(env, EthtoolGetFn, "ethtoolGet"));
  exports.Set("ethtoolFeatureActive", Napi::Function::New(env, EthtoolFeatureActiveFn, "ethtoolFeatureActive"));
  exports.Set("ethtoolSet", Napi::Function::New(env, EthtoolSetFn, "ethtoolSet"));
  exports.Set("udpRecvBatch", Napi::Function::New(env, UdpRecvBatch, "udpRecvBatch"));
  exports.Set("udpSendTo", Napi::Function::New(env, UdpSendToFn, "udpSendTo"));
  exports.Set("udpLocalPort", Napi::Function::New(env, UdpLocalPortFn, "udpLocalPort"));
  exports.Set("datagramPair", Napi::Function::New(env, DatagramPairFn, "datagramPair"));
  exports.Set("notifySend", Napi::Function::New(env, NotifySendFn, "notifySend"));
  exports.Set("setThreadName", Napi::Function::New(env, SetThreadNameFn, "setThreadName"));
  exports.Set("yieldCore", Napi::Function::New(env, YieldCoreFn, "yieldCore"));
  Napi::Object layout = Napi::Object::New(env);
  for (const tulle::LayoutEntry& entry : tulle::kLayout) layout.Set(entry.name, entry.value);
  exports.Set("layout", layout);
  return exports;
}

}  // namespace

NODE_API_MODULE(tulle, Init)
