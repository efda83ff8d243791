#include <bpfbatch/batch.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include <bpfbatch/error.hpp>

namespace bpfbatch {

namespace {

// 1024 to 4096 elements per call are within a few percent of the kernel's
// best on hash and array maps (see tests/bench); a larger batch gains nothing
// and costs memory.
constexpr std::uint32_t preferred_batch_elements = 4096;
// Bounds the buffers of a default batch, which matters for per-CPU maps on
// machines with many possible CPUs (value_size rounded up to 8, times CPUs).
constexpr std::size_t default_batch_memory = std::size_t{1} << 20;

// The kernel copies each element of an array-like map (generic_map_lookup_batch)
// with its own copy_to_user, and the hash path a bucket at a time: into a
// destination that is not cache-line aligned, that copy (rep movsb) ran
// three times slower on this project's AMD EPYC machine with 4 KiB values
// (per-CPU values times CPUs). Keys and values start on a cache line.
constexpr std::size_t cache_line = 64;

constexpr std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

// Two resume tokens (the one passed in and the one the kernel writes), each
// max(key_size, 4) bytes: a u32 bucket index for the hash family, the last key
// for the generic path.
std::size_t token_bytes(const map_info& info) noexcept { return 2 * std::max<std::size_t>(info.key_size, 4); }

}  // namespace

std::uint32_t default_batch_size(const map_info& info) noexcept {
  std::size_t per_element = std::max<std::size_t>(info.key_size + info.value_bytes(), 1);
  std::size_t elements = std::min<std::size_t>(preferred_batch_elements, default_batch_memory / per_element);
  if (info.max_entries > 0) elements = std::min<std::size_t>(elements, info.max_entries);
  return static_cast<std::uint32_t>(std::max<std::size_t>(elements, 1));
}

batch_buffers batch_buffers::borrow(std::span<std::byte> keys, std::span<std::byte> values,
                                    std::span<std::byte> token) noexcept {
  batch_buffers buffers;
  buffers.keys_ = keys;
  buffers.values_ = values;
  buffers.token_ = token;
  buffers.borrowed_ = true;
  return buffers;
}

result<std::uint32_t> batch_buffers::reserve(const map_info& info, std::uint32_t elements) noexcept {
  const std::size_t key_need = std::size_t{elements} * info.key_size;
  const std::size_t value_need = std::size_t{elements} * info.value_bytes();
  const std::size_t token_need = token_bytes(info);

  if (borrowed_) {
    if (token_.size() < token_need) return std::uint32_t{0};
    std::size_t fit = elements;
    if (info.key_size > 0) fit = std::min(fit, keys_.size() / info.key_size);
    if (info.value_bytes() > 0) fit = std::min(fit, values_.size() / info.value_bytes());
    return static_cast<std::uint32_t>(fit);
  }

  if (key_need <= keys_.size() && value_need <= values_.size() && token_need <= token_.size() && memory_)
    return elements;

  // One block: token, keys, values, each starting on a cache line. It grows
  // to the largest need seen and never shrinks, so a reused object stops
  // allocating.
  const std::size_t token_size = round_up(std::max(token_need, token_.size()), cache_line);
  const std::size_t key_size = round_up(std::max(key_need, keys_.size()), cache_line);
  const std::size_t value_size = std::max(value_need, values_.size());
  std::unique_ptr<std::byte[]> block(new (std::nothrow)
                                         std::byte[token_size + key_size + value_size + cache_line - 1]);
  if (!block) return make_error(ENOMEM);
  const auto address = reinterpret_cast<std::uintptr_t>(block.get());
  std::byte* start = block.get() + (round_up(address, cache_line) - address);
  // Keep the token: an ENOSPC retry grows the buffers between two calls that
  // resume from the same place.
  if (!token_.empty()) std::memcpy(start, token_.data(), token_.size());
  token_ = {start, token_size};
  keys_ = {start + token_size, key_size};
  values_ = {start + token_size + key_size, value_size};
  memory_ = std::move(block);
  return elements;
}

}  // namespace bpfbatch
