// The signals that end the tool: during a drain, SIGINT, SIGTERM and SIGHUP
// only ask it to stop between two batches, and SIGPIPE is an ordinary write
// error, so that no element is deleted without being printed or put back.
#pragma once

#include <signal.h>

namespace bpfbatch::cli {

// From here on, SIGINT, SIGTERM and SIGHUP (those not ignored when the tool
// started: nohup and background jobs keep theirs) are caught and recorded,
// and blocked except where the tool waits: in wait_mask() (ppoll while
// writing) and in notice_signals() between batches. So a signal can never
// slip in between a check and a write that then blocks for good. SIGPIPE is
// ignored: a closed reader is EPIPE from write(2).
void stop_between_batches() noexcept;

// The signal that asked to stop, or 0.
int stop_signal() noexcept;

// Lets a signal that arrived while blocked be delivered now, then blocks
// again: the drain calls it before each batch it deletes.
void notice_signals() noexcept;

// The mask to wait with (ppoll): the stop signals unblocked. Null when they
// were never blocked.
const sigset_t* wait_mask() noexcept;

// Ends the process as the signal would have: the default action, so that a
// shell sees "killed by SIGINT" and stops its loop.
[[noreturn]] void end_by_signal(int signal) noexcept;

// "SIGINT", "SIGTERM", "SIGHUP", or "a signal": for messages.
const char* signal_name(int signal);

}  // namespace bpfbatch::cli
