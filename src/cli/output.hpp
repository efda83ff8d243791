// A small buffered writer for the command-line tool: no iostreams (they cost
// a static binary hundreds of KiB), numbers through std::to_chars.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace bpfbatch::cli {

// Sums of per-CPU u64 counters can pass 64 bits (--sum).
__extension__ typedef unsigned __int128 wide_sum;

class output {
 public:
  explicit output(int fd) noexcept : fd_(fd) {}
  output(const output&) = delete;
  output& operator=(const output&) = delete;
  ~output() { flush(); }

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

  // Writes what is buffered. A reader that went away (EPIPE, when SIGPIPE is
  // ignored) ends the program quietly with status 0, as `| head` expects;
  // other write errors end it with a message and status 1.
  void flush() noexcept;

 private:
  void reserve(std::size_t n) noexcept;

  int fd_;
  std::size_t length_ = 0;
  char buffer_[1 << 16];
};

}  // namespace bpfbatch::cli
