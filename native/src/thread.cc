#include "thread.h"

#include <sched.h>
#include <sys/prctl.h>

#include <cerrno>
#include <system_error>

namespace tulle {

void SetThreadName(const std::string& name) {
  // The kernel keeps 16 bytes with the terminating NUL and cuts longer names itself.
  if (prctl(PR_SET_NAME, name.c_str(), 0, 0, 0) < 0) throw std::system_error(errno, std::generic_category(), "prctl(PR_SET_NAME)");
}

void YieldCore() { sched_yield(); }

}  // namespace tulle
