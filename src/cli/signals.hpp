// The signals that end the tool: during a drain, SIGINT, SIGTERM and SIGHUP
// only ask it to stop between two batches, and SIGPIPE is an ordinary write
// error, so that no element is deleted without being printed or put back.
#pragma once

namespace bpfbatch::cli {

// Installs handlers that record SIGINT, SIGTERM and SIGHUP (without
// SA_RESTART, so that a write blocked on a stalled reader returns EINTR),
// and ignores SIGPIPE (a closed reader is then EPIPE from write(2)).
void stop_between_batches() noexcept;

// The signal that asked to stop, or 0.
int stop_signal() noexcept;

// Ends the process as the signal would have: the default action, so that a
// shell sees "killed by SIGINT" and stops its loop.
[[noreturn]] void end_by_signal(int signal) noexcept;

}  // namespace bpfbatch::cli
