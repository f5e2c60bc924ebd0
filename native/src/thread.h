#pragma once
#include <string>

namespace tulle {

// Names the calling thread (prctl PR_SET_NAME; at most 15 bytes, longer names are cut), so `top -H`,
// `ps -L` and profiles tell the data-plane threads apart from Node's own. Throws std::system_error.
void SetThreadName(const std::string& name);

// Offers the calling thread's core to any other runnable thread (sched_yield): a data-plane thread with a
// backlog lets the applications on its cores run (src/engine/backlog-yield.ts). Never fails on Linux.
void YieldCore();

}  // namespace tulle
