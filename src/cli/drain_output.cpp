#include "drain_output.hpp"

#include <poll.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common.hpp"
#include "signals.hpp"

namespace bpfbatch::cli {

namespace {

// Calls f(i, end) with the stream position where entry i of a batch
// printed from `start` ends, until f returns false: printed again into a
// counter, so that no memory is needed per entry.
template <class F>
void each_entry_end(const entry_format& format, const batch& b, bool first, const batch_start& start, F f) {
  output counter = output::measure(start.indentation);
  for (std::size_t i = 0; i < b.size(); ++i) {
    print_entry(counter, format, b, i, first && i == 0);
    if (!f(i, start.position + counter.position())) return;
  }
}

// How many of a batch's entries the reader got whole when it got the bytes
// up to `read`.
std::size_t entries_read(const entry_format& format, const batch& b, bool first, const batch_start& start,
                         std::uint64_t read) {
  std::size_t done = 0;
  each_entry_end(format, b, first, start, [&](std::size_t, std::uint64_t end) {
    if (end > read) return false;
    ++done;
    return true;
  });
  return done;
}

}  // namespace

drain_output::drain_output(output& out, const entry_format& format, const map& m, bool count_only)
    : out_(out), format_(format), map_(m), count_only_(count_only), unread_(out.fd(), m.info()) {
  out_.stop_on_signals();
}

bool drain_output::deliver(const batch& b) {
  if (count_only_) {
    delivered_ += b.size();
    return true;
  }
  const bool first = out_.position() == 0;
  const batch_start start{out_.position(), out_.indentation_now()};
  print_batch(out_, format_, b, first);
  if (out_.flush() == 0) {
    delivered_ += b.size();
    remember(b, start, first);
    return true;
  }
  failed_ = true;
  put_back_unread(b, start);
  return false;
}

// Keeps a copy of the entries that may still sit unread in a pipe, with
// where each ends in the stream (printed again into a counter).
void drain_output::remember(const batch& b, const batch_start& start, bool first) {
  if (!unread_.tracking()) return;
  each_entry_end(format_, b, first, start, [&](std::size_t i, std::uint64_t end) {
    unread_.add(end, b.key(i), b.value(i));
    return true;
  });
  unread_.forget_read(out_.written());
}

// Where the reader's bytes end: what write(2) took, less, once the reader
// has gone (EPIPE), what it left unread in the pipe, which can reach back
// into earlier batches. A reader still there (a stop signal, a full disk)
// gets what the pipe holds.
std::uint64_t drain_output::read_position() const noexcept {
  const bool gone = reader_gone_ || out_.error() == EPIPE;
  return gone ? unread_.read_up_to(out_.written()) : out_.written();
}

// Entries of earlier batches the reader never got whole go back.
void drain_output::put_back_remembered(std::uint64_t read) {
  unread_.each_after(read, [&](std::span<const std::byte> key, std::span<const std::byte> value) {
    put_back(map_, key, value, back_);
    --delivered_;
  });
}

// After a failed write, every entry the reader will never get whole goes
// back: in earlier batches still in a pipe, and in this one.
void drain_output::put_back_unread(const batch& b, const batch_start& start) {
  const std::uint64_t read = read_position();
  put_back_remembered(read);
  const std::size_t done = entries_read(format_, b, start.position == 0, start, read);
  delivered_ += done;
  put_back(map_, b, done, back_);
}

// A pipe gives no event when its reader has read everything, but says how
// much is unread (FIONREAD) and reports POLLERR once the reader has gone:
// look every 10 ms, with the stop signals open.
void drain_output::wait_until_read() {
  static const timespec tick{0, 10'000'000};
  while (unread_.tracking() && unread_.read_up_to(out_.written()) < out_.written()) {
    pollfd reader{out_.fd(), 0, 0};
    const int ready = ::ppoll(&reader, 1, &tick, wait_mask());
    if (ready > 0 && (reader.revents & POLLERR) != 0) {
      reader_gone_ = true;
      return;
    }
    if ((ready < 0 && errno != EINTR) || stop_signal() != 0) return;
  }
}

bool drain_output::finish() {
  if (count_only_) return true;
  if (out_.error() == 0) wait_until_read();
  if (!reader_gone_ && out_.error() != EPIPE) return true;
  failed_ = true;
  put_back_remembered(read_position());
  return back_.restored + back_.not_back() == 0;
}

std::string drain_output::summary() const {
  std::string text =
      "after " + std::to_string(delivered_) + (count_only_ ? " entries deleted" : " entries printed");
  text += "; " + std::to_string(back_.restored) + " deleted but not printed were put back into the map";
  if (back_.restored > 0 &&
      (map_.info().type == map_type::lru_hash || map_.info().type == map_type::lru_percpu_hash))
    text += " (an LRU map may have evicted others to take them)";
  if (back_.superseded > 0)
    text += "; " + std::to_string(back_.superseded) +
            " were not, and are lost: their key was written again meanwhile, and its newer value is kept";
  if (back_.lost > 0)
    text += "; " + std::to_string(back_.lost) + " could not be put back and are lost (" +
            describe(command_name(back_.lost_command), back_.lost_because, nullptr, command::none) + ")";
  return text;
}

void drain_output::stop(const std::string& subject, int signal) const {
  const int err = out_.error();
  const bool by_signal = signal != 0 && (err == 0 || err == EINTR);
  std::string cause;
  if (by_signal) {
    cause = std::string("stopped by ") + signal_name(signal);
  } else if (err == EPIPE || reader_gone_) {
    cause = "output closed";
  } else {
    cause = "cannot write output: " + std::string(std::strerror(err));
  }
  print_error(subject + ": " + cause + " " + summary());
  if (by_signal && back_.not_back() == 0) end_by_signal(signal);
  std::exit(exit_failure);
}

}  // namespace bpfbatch::cli
