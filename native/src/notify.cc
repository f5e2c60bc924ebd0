// sd_notify(3) without libsystemd: one datagram on a unix socket. Node's net
// module has no unix datagram sockets, so the daemon's readiness goes here.
#include "notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace tulle {

void NotifySend(const std::string& path, const std::string& message) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // A path fills sun_path with its terminating NUL; an abstract name is '\0' then the name, its length counted exactly.
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    throw std::system_error(ENAMETOOLONG, std::generic_category(),
                            "notify: socket name must be 1.." + std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  if (path[0] == '@') {
    addr.sun_path[0] = '\0';
  } else {
    length += 1;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket(AF_UNIX, SOCK_DGRAM)");
  ssize_t sent = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), length);
  int error = errno;
  close(fd);
  if (sent < 0) throw std::system_error(error, std::generic_category(), "sendto(" + path + ")");
}

}  // namespace tulle
