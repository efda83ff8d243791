// Internal: every buffer size the library computes, in 64-bit arithmetic and
// checked against the address space, so that a 32-bit size_t can never wrap
// to a small allocation the kernel then writes past.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <limits>

#include <bpfbatch/error.hpp>
#include <bpfbatch/map_info.hpp>
#include <bpfbatch/result.hpp>

namespace bpfbatch::detail {

// The kernel copies each element of an array-like map (generic_map_lookup_batch)
// with its own copy_to_user, and the hash path a bucket at a time: into a
// destination that is not cache-line aligned, that copy (rep movsb) ran
// three times slower on this project's AMD EPYC machine with 4 KiB values
// (per-CPU values times CPUs). Keys and values start on a cache line.
inline constexpr std::uint64_t cache_line = 64;

// The most one allocation may ask for: new[] refuses more than PTRDIFF_MAX.
inline constexpr std::uint64_t max_allocation =
    static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max());

constexpr std::uint64_t round_up(std::uint64_t n, std::uint64_t to) noexcept {
  return (n + to - 1) / to * to;
}

// Two resume tokens (the one passed in and the one the kernel writes), each
// max(key_size, 4) bytes: a u32 bucket index for the hash family
// (__htab_map_lookup_and_delete_batch), the last key for the generic path
// (generic_map_lookup_batch).
inline std::uint64_t token_bytes(const map_info& info) noexcept {
  return 2 * std::max<std::uint64_t>(info.key_size, 4);
}

// The kernel computes buffer offsets as u32 (cp * value_size in
// generic_map_lookup_batch, total * key_size in the hash path), so a call
// whose keys or values pass 4 GiB would wrap around inside our buffer.
inline std::uint32_t max_batch_elements(const map_info& info) noexcept {
  std::uint64_t limit = UINT32_MAX;
  if (info.key_size > 0) limit = std::min<std::uint64_t>(limit, UINT32_MAX / info.key_size);
  if (info.value_bytes() > 0) limit = std::min<std::uint64_t>(limit, UINT32_MAX / info.value_bytes());
  return static_cast<std::uint32_t>(limit);
}

// One block holding the tokens, the keys and the values, each region starting
// on a cache line: the sizes of the regions and of the allocation (with room
// to align its start).
struct block_layout {
  std::size_t token = 0;
  std::size_t keys = 0;
  std::size_t values = 0;
  std::size_t allocation = 0;

  // ENOMEM when the block would not fit below `limit` bytes (the address
  // space: tests pass a 32-bit limit to check what a 32-bit size_t gets).
  static result<block_layout> plan(std::uint64_t token_need, std::uint64_t key_need, std::uint64_t value_need,
                                   std::uint64_t limit = max_allocation) noexcept {
    std::uint64_t token = 0, keys = 0, total = 0;
    if (!rounded(token_need, token) || !rounded(key_need, keys) || !add(total, token) || !add(total, keys) ||
        !add(total, value_need) || !add(total, cache_line - 1) || total > limit)
      return make_error(ENOMEM);
    return block_layout{static_cast<std::size_t>(token), static_cast<std::size_t>(keys),
                        static_cast<std::size_t>(value_need), static_cast<std::size_t>(total)};
  }

 private:
  static bool add(std::uint64_t& total, std::uint64_t n) noexcept {
    return !__builtin_add_overflow(total, n, &total);
  }
  static bool rounded(std::uint64_t n, std::uint64_t& out) noexcept {
    return !__builtin_add_overflow(n, cache_line - 1, &out) && ((out = out / cache_line * cache_line), true);
  }
};

// elements * size, or false where that passes 64 bits.
inline bool multiply(std::uint64_t elements, std::uint64_t size, std::uint64_t& out) noexcept {
  return !__builtin_mul_overflow(elements, size, &out);
}

// The length to mmap for `max_entries` slots of `slot` bytes (array_map_mmap
// refuses more than PAGE_ALIGN(max_entries * elem_size)), or 0 where that
// does not fit half the address space: on a 32-bit process the product can
// pass size_t, and a wrapped length would map less than a copy then reads.
// Tests pass a 32-bit `limit` to check what a 32-bit size_t gets.
inline std::uint64_t mapped_length(std::uint64_t max_entries, std::uint64_t slot, std::uint64_t page,
                                   std::uint64_t limit = SIZE_MAX / 2) noexcept {
  std::uint64_t bytes = 0;
  if (page == 0 || !multiply(max_entries, slot, bytes) || bytes > limit) return 0;
  const std::uint64_t length = round_up(bytes, page);
  return length > limit ? 0 : length;
}

inline std::byte* align_to_cache_line(std::byte* p) noexcept {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  return p + (round_up(address, cache_line) - address);
}

}  // namespace bpfbatch::detail
