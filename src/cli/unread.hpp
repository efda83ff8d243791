// The entries a drain printed that its reader may not have read yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <bpfbatch/map_info.hpp>

namespace bpfbatch::cli {

// write(2) taking an entry's bytes is not the reader having them: on a pipe
// they wait in its buffer (64 KiB and more), and when the reader exits (| head)
// they are discarded. The pipe still says how many bytes are unread
// (FIONREAD, on the write end too, also after the reader closed), so a drain
// keeps a copy of every entry whose bytes may still be in the pipe, and on
// failure puts back those the reader never got whole.
//
// Other outputs keep only the batch in hand: a file has the bytes once
// write(2) took them; a socket's queue cannot be counted in bytes exactly, so
// there, as for every output, "printed" means write(2) took the bytes.
// A pipe that other processes write to as well makes the unread count too
// large: entries the reader did get may then be put back too.
class unread_entries {
 public:
  unread_entries(int fd, const map_info& info);

  // Whether the output keeps entries after write(2) took them (a pipe).
  bool tracking() const noexcept { return pipe_; }

  // An entry whose last byte is at stream position `end`.
  void add(std::uint64_t end, std::span<const std::byte> key, std::span<const std::byte> value);

  // After a flush: forgets the entries the reader has read for sure (all of
  // them, unless stdout is a pipe).
  void forget_read(std::uint64_t written) noexcept;

  // After a failed write: the stream position up to which the reader got
  // the bytes (the pipe's unread bytes taken off what write(2) took).
  std::uint64_t read_up_to(std::uint64_t written) const noexcept;

  // Calls f(key, value) for each entry that ends after `position`, oldest first.
  template <class F>
  void each_after(std::uint64_t position, F&& f) const {
    for (std::size_t at = first_; at < records_.size(); at += record_size_) {
      std::uint64_t end;
      std::memcpy(&end, records_.data() + at, sizeof(end));
      if (end <= position) continue;
      const std::byte* key = records_.data() + at + sizeof(end);
      f(std::span<const std::byte>(key, key_size_), std::span<const std::byte>(key + key_size_, value_size_));
    }
  }

 private:
  std::uint64_t unread_bytes() const noexcept;

  int fd_;
  bool pipe_;
  std::size_t key_size_;
  std::size_t value_size_;
  std::size_t record_size_;  // the end position, the key, the value
  std::vector<std::byte> records_;
  std::size_t first_ = 0;  // the oldest record kept
};

}  // namespace bpfbatch::cli
