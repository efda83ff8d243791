// batch: one batch of elements read from a map, a view into buffers the
// iteration owns; batch_buffers: those buffers, reusable across iterations;
// batch_options: how an iteration reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>

#include <bpfbatch/map_info.hpp>
#include <bpfbatch/result.hpp>

namespace bpfbatch {

// How an iteration reads the map.
enum class iteration {
  // Batch commands; where the kernel (before 5.6: EINVAL) or the map type
  // (errno 524) has none, a GET_NEXT_KEY + LOOKUP_ELEM walk that yields the
  // same batches. An array made with BPF_F_MMAPABLE is read through a
  // read-only mmap of its values instead, with no bpf(2) call per batch
  // (14 to 140 times faster in tests/bench), yielding the same batches.
  automatic,
  // Batch commands only: no support is an error.
  batch,
  // Always the GET_NEXT_KEY + LOOKUP_ELEM walk. When the key it stands on is
  // deleted under it, the kernel restarts the walk from the first key, so a
  // walk of a changing map can return keys twice: prefer batches.
  key_walk,
};

// Counters an iteration adds to, for tests and benchmarks.
struct iteration_stats {
  std::uint64_t syscalls = 0;          // bpf(2) calls made
  std::uint64_t elements = 0;          // elements yielded
  std::uint64_t batches = 0;           // batches yielded
  std::uint64_t no_space_retries = 0;  // ENOSPC: batch grown and call retried
  std::uint64_t busy_retries = 0;      // EINTR / EBUSY: call retried
  bool walked = false;                 // the GET_NEXT_KEY walk was used
  bool memory_mapped = false;          // a BPF_F_MMAPABLE array was read through mmap
};

struct batch_options {
  // Elements per kernel call; 0 lets the library choose from the map's sizes
  // (default_batch_size()). A bucket of a hash map larger than this makes the
  // kernel answer ENOSPC; that one call is then retried with room for the
  // bucket. count * value_bytes must stay within 32 bits (the kernel computes
  // buffer offsets in u32): larger sizes give EOVERFLOW.
  std::uint32_t batch_size = 0;
  // Passed to the kernel: 0 or BPF_F_LOCK (for values with a bpf_spin_lock).
  std::uint64_t elem_flags = 0;
  iteration method = iteration::automatic;
  // When set, the iteration adds its counts here (it must outlive it).
  iteration_stats* stats = nullptr;
};

// Elements per kernel call when batch_options::batch_size is 0: 4096, fewer
// when keys and values of that many elements would pass 1 MiB (per-CPU maps on
// machines with many CPUs), never more than max_entries, at least 1.
std::uint32_t default_batch_size(const map_info& info) noexcept;

// One batch: size() elements, keys and values packed as the kernel wrote
// them. Valid until the generator that yielded it advances or is destroyed.
class batch {
 public:
  batch() noexcept = default;
  batch(const map_info& info, std::span<const std::byte> keys, std::span<const std::byte> values,
        std::size_t count) noexcept
      : keys_(keys.data()),
        values_(values.data()),
        count_(count),
        key_size_(info.key_size),
        value_size_(info.value_size),
        stride_(info.per_cpu_stride()),
        copies_(info.value_copies) {}

  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  std::uint32_t key_size() const noexcept { return key_size_; }
  // One CPU's value size, without padding.
  std::uint32_t value_size() const noexcept { return value_size_; }
  // Values per element: the possible CPUs for per-CPU maps, otherwise 1.
  std::uint32_t value_copies() const noexcept { return copies_; }

  // Element i's key; empty when i >= size().
  std::span<const std::byte> key(std::size_t i) const noexcept {
    return i < count_ ? std::span(keys_ + i * key_size_, key_size_) : std::span<const std::byte>();
  }
  // Element i's whole value as the kernel laid it out: for per-CPU maps every
  // CPU's value, each in a slot rounded up to 8 bytes. Empty when i >= size().
  std::span<const std::byte> value(std::size_t i) const noexcept {
    return i < count_ ? std::span(values_ + i * element_value_bytes(), element_value_bytes())
                      : std::span<const std::byte>();
  }
  // Element i's value on one CPU (value_size() bytes, without padding). For a
  // map that is not per-CPU, cpu 0 is the value. Empty when out of range.
  std::span<const std::byte> value(std::size_t i, std::uint32_t cpu) const noexcept {
    return i < count_ && cpu < copies_
               ? std::span(values_ + i * element_value_bytes() + std::size_t{cpu} * stride_, value_size_)
               : std::span<const std::byte>();
  }

  // Typed copies: nullopt unless sizeof(T) is exactly the size of what is
  // read, so a type that does not match the map can never read out of bounds.
  template <class T>
  std::optional<T> key_as(std::size_t i) const noexcept {
    return copy_as<T>(key(i));
  }
  template <class T>
  std::optional<T> value_as(std::size_t i) const noexcept {
    return copy_as<T>(value(i));
  }
  template <class T>
  std::optional<T> value_as(std::size_t i, std::uint32_t cpu) const noexcept {
    return copy_as<T>(value(i, cpu));
  }

  // All keys and all values, packed, for callers that copy a batch at once.
  std::span<const std::byte> keys() const noexcept { return {keys_, count_ * key_size_}; }
  std::span<const std::byte> values() const noexcept { return {values_, count_ * element_value_bytes()}; }

 private:
  std::size_t element_value_bytes() const noexcept { return std::size_t{stride_} * copies_; }

  template <class T>
  static std::optional<T> copy_as(std::span<const std::byte> bytes) noexcept {
    static_assert(std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>);
    if (bytes.size() != sizeof(T) || bytes.empty()) return std::nullopt;
    T out;
    std::memcpy(&out, bytes.data(), sizeof(T));
    return out;
  }

  const std::byte* keys_ = nullptr;
  const std::byte* values_ = nullptr;
  std::size_t count_ = 0;
  std::uint32_t key_size_ = 0;
  std::uint32_t value_size_ = 0;
  std::uint32_t stride_ = 0;
  std::uint32_t copies_ = 1;
};

// The key, value and resume-token memory of an iteration. A default-made
// object owns its memory: it grows to what an iteration needs and never
// shrinks, so a caller that passes the same object to each poll allocates
// nothing after the first. borrow() makes one over caller memory instead,
// never allocating: each batch is then at most as large as the memory holds.
// One iteration at a time may use a batch_buffers object.
class batch_buffers {
 public:
  batch_buffers() noexcept = default;
  batch_buffers(batch_buffers&&) noexcept = default;
  batch_buffers& operator=(batch_buffers&&) noexcept = default;
  batch_buffers(const batch_buffers&) = delete;
  batch_buffers& operator=(const batch_buffers&) = delete;
  ~batch_buffers() = default;

  // Caller memory, used exactly as given: keys at keys.data(), values at
  // values.data(), the resume tokens at token.data() (two of
  // max(key_size, 4) bytes each). The memory must outlive every iteration
  // that uses these buffers. Values that start on a 64-byte cache line are
  // copied fastest (owned buffers do): the kernel's copy of large values into
  // a misaligned destination can take three times as long.
  static batch_buffers borrow(std::span<std::byte> keys, std::span<std::byte> values,
                              std::span<std::byte> token) noexcept;

  bool borrowed() const noexcept { return borrowed_; }
  // Bytes held for keys, for values, for the token.
  std::span<std::byte> keys() const noexcept { return keys_; }
  std::span<std::byte> values() const noexcept { return values_; }
  std::span<std::byte> token() const noexcept { return token_; }

  // Makes room for `elements` elements of `info` (and the tokens), keeping
  // the tokens' bytes. Owned buffers grow (ENOMEM when that fails); borrowed ones
  // do not: the result is how many elements fit, at most `elements` (0 when
  // not one element or the token fits).
  result<std::uint32_t> reserve(const map_info& info, std::uint32_t elements) noexcept;

 private:
  std::unique_ptr<std::byte[]> memory_;
  std::span<std::byte> keys_;
  std::span<std::byte> values_;
  std::span<std::byte> token_;
  bool borrowed_ = false;
};

}  // namespace bpfbatch
