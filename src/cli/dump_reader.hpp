// A streaming reader of `dump -j` documents (bpftool -j map dump's or the
// tool's): a JSON array of {"key": [...], "value": [...]} objects, per-CPU
// maps with "values": [{"cpu": N, "value": [...]}, ...], bytes as bpftool
// prints them ("0x01"). Other fields ("formatted", "inner_map_id") are
// skipped. It holds one buffer of input and one entry at a time, whatever
// the document's size, and checks each entry against the map's layout as it
// reads it, so that a key of the wrong size is an error before any byte of
// it reaches a batch. Touches no map: it can be fuzzed alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bpfbatch::cli {

// What each entry must hold.
struct dump_layout {
  std::uint32_t key_size = 0;    // 0: entries have no "key" (queue, stack)
  std::uint32_t value_size = 0;  // bytes of one value (one CPU's)
  // 0: one "value"; N: "values" with each of the CPUs 0..N-1 once, each
  // value placed in a slot of `stride` bytes, the padding zeroed.
  std::uint32_t cpus = 0;
  std::uint64_t stride = 0;

  std::uint64_t value_bytes() const noexcept { return cpus == 0 ? value_size : stride * cpus; }
};

class dump_reader {
 public:
  // Reads the document from a descriptor, or from memory.
  dump_reader(const dump_layout& layout, int fd);
  dump_reader(const dump_layout& layout, std::string_view text);
  dump_reader(const dump_reader&) = delete;
  dump_reader& operator=(const dump_reader&) = delete;

  // Reads the next entry and appends its key (key_size bytes) to keys and
  // its value (value_bytes()) to values. False at the end of the document
  // (error() empty), or on an error (error() says which entry and why; keys
  // and values are left as they were).
  bool next(std::vector<std::byte>& keys, std::vector<std::byte>& values);

  // Why reading stopped: "entry 12: key has 5 bytes, the map's keys have
  // 4", or empty.
  const std::string& error() const noexcept { return error_; }
  // The entries read so far (the index of the next one).
  std::uint64_t entries() const noexcept { return entries_; }

 private:
  // The next character without taking it; '\0' with at_end_ at the end.
  char peek();
  char take();
  void skip_space();
  bool expect(char c, std::string_view what);
  bool fail(std::string text);
  bool fail_in_entry(std::string text);
  bool finish();

  bool read_entry(std::vector<std::byte>& keys, std::vector<std::byte>& values);
  bool read_field_name(std::string& name);
  bool read_bytes(std::vector<std::byte>& out, std::size_t at, std::uint32_t size, std::string_view what);
  bool read_byte(std::byte& b, std::string_view what);
  bool read_cpu_values(std::vector<std::byte>& values, std::size_t at);
  bool read_cpu_value(std::vector<std::byte>& values, std::size_t at, std::vector<bool>& seen);
  bool read_number(std::uint64_t& n, std::string_view what);
  bool skip_value(unsigned depth);
  bool skip_string();
  bool skip_literal();

  bool refill();

  dump_layout layout_;
  int fd_ = -1;
  std::vector<char> buffer_;
  std::vector<std::byte> cpu_value_;  // one CPU's value until its "cpu" is known
  std::string_view data_;
  std::size_t at_ = 0;
  bool at_end_ = false;
  enum class state { start, in_array, done } state_ = state::start;
  std::uint64_t entries_ = 0;
  std::string error_;
};

}  // namespace bpfbatch::cli
