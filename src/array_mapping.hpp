// Internal: the values of an array made with BPF_F_MMAPABLE, mapped read-only
// so that they can be read without a bpf(2) call per batch.
#pragma once

#include <cstddef>
#include <cstdint>

#include <bpfbatch/map_info.hpp>

namespace bpfbatch::detail {

class array_mapping {
 public:
  // Maps every value read-only (MAP_SHARED, as bpf_map_mmap requires). An
  // empty mapping, without a system call, when the map is not such an array
  // (a plain ARRAY with BPF_F_MMAPABLE, 5.5 on; per-CPU arrays cannot be
  // mapped: array_map_alloc_check refuses them), and when mmap refuses: a
  // descriptor opened without read rights (EACCES), a value with a spin
  // lock, timer or kptr (bpf_map_mmap: 524).
  static array_mapping open(int fd, const map_info& info) noexcept;

  array_mapping() noexcept = default;
  array_mapping(array_mapping&& other) noexcept;
  array_mapping& operator=(array_mapping&& other) noexcept;
  array_mapping(const array_mapping&) = delete;
  array_mapping& operator=(const array_mapping&) = delete;
  ~array_mapping();

  explicit operator bool() const noexcept { return base_ != nullptr; }

  // Copies elements first .. first + count - 1 as LOOKUP_BATCH would write
  // them: keys are the u32 indexes, values packed value_size bytes apart.
  void copy(std::uint32_t first, std::uint32_t count, std::byte* keys, std::byte* values) const noexcept;

 private:
  void unmap() noexcept;

  const std::byte* base_ = nullptr;
  std::size_t length_ = 0;
  std::size_t slot_ = 0;  // the kernel's elem_size: round_up(value_size, 8)
  std::uint32_t value_size_ = 0;
};

}  // namespace bpfbatch::detail
