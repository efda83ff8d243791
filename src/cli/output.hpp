// A small buffered writer for the command-line tool: no iostreams (they cost
// a static binary hundreds of KiB), numbers through std::to_chars, and write
// errors reported to the caller rather than hidden, so that a drain knows
// exactly which bytes reached the reader.
#pragma once

#include <sys/types.h>
#include <cstddef>

#include <cstdint>
#include <span>
#include <string_view>

namespace bpfbatch::cli {

// Sums of per-CPU u64 counters can pass 64 bits (--sum): two words, since
// unsigned __int128 exists only on 64-bit targets (not on i686 or armhf).
// 2^32 CPUs' u64 values fit with room to spare.
struct wide_sum {
  std::uint64_t high = 0;
  std::uint64_t low = 0;

  wide_sum& operator+=(std::uint64_t n) noexcept {
    low += n;
    high += low < n ? 1 : 0;
    return *this;
  }
};

class output {
 public:
  // indent_json()'s state, which is bpftool's json_writer's: the depth, whether a value was written at
  // this depth (its `sep`), and which open containers are objects.
  struct json_state {
    std::uint32_t depth = 0;
    bool separator = false;
    bool in_string = false;
    bool escape = false;
    bool in_scalar = false;
    bool expecting_name = false;
    std::uint64_t objects = 0;  // bit d: the container at depth d + 1 is an object (the first 64)
  };
  // Where indent_json() stands, to measure elsewhere what printing from
  // here would give.
  struct indentation {
    bool on = false;
    json_state json;
  };

  // Writes to fd; output::measure() writes nowhere and only counts bytes.
  explicit output(int fd) noexcept : fd_(fd) {}
  static output measure() noexcept { return output(-1); }
  // Counts the bytes as they come out indented from `from` on.
  static output measure(const indentation& from) noexcept { return output(-1, from); }
  output(const output&) = delete;
  output& operator=(const output&) = delete;
  // Flushes what is left; an error then is ignored (callers that care flush
  // first).
  ~output() { (void)flush(); }

  output& put(std::string_view text) noexcept;
  output& put(char c) noexcept;
  output& number(std::uint64_t value) noexcept;
  output& number(wide_sum value) noexcept;
  // "%02x"
  output& hex_byte(std::byte b) noexcept;
  // Bytes as bpftool prints them: "%02x" separated by spaces, two spaces
  // after every 8th byte, a new line after every 16th.
  output& hex_bytes(std::span<const std::byte> bytes) noexcept;
  // A JSON array of "0x.." strings, as bpftool -j prints bytes.
  output& json_bytes(std::span<const std::byte> bytes) noexcept;
  // A JSON string with its quotes.
  output& json_string(std::string_view text) noexcept;

  // Writes everything buffered: 0, or the errno that stopped it (EPIPE,
  // ENOSPC, EIO, ...; EINTR when a stop signal came while it waited). A
  // non-blocking descriptor is waited for with poll(2) rather than failing
  // with EAGAIN. After an error nothing more is written.
  int flush() noexcept;

  // From now on flush() waits for room with ppoll(2), with the stop signals
  // (signals.hpp) open only there, and writes no more than the descriptor
  // takes without blocking (a page to a pipe, MSG_DONTWAIT to a socket; a
  // terminal's write lets the stop signals in): a stop signal then always
  // ends a wait on a stalled reader.
  void stop_on_signals() noexcept;

  // From now on what is put is taken as compact JSON (as the writers here
  // make it, a new line after each document) and goes out indented as
  // bpftool -p prints it: its json_writer's rules, one character at a time,
  // nothing held back, so that a dump still streams.
  void indent_json() noexcept { indenting_ = true; }
  indentation indentation_now() const noexcept { return {indenting_, json_}; }

  // Whether anything was ever written, or tried, to the standard output.
  static bool stdout_used() noexcept { return stdout_used_; }

  int fd() const noexcept { return fd_; }
  // Bytes put so far (written or buffered), and bytes write(2) accepted.
  std::uint64_t position() const noexcept { return written_ + length_; }
  std::uint64_t written() const noexcept { return written_; }
  // The errno of the first failed write, or 0.
  int error() const noexcept { return error_; }

 private:
  output(int fd, const indentation& from) noexcept : fd_(fd), indenting_(from.on), json_(from.json) {}
  void reserve(std::size_t n) noexcept;
  int write_some(const char* data, std::size_t size, std::size_t& done) noexcept;
  int write_waiting_for_room(const char* data, std::size_t size, std::size_t& done) noexcept;

  ssize_t write_without_waiting(const char* data, std::size_t size) noexcept;
  std::size_t pipe_room() const noexcept;

  void raw(char c) noexcept {
    reserve(1);
    buffer_[length_++] = c;
  }
  void indent(std::string_view text) noexcept;
  void indent_char(char c) noexcept;
  void separate() noexcept;
  void new_line() noexcept;

  bool in_object() const noexcept {
    return json_.depth > 0 && json_.depth <= 64 && ((json_.objects >> (json_.depth - 1)) & 1) != 0;
  }
  static inline bool stdout_used_ = false;

  enum class kind { plain, pipe, socket, device };
  int fd_;
  bool interruptible_ = false;
  bool indenting_ = false;
  json_state json_;
  kind kind_ = kind::plain;
  int error_ = 0;
  std::uint64_t written_ = 0;
  std::size_t length_ = 0;
  char buffer_[1 << 16];
};

}  // namespace bpfbatch::cli
