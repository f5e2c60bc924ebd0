#pragma once
#include <string>

namespace tulle {

// Names the calling thread (prctl PR_SET_NAME; at most 15 bytes, longer names are cut), so `top -H`,
// `ps -L` and profiles tell the data-plane threads apart from Node's own. Throws std::system_error.
void SetThreadName(const std::string& name);

}  // namespace tulle
