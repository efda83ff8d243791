#include "signals.hpp"

#include <unistd.h>

#include <csignal>
#include <initializer_list>

namespace bpfbatch::cli {

namespace {

volatile std::sig_atomic_t requested = 0;
bool blocking = false;
sigset_t caught;     // the stop signals this process catches
sigset_t unblocked;  // the mask it started with: what waits use

void record(int signal) { requested = signal; }

}  // namespace

void stop_between_batches() noexcept {
  sigemptyset(&caught);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction current {};
    if (::sigaction(signal, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) continue;
    struct sigaction action {};
    action.sa_handler = record;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    ::sigaction(signal, &action, nullptr);
    sigaddset(&caught, signal);
  }
  ::signal(SIGPIPE, SIG_IGN);
  ::sigprocmask(SIG_BLOCK, &caught, &unblocked);
  for (int signal : {SIGINT, SIGTERM, SIGHUP})
    if (sigismember(&caught, signal)) sigdelset(&unblocked, signal);
  blocking = true;
}

int stop_signal() noexcept { return requested; }

void notice_signals() noexcept {
  if (!blocking) return;
  ::sigprocmask(SIG_UNBLOCK, &caught, nullptr);  // pending ones run their handler here
  ::sigprocmask(SIG_BLOCK, &caught, nullptr);
}

const sigset_t* wait_mask() noexcept { return blocking ? &unblocked : nullptr; }

void end_by_signal(int signal) noexcept {
  ::signal(signal, SIG_DFL);
  sigset_t just_this;
  sigemptyset(&just_this);
  sigaddset(&just_this, signal);
  ::sigprocmask(SIG_UNBLOCK, &just_this, nullptr);
  ::raise(signal);
  ::_exit(128 + signal);  // if the signal's default is to be ignored
}

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "a signal";
  }
}

}  // namespace bpfbatch::cli
