// dump and drain: every entry of a map, printed as bpftool prints it. A drain
// prints each batch and flushes it before it asks the kernel for the next
// one, so that every element it deletes is either written to stdout in full
// or put back into the map.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <string>

#include <bpfbatch/drain.hpp>
#include <bpfbatch/error.hpp>
#include <bpfbatch/lookup.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "entries.hpp"
#include "output.hpp"
#include "put_back.hpp"
#include "signals.hpp"

namespace bpfbatch::cli {

namespace {

// A one-line counter on stderr while a long dump or drain runs, at most ten
// times a second; only when stderr is a terminal that is not also stdout's
// (the counter would overwrite the entries there).
class progress {
 public:
  progress(bool quiet, std::string_view verb) : enabled_(!quiet && shown_apart()), verb_(verb) {}
  ~progress() {
    if (shown_) output(2).put("\r\033[K");
  }
  void update(std::uint64_t elements) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    shown_ = true;
    output(2).put("\rbpfbatch: ").put(verb_).put(' ').number(elements).put(" entries");
  }

 private:
  static bool shown_apart() {
    if (::isatty(2) != 1) return false;
    if (::isatty(1) != 1) return true;
    struct stat out {}, err {};
    return ::fstat(1, &out) != 0 || ::fstat(2, &err) != 0 || out.st_rdev != err.st_rdev;
  }

  bool enabled_;
  bool shown_ = false;
  std::string_view verb_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// --sum's word: u64 when the value size allows, else u32; 0 when neither.
std::size_t sum_word_for(const arguments& o, const map_info& info) {
  if (!o.sum) return 0;
  const std::size_t word = info.value_size % 8 == 0 ? 8 : info.value_size % 4 == 0 ? 4 : 0;
  if (word == 0 || info.value_size == 0) {
    print_error(subject_of(o) + ": --sum needs values made of u32 or u64 words (value size " +
                std::to_string(info.value_size) + ")");
    std::exit(exit_failure);
  }
  return word;
}

// How many of a batch's entries, printed from stream position `start`,
// were written in full when write(2) had accepted `written` bytes: printed
// again into a counter, so that no memory is needed per entry.
std::size_t entries_written(const entry_format& format, const batch& b, bool first, std::uint64_t start,
                            std::uint64_t written) {
  output counter = output::measure();
  std::size_t done = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    print_entry(counter, format, b, i, first && i == 0);
    if (start + counter.position() > written) break;
    ++done;
  }
  return done;
}

struct drain_tally {
  std::uint64_t delivered = 0;  // written to stdout in full
  put_back_counts back;
};

// Prints a drained batch and flushes it. Where the write fails part-way, the
// entries that did not reach stdout in full go back into the map. False
// when the drain must stop.
bool deliver(output& out, const entry_format& format, bool count_only, const map& m, const batch& b, bool first,
             drain_tally& tally) {
  if (count_only) {
    tally.delivered += b.size();
    return true;
  }
  const std::uint64_t start = out.position();
  for (std::size_t i = 0; i < b.size(); ++i) print_entry(out, format, b, i, first && i == 0);
  if (out.flush() == 0) {
    tally.delivered += b.size();
    return true;
  }
  const std::size_t done = entries_written(format, b, first, start, out.written());
  tally.delivered += done;
  put_back(m, b, done, tally.back);
  return false;
}

std::string drain_summary(const drain_tally& tally) {
  std::string text = "after " + std::to_string(tally.delivered) + " entries printed; " +
                     std::to_string(tally.back.restored) + " deleted but not printed were put back into the map";
  if (tally.back.superseded > 0)
    text += ", " + std::to_string(tally.back.superseded) + " were not (a newer value of the key is there)";
  if (tally.back.lost > 0)
    text += "; " + std::to_string(tally.back.lost) + " could not be put back and are lost (" +
            describe(command_name(tally.back.lost_command), tally.back.lost_because, nullptr, command::none) + ")";
  return text;
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

std::string output_failure(int err) {
  return err == EPIPE ? std::string("output closed") : "cannot write output: " + std::string(std::strerror(err));
}

// Ends a drain that could not go on: says how far it got and what became of
// the entries it deleted but could not print. A signal that stopped it
// (with nothing lost) ends the process as that signal would.
[[noreturn]] void end_drain(const std::string& subject, int write_error, const drain_tally& tally, int signal) {
  const bool stopped = signal != 0 && (write_error == 0 || write_error == EINTR);
  const std::string cause = stopped ? std::string("stopped by ") + signal_name(signal) : output_failure(write_error);
  print_error(subject + ": " + cause + " " + drain_summary(tally));
  if (stopped && tally.back.lost == 0) end_by_signal(signal);
  std::exit(exit_failure);
}

}  // namespace

int run_dump(const arguments& o) {
  const bool drain = o.command == "drain";
  map m = open_selected(o, drain ? access::read_write : access::read_only);
  const map_info& info = m.info();
  const std::string subject = subject_of(o);
  const entry_format format{info, o.json, sum_word_for(o, info)};
  const bool count_only = o.count;
  if (drain) stop_between_batches();

  const batch_options options{.batch_size = o.batch_size, .method = o.method};
  output out(1);
  progress shown(o.quiet, drain ? "drained" : "read");
  drain_tally tally;
  std::uint64_t entries = 0;
  auto gen = drain ? lookup_and_delete_batches(m, options) : lookup_batches(m, options);
  for (const batch& b : gen) {
    if (drain) {
      if (!deliver(out, format, count_only, m, b, entries == 0, tally))
        end_drain(subject, out.error(), tally, stop_signal());
    } else if (!count_only) {
      for (std::size_t i = 0; i < b.size(); ++i) print_entry(out, format, b, i, entries == 0 && i == 0);
      if (out.error() != 0) break;
    }
    entries += b.size();
    shown.update(entries);
    if (stop_signal() != 0) break;  // only a drain catches them: between batches
  }
  if (const int signal = stop_signal(); signal != 0) {
    // What was printed stays a whole JSON document; plain output gets no
    // "Found" line, which would read as a complete drain.
    if (o.json && !count_only && entries > 0) out.put("]\n");
    (void)out.flush();
    end_drain(subject, 0, tally, signal);
  }
  if (out.error() != 0) {
    // A dump whose reader went away (| head) ends quietly, as cat does.
    if (out.error() == EPIPE) ::_exit(0);
    print_error(subject + ": " + output_failure(out.error()));
    return exit_failure;
  }
  if (gen.error()) fail(subject, gen.error(), &info, gen.failed_command());
  if (count_only) {
    if (o.json) {
      out.put("{\"count\":").number(entries).put("}\n");
    } else {
      out.number(entries).put('\n');
    }
  } else {
    print_end(out, format, entries);
  }
  if (const int err = out.flush(); err != 0) {
    if (err == EPIPE && !drain) ::_exit(0);
    print_error(subject + ": " + output_failure(err) + (drain ? " after every entry was printed" : ""));
    return exit_failure;
  }
  return 0;
}

}  // namespace bpfbatch::cli
