// dump and drain: every entry of a map, printed as bpftool prints it. A drain
// goes through drain_output, which prints each batch and flushes it before
// the next one is deleted, so that every entry it deletes is either printed
// or put back into the map.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <sched.h>

#include <bpfbatch/btf.hpp>
#include <bpfbatch/btf_format.hpp>
#include <bpfbatch/drain.hpp>
#include <bpfbatch/error.hpp>
#include <bpfbatch/lookup.hpp>
#include <bpfbatch/shards.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "drain_output.hpp"
#include "entries.hpp"
#include "output.hpp"
#include "shard_pump.hpp"
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
    struct stat out {
    }, err{};
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

std::string output_failure(int err) {
  return err == EPIPE ? std::string("output closed")
                      : "cannot write output: " + std::string(std::strerror(err));
}

// What follows the entries of a complete dump or drain: the count, or
// bpftool's "Found N elements", or the end of the JSON array.
void print_trailer(output& out, const arguments& o, const entry_format& format, std::uint64_t entries) {
  if (!o.count) {
    print_end(out, format, entries);
  } else if (o.json) {
    out.put("{\"count\":").number(entries).put("}\n");
  } else {
    out.number(entries).put('\n');
  }
}

// --threads auto: the CPUs this process may run on, at most 16 (each
// shard's buffers take up to 1 MiB).
unsigned thread_count(const arguments& o) {
  if (o.threads != 0) return o.threads;
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  const int allowed = ::sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
  return static_cast<unsigned>(std::clamp(allowed, 1, 16));
}

// The parts of the map read at once (one, the whole map, without --threads).
std::vector<batch_generator> shards_of(const arguments& o, const map& m, bool drain) {
  const batch_options options{.batch_size = o.batch_size, .method = o.method};
  const unsigned n = thread_count(o);
  auto shards = drain ? lookup_and_delete_shards(m, n, options) : lookup_shards(m, n, options);
  if (!shards) fail(subject_of(o), shards.error(), &m.info(), command::none);
  return std::move(*shards);
}

int run_plain_dump(const arguments& o, const map& m, const entry_format& format) {
  const std::string subject = subject_of(o);
  output out(1);
  set_up_stdout(out, o);
  progress shown(o.quiet, "read");
  std::uint64_t entries = 0;
  auto shards = shards_of(o, m, false);
  shard_pump pump(shards);
  while (const batch* b = pump.next()) {
    if (!o.count) print_batch(out, format, *b, entries == 0);
    entries += b->size();
    if (out.error() != 0) break;
    shown.update(entries);
  }
  const batch_generator* failed = out.error() == 0 ? pump.failed() : nullptr;
  if (failed != nullptr) fail(subject, failed->error(), &m.info(), failed->failed_command());
  if (out.error() == 0) print_trailer(out, o, format, entries);
  if (const int err = out.flush(); err != 0) {
    if (err == EPIPE) ::_exit(0);  // a reader that went away (| head): quietly, as cat does
    print_error(subject + ": " + output_failure(err));
    return exit_failure;
  }
  return 0;
}

int run_drain(const arguments& o, const map& m, const entry_format& format) {
  const std::string subject = subject_of(o);
  if (values_are_descriptors(m.info().type)) {
    print_error(subject + ": the tool does not drain a " + std::string(map_type_name(m.info().type)) +
                " map: its values are descriptors, so what it deleted could not be put back");
    return exit_failure;
  }
  stop_between_batches();  // before the shards' threads start: they keep the signals blocked
  output out(1);
  set_up_stdout(out, o);
  drain_output printer(out, format, m, o.count);
  progress shown(o.quiet, "drained");
  auto shards = shards_of(o, m, true);
  shard_pump pump(shards);
  bool writing = true;
  while (const batch* b = pump.next()) {
    // After a failed write, what other shards were deleting meanwhile goes back.
    if (!writing) {
      printer.give_back(*b);
      continue;
    }
    if (!printer.deliver(*b)) {
      writing = false;
      pump.stop();
      continue;
    }
    shown.update(printer.delivered());
    notice_signals();                     // before the next batch is deleted
    if (stop_signal() != 0) pump.stop();  // what the shards hold now is still printed
  }
  if (!writing) printer.stop(subject, stop_signal());
  notice_signals();  // one that came during the last call
  if (const int signal = stop_signal(); signal != 0) {
    // What was printed stays a whole document (and --count says how many
    // it deleted); plain output gets no "Found" line, which would read as a
    // complete drain. A reader that went away meanwhile gets its unread
    // entries put back (finish()).
    if (o.count || ((o.json || format.btf_layout) && printer.delivered() > 0))
      print_trailer(out, o, format, printer.delivered());
    (void)out.flush();
    (void)printer.finish();
    printer.stop(subject, signal);
  }
  if (const batch_generator* failed = pump.failed()) {
    (void)out.flush();
    if (!printer.finish()) printer.stop(subject, 0);
    fail(subject, failed->error(), &m.info(), failed->failed_command());
  }
  print_trailer(out, o, format, printer.delivered());
  const int err = out.flush();
  if (!printer.finish()) printer.stop(subject, stop_signal());
  if (err != 0) {
    print_error(subject + ": " + output_failure(err) + " after " + std::to_string(printer.delivered()) +
                (o.count ? " entries were deleted" : " entries were printed"));
    return exit_failure;
  }
  return 0;
}

}  // namespace

int run_dump(const arguments& o) {
  const bool drain = o.command == "drain";
  map m = open_selected(o, drain ? access::read_write : access::read_only);
  const btf_formats formats = btf_formats_for(o, m);
  const entry_format format{.info = m.info(),
                            .json = o.json,
                            .sum_word = sum_word_for(o, m.info()),
                            .key_btf = formats.key ? &*formats.key : nullptr,
                            .value_btf = formats.value ? &*formats.value : nullptr,
                            .btf_layout = !o.json && !o.no_btf && !o.sum && m.info().btf_id != 0,
                            .empty_key_in_json = false,
                            .scratch = {}};
  return drain ? run_drain(o, m, format) : run_plain_dump(o, m, format);
}

}  // namespace bpfbatch::cli
