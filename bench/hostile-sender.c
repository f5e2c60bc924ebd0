/*
 * The attacker of `npm run hostile` (bench/hostile.ts compiles it with cc at
 * run time; it is bench code, never shipped). It sends UDP datagrams from a
 * raw socket, so the source address may be anyone's (a peer's, spoofed) and
 * the UDP length and checksum may be wrong on purpose, at a paced rate, as
 * fast as sendmmsg allows: a Node sender manages a few tens of thousands a
 * second, this one hundreds of thousands.
 *
 *   hostile-sender PLAN COUNT RATE
 *
 * PLAN (little-endian, written by bench/hostile-plan.ts): "THS1", u32 n, then
 * n templates: src[4] dst[4] (network order), u16 sport, u16 dport,
 * u8 checksum (0 right, 1 wrong, 2 none), u8 0, i16 UDP length minus the
 * true one, u16 payload length, payload. COUNT datagrams go out, the templates
 * in turn; RATE is datagrams per second (0: no pacing). Progress ("sent N")
 * goes to stderr every 250 ms; at the end one JSON line to stdout with the
 * datagrams each template sent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define MAX_PACKET 1500

struct tpl {
  uint8_t packet[MAX_PACKET];
  size_t length;
  struct sockaddr_in to;
  uint64_t sent;
};

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += (uint32_t)(p[n - 1] << 8);
  return sum;
}

static uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_exact(FILE *f, void *out, size_t n) { return fread(out, 1, n, f) == n ? 0 : -1; }

static struct tpl *load(const char *path, uint32_t *count) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return NULL;
  }
  char magic[4];
  uint32_t n;
  if (read_exact(f, magic, 4) || memcmp(magic, "THS1", 4) != 0 || read_exact(f, &n, 4) || n == 0) {
    fprintf(stderr, "%s: not a plan (THS1, at least one template)\n", path);
    return NULL;
  }
  struct tpl *t = calloc(n, sizeof *t);
  for (uint32_t i = 0; i < n; i++) {
    uint8_t src[4], dst[4], mode, pad;
    uint16_t sport, dport, plen;
    int16_t delta;
    if (read_exact(f, src, 4) || read_exact(f, dst, 4) || read_exact(f, &sport, 2) || read_exact(f, &dport, 2) || read_exact(f, &mode, 1) ||
        read_exact(f, &pad, 1) || read_exact(f, &delta, 2) || read_exact(f, &plen, 2) || plen > MAX_PACKET - 28 ||
        read_exact(f, t[i].packet + 28, plen)) {
      fprintf(stderr, "%s: template %u is cut short or longer than %d bytes\n", path, i, MAX_PACKET - 28);
      return NULL;
    }
    uint8_t *ip = t[i].packet, *udp = ip + 20;
    ip[0] = 0x45;
    ip[6] = 0x40; /* DF: never fragmented on the way */
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    int ulen = 8 + plen + delta;
    udp[0] = sport >> 8, udp[1] = sport & 0xff, udp[2] = dport >> 8, udp[3] = dport & 0xff;
    udp[4] = (uint8_t)(ulen >> 8), udp[5] = (uint8_t)ulen;
    /* The checksum covers what the UDP length says (a receiver trims the datagram to it). */
    size_t covered = (size_t)(ulen < 8 + plen ? ulen : 8 + plen);
    uint32_t pseudo = sum16(ip + 12, 8, 17 + (uint32_t)ulen);
    uint16_t csum = fold(sum16(udp, covered, pseudo));
    if (csum == 0) csum = 0xffff;
    if (mode == 1) csum ^= 0x0f0f;
    if (mode == 2) csum = 0;
    udp[6] = csum >> 8, udp[7] = csum & 0xff;
    t[i].length = 28 + plen;
    t[i].to.sin_family = AF_INET;
    memcpy(&t[i].to.sin_addr, dst, 4);
  }
  fclose(f);
  *count = n;
  return t;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: hostile-sender PLAN COUNT RATE\n");
    return 2;
  }
  uint32_t n;
  struct tpl *t = load(argv[1], &n);
  if (!t) return 2;
  const uint64_t total = strtoull(argv[2], NULL, 10);
  const double rate = strtod(argv[3], NULL);
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* IPPROTO_RAW implies IP_HDRINCL */
  if (fd < 0) {
    perror("raw socket (needs root)");
    return 2;
  }
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  uint32_t which[BATCH];
  uint64_t sent = 0, failed = 0, next = 0;
  const double start = now();
  double lastProgress = start;
  while (sent < total) {
    if (rate > 0) {
      const double due = start + (double)sent / rate;
      const double wait = due - now();
      if (wait > 0) {
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
      }
    }
    int k = 0;
    for (; k < BATCH && sent + (uint64_t)k < total; k++) {
      uint32_t i = (uint32_t)((next + (uint64_t)k) % n);
      which[k] = i;
      iovs[k].iov_base = t[i].packet;
      iovs[k].iov_len = t[i].length;
      memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
      msgs[k].msg_hdr.msg_name = &t[i].to;
      msgs[k].msg_hdr.msg_namelen = sizeof t[i].to;
      msgs[k].msg_hdr.msg_iov = &iovs[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(fd, msgs, (unsigned)k, 0);
    if (r < 0) {
      if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
        perror("sendmmsg");
        return 1;
      }
      failed++;
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
      continue;
    }
    for (int j = 0; j < r; j++) t[which[j]].sent++;
    sent += (uint64_t)r;
    next += (uint64_t)r;
    const double at = now();
    if (at - lastProgress >= 0.25) {
      fprintf(stderr, "sent %llu\n", (unsigned long long)sent);
      lastProgress = at;
    }
  }
  printf("{\"sent\":%llu,\"retries\":%llu,\"seconds\":%.3f,\"perTemplate\":[", (unsigned long long)sent, (unsigned long long)failed, now() - start);
  for (uint32_t i = 0; i < n; i++) printf("%s%llu", i ? "," : "", (unsigned long long)t[i].sent);
  printf("]}\n");
  return 0;
}
