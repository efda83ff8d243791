// What a drain does with elements it deleted but could not deliver: it
// writes them back into the map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include <bpfbatch/batch.hpp>
#include <bpfbatch/command.hpp>
#include <bpfbatch/map.hpp>

namespace bpfbatch::cli {

struct put_back_counts {
  std::uint64_t restored = 0;    // written back into the map
  std::uint64_t superseded = 0;  // not written back: the key holds a newer value again
  std::uint64_t lost = 0;        // could not be written back (the map is full, ...)
  std::error_code lost_because;  // the first such error
  command lost_command = command::none;

  // Entries neither printed nor back in the map.
  std::uint64_t not_back() const noexcept { return superseded + lost; }
};

// Writes one drained entry back into the map, counting how it went.
void put_back(const map& m, std::span<const std::byte> key, std::span<const std::byte> value,
              put_back_counts& counts) noexcept;

// Writes elements from..size()-1 of a drained batch back into the map. A
// key that was written again since the drain took it keeps its newer value
// (BPF_NOEXIST: the element is then superseded, not lost). Queues get the
// values pushed back at their end (their order is not kept); stacks get a
// batch's values back in the order they were popped from.
// Maps of maps get the inner map back by its id while it still exists (the
// delete released the outer map's reference, so it may not).
void put_back(const map& m, const batch& b, std::size_t from, put_back_counts& counts) noexcept;

}  // namespace bpfbatch::cli
