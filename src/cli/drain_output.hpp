// How the tool prints a drain: each batch printed and flushed before the
// next one is deleted, and every entry that does not reach the reader put
// back into the map, so that nothing the drain deletes is lost.
#pragma once

#include <cstdint>
#include <string>

#include <bpfbatch/batch.hpp>
#include <bpfbatch/map.hpp>

#include "entries.hpp"
#include "output.hpp"
#include "put_back.hpp"
#include "unread.hpp"

namespace bpfbatch::cli {

// Where a batch began in the stream: its position, and the indentation
// state (-p) with which the same bytes come out again when measured.
struct batch_start {
  std::uint64_t position;
  output::indentation indentation;
};

class drain_output {
 public:
  // count_only: --count, which deletes and counts without printing entries.
  drain_output(output& out, const entry_format& format, const map& m, bool count_only);

  // Prints a drained batch and flushes it. False when the drain must stop:
  // a write failed (or a stop signal came while the reader took nothing),
  // and every entry the reader did not get whole was put back.
  bool deliver(const batch& b);

  // A batch deleted after the drain had to stop (another shard's, on its way
  // when a write failed): back into the map, whole.
  void give_back(const batch& b) { put_back(map_, b, 0, back_); }

  // After the last batch and what follows it were written: on a pipe, waits
  // until the reader has read it all or has gone (or a stop signal came);
  // what a reader that went away left unread goes back into the map. False
  // when something went back (the drain did not deliver everything).
  bool finish();

  // Entries printed (the reader got them) or, with --count, deleted.
  std::uint64_t delivered() const noexcept { return delivered_; }
  bool failed() const noexcept { return failed_; }

  // Ends the tool after a drain that stopped early (a failed write, or
  // `signal`): says how far it got and what became of the entries it deleted
  // but could not print. Status 1, or the signal's own end when nothing was
  // left out of both stdout and the map.
  [[noreturn]] void stop(const std::string& subject, int signal) const;

 private:
  std::string summary() const;
  void remember(const batch& b, const batch_start& start, bool first);
  std::uint64_t read_position() const noexcept;
  void put_back_remembered(std::uint64_t read);
  void put_back_unread(const batch& b, const batch_start& start);
  void wait_until_read();

  output& out_;
  const entry_format& format_;
  const map& map_;
  bool count_only_;
  unread_entries unread_;
  std::uint64_t delivered_ = 0;
  bool failed_ = false;
  bool reader_gone_ = false;  // it closed the pipe before reading all
  put_back_counts back_;
};

}  // namespace bpfbatch::cli
