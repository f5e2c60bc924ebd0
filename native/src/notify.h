#pragma once
#include <string>

namespace tulle {

// Sends `message` as one datagram to the unix socket `path` (systemd's
// NOTIFY_SOCKET): a file path, or an abstract name when it starts with '@'.
// Throws std::system_error naming the syscall on failure.
void NotifySend(const std::string& path, const std::string& message);

}  // namespace tulle
