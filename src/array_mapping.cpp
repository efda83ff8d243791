#include "array_mapping.hpp"

#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "sizes.hpp"

namespace bpfbatch::detail {

array_mapping array_mapping::open(int fd, const map_info& info) noexcept {
  array_mapping mapping;
  // array_map_alloc_check: array keys are always a u32 index.
  const bool mappable = info.type == map_type::array && (info.map_flags & BPF_F_MMAPABLE) != 0 &&
                        info.key_size == 4 && info.value_size > 0 && info.max_entries > 0;
  if (!mappable) return mapping;
  // array_map_mmap maps the values from offset 0, element i at
  // i * elem_size, and refuses a length beyond
  // PAGE_ALIGN(max_entries * elem_size).
  const std::uint64_t slot = (std::uint64_t{info.value_size} + 7) & ~std::uint64_t{7};
  const long page = ::sysconf(_SC_PAGESIZE);
  if (page <= 0) return mapping;
  // An array that does not fit the address space (a 32-bit process) is
  // read by the batch commands instead.
  const std::uint64_t length = mapped_length(info.max_entries, slot, static_cast<std::uint64_t>(page));
  if (length == 0) return mapping;
  void* address = ::mmap(nullptr, static_cast<std::size_t>(length), PROT_READ, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) return mapping;
  mapping.base_ = static_cast<const std::byte*>(address);
  mapping.length_ = static_cast<std::size_t>(length);
  mapping.slot_ = static_cast<std::size_t>(slot);
  mapping.value_size_ = info.value_size;
  return mapping;
}

array_mapping::array_mapping(array_mapping&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      length_(other.length_),
      slot_(other.slot_),
      value_size_(other.value_size_) {}

array_mapping& array_mapping::operator=(array_mapping&& other) noexcept {
  if (this != &other) {
    unmap();
    base_ = std::exchange(other.base_, nullptr);
    length_ = other.length_;
    slot_ = other.slot_;
    value_size_ = other.value_size_;
  }
  return *this;
}

array_mapping::~array_mapping() { unmap(); }

void array_mapping::unmap() noexcept {
  if (base_ != nullptr) ::munmap(const_cast<std::byte*>(base_), length_);
  base_ = nullptr;
}

void array_mapping::copy(std::uint32_t first, std::uint32_t count, std::byte* keys,
                         std::byte* values) const noexcept {
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint32_t index = first + i;
    std::memcpy(keys + std::size_t{i} * sizeof(index), &index, sizeof(index));
  }
  // The values are copied out, not handed over in place: BPF programs write
  // the mapping at any time, and a batch must hold still while the caller
  // reads it, as one copied by LOOKUP_BATCH does. Like the kernel's own copy
  // (copy_map_value), this is not atomic per value.
  const std::byte* from = base_ + std::size_t{first} * slot_;
  if (slot_ == value_size_) {
    std::memcpy(values, from, std::size_t{count} * slot_);
    return;
  }
  for (std::uint32_t i = 0; i < count; ++i)
    std::memcpy(values + std::size_t{i} * value_size_, from + std::size_t{i} * slot_, value_size_);
}

}  // namespace bpfbatch::detail
