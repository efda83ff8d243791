// batch: one batch of elements read from a map, a view into the buffers of
// the iteration that yielded it; owned_batch: a copy of one that the caller
// keeps as long as it likes.
#pragma once

#include <bpfbatch/config.hpp>

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

class owned_batch;
namespace detail {
struct batch_access;
}

// One batch: size() elements, keys and values packed as the kernel wrote
// them. A view into the iteration's buffers: valid until the generator that
// yielded it advances or is destroyed. Only the library makes batches, and
// they cannot be copied, so that no copy silently shows later data; to keep
// one, make an owned_batch::copy_of() it.
class batch {
 public:
  batch(const batch&) = delete;
  batch& operator=(const batch&) = delete;
  ~batch() = default;

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
    return i < count_ ? std::span(values_ + i * value_bytes_, value_bytes_) : std::span<const std::byte>();
  }
  // Element i's value on one CPU (value_size() bytes, without padding). For a
  // map that is not per-CPU, cpu 0 is the value. Empty when out of range.
  std::span<const std::byte> value(std::size_t i, std::uint32_t cpu) const noexcept {
    return i < count_ && cpu < copies_ ? std::span(values_ + i * value_bytes_ + cpu * stride_, value_size_)
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
  std::span<const std::byte> values() const noexcept { return {values_, count_ * value_bytes_}; }

 private:
  friend struct detail::batch_access;
  friend class owned_batch;

  // count elements at keys and values, which hold at least that many (the
  // library checks it where it makes a batch).
  batch(const std::byte* keys, const std::byte* values, std::size_t count, std::uint32_t key_size,
        std::uint32_t value_size, std::size_t stride, std::uint32_t copies) noexcept
      : keys_(keys),
        values_(values),
        count_(count),
        value_bytes_(stride * copies),
        stride_(stride),
        key_size_(key_size),
        value_size_(value_size),
        copies_(copies) {}

  template <class T>
  static std::optional<T> copy_as(std::span<const std::byte> bytes) noexcept {
    static_assert(std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>);
    if (bytes.size() != sizeof(T) || bytes.empty()) return std::nullopt;
    T out;
    std::memcpy(&out, bytes.data(), sizeof(T));
    return out;
  }

  const std::byte* keys_;
  const std::byte* values_;
  std::size_t count_;
  std::size_t value_bytes_;  // one element's value: stride_ * copies_
  std::size_t stride_;       // between two CPUs' values of one element
  std::uint32_t key_size_;
  std::uint32_t value_size_;
  std::uint32_t copies_;
};

// A batch copied into memory of its own, for a caller that keeps it past the
// generator's next step. Move-only; view() and every span taken from it stay
// valid while this object, or the one it was moved to, lives. A moved-from
// owned_batch is empty.
class BPFBATCH_API owned_batch {
 public:
  // ENOMEM when the memory cannot be allocated.
  static result<owned_batch> copy_of(const batch& b) noexcept;

  owned_batch(owned_batch&& other) noexcept;
  owned_batch& operator=(owned_batch&& other) noexcept;
  owned_batch(const owned_batch&) = delete;
  owned_batch& operator=(const owned_batch&) = delete;
  ~owned_batch() = default;

  std::size_t size() const noexcept { return view_.count_; }
  // The copy, with the same accessors as the batch it was copied from.
  const batch& view() const noexcept { return view_; }

 private:
  owned_batch(std::unique_ptr<std::byte[]> memory, const batch& from) noexcept;

  std::unique_ptr<std::byte[]> memory_;
  batch view_;  // into memory_, which a move hands over without moving the bytes
};

}  // namespace bpfbatch
