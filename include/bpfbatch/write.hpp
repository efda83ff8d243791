// update_batch and delete_batch: change many elements with few kernel calls,
// and always know how many were changed.
#pragma once

#include <bpfbatch/config.hpp>

#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ranges>
#include <span>
#include <system_error>
#include <type_traits>

#include <bpfbatch/batch_options.hpp>
#include <bpfbatch/command.hpp>
#include <bpfbatch/error.hpp>
#include <bpfbatch/map.hpp>

namespace bpfbatch {

// What an update or delete did: `applied` elements were updated or deleted
// (the first `applied` of the input, in order) also when it stopped on an
// error part-way, as the kernel's count says.
struct [[nodiscard]] write_result {
  std::size_t applied = 0;
  // delete_batch with skip_missing: keys that were not in the map.
  std::size_t missing = 0;
  // The error that stopped it (empty on success) and the command that failed.
  std::error_code error;
  command failed_command = command::none;

  explicit operator bool() const noexcept { return !error; }
};

// BPF_ANY, BPF_NOEXIST, BPF_EXIST. The kernel's update batch refuses the last
// two (EINVAL), so under iteration::automatic they are applied element by
// element with BPF_MAP_UPDATE_ELEM, stopping at the first key that exists
// (EEXIST) or is missing (ENOENT), with the exact count; iteration::batch
// refuses them (EINVAL, before any call) rather than go element by element.
enum class update_mode { any, only_new, only_existing };

struct update_options {
  // Elements per kernel call; 0 = default_batch_size(map info).
  std::uint32_t batch_size = 0;
  // 0 or BPF_F_LOCK (values with a bpf_spin_lock: the kernel copies under it).
  std::uint64_t elem_flags = 0;
  update_mode mode = update_mode::any;
  // automatic: BPF_MAP_UPDATE_BATCH, or BPF_MAP_UPDATE_ELEM one by one where
  // the kernel or map type lacks it; batch: no fallback; key_walk: always
  // element by element.
  iteration method = iteration::automatic;
};

struct delete_options {
  std::uint32_t batch_size = 0;
  std::uint64_t elem_flags = 0;
  // The kernel stops at the first key that is not in the map (ENOENT). With
  // skip_missing, such keys are counted in write_result::missing and the rest
  // are still deleted.
  bool skip_missing = false;
  iteration method = iteration::automatic;
};

// keys: n keys of info().key_size bytes, packed. values: n values of
// info().value_bytes() bytes (per-CPU maps: every CPU's value, each padded to
// 8 bytes; maps of maps: the inner maps' descriptors as 4-byte ints). Sizes
// that do not fit the map give EINVAL before any call.
//
// Key-less maps (queue, stack, bloom filter) take no keys: pass an empty
// `keys` and n values, which update_batch pushes one by one
// (BPF_MAP_UPDATE_ELEM with no key; update_mode::any only: a full queue or
// stack stops it with E2BIG). delete_batch cannot remove from them (EINVAL).
//
// An error found before any call (sizes, modes, a map type that cannot do
// it) names command::none.
BPFBATCH_API write_result update_batch(const map& m, std::span<const std::byte> keys,
                                       std::span<const std::byte> values,
                                       update_options options = {}) noexcept;
BPFBATCH_API write_result delete_batch(const map& m, std::span<const std::byte> keys,
                                       delete_options options = {}) noexcept;

namespace detail {
// Element types taken as raw bytes, however many make one key or value: a
// std::string or std::vector<std::uint8_t> holds packed keys, not one key per
// byte.
template <class T>
concept byte_like = std::same_as<T, std::byte> || std::same_as<T, char> || std::same_as<T, signed char> ||
    std::same_as<T, unsigned char> || std::same_as<T, char8_t>;

template <class R>
concept element_range = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
    std::is_trivially_copyable_v<std::ranges::range_value_t<R>>;

template <class R>
std::span<const std::byte> element_bytes(const R& range) noexcept {
  return std::as_bytes(std::span(std::ranges::data(range), std::ranges::size(range)));
}

// Whether the range's elements can be the map's keys or values of `size`
// bytes: raw bytes (checked later as a whole), an empty range, or elements
// of exactly that size.
template <class R>
bool elements_fit(const R& range, std::uint64_t size) noexcept {
  using element = std::remove_cv_t<std::ranges::range_value_t<R>>;
  return byte_like<element> || std::ranges::size(range) == 0 || sizeof(element) == size;
}

// Values may also be one element per CPU (a flat std::vector<std::uint64_t>
// of n * CPUs counters for a per-CPU map of u64 values).
template <class R>
bool values_fit(const R& range, const map_info& info) noexcept {
  using element = std::remove_cv_t<std::ranges::range_value_t<R>>;
  return elements_fit(range, info.value_bytes()) ||
         (info.per_cpu_values() && sizeof(element) == info.per_cpu_stride());
}
}  // namespace detail

// Typed forms: contiguous ranges of keys and of values, each element exactly
// key_size (value_bytes()) bytes, or EINVAL; for per-CPU maps a value range
// may also hold one element per CPU (its size the padded per-CPU stride),
// n * CPUs in all; ranges of bytes (std::byte, char, unsigned char,
// std::uint8_t: a std::string, a std::vector<std::uint8_t>) hold the packed
// bytes as above.
template <detail::element_range Keys, detail::element_range Values>
write_result update_batch(const map& m, const Keys& keys, const Values& values,
                          update_options options = {}) noexcept {
  if (!detail::elements_fit(keys, m.info().key_size) || !detail::values_fit(values, m.info()))
    return {0, 0, make_error(EINVAL), command::none};
  return update_batch(m, detail::element_bytes(keys), detail::element_bytes(values), options);
}

template <detail::element_range Keys>
write_result delete_batch(const map& m, const Keys& keys, delete_options options = {}) noexcept {
  if (!detail::elements_fit(keys, m.info().key_size)) return {0, 0, make_error(EINVAL), command::none};
  return delete_batch(m, detail::element_bytes(keys), options);
}

}  // namespace bpfbatch
