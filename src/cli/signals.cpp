#include "signals.hpp"

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <initializer_list>

namespace bpfbatch::cli {

namespace {

volatile std::sig_atomic_t requested = 0;

void record(int signal) { requested = signal; }

}  // namespace

void stop_between_batches() noexcept {
  struct sigaction action {};
  action.sa_handler = record;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocked write returns EINTR
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signal, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

int stop_signal() noexcept { return requested; }

void end_by_signal(int signal) noexcept {
  ::signal(signal, SIG_DFL);
  ::raise(signal);
  ::_exit(128 + signal);  // if the signal is blocked or ignored by default
}

}  // namespace bpfbatch::cli
