// Memory that ends exactly at a PROT_NONE page (or starts right after one),
// so that a kernel write or read one byte past a buffer faults (EFAULT)
// instead of corrupting the neighbouring memory silently.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <span>

namespace support {

class guarded_buffer {
 public:
  enum class guard { after, before };

  guarded_buffer(std::size_t size, guard where) : size_(size) {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t data_pages = (size + page - 1) / page;
    mapping_size_ = (data_pages + 1) * page;
    void* m = ::mmap(nullptr, mapping_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    mapping_ = static_cast<std::byte*>(m);
    if (where == guard::after) {
      // [data pages][guard]: the buffer's last byte is the byte before the guard.
      ::mprotect(mapping_ + data_pages * page, page, PROT_NONE);
      data_ = mapping_ + data_pages * page - size;
    } else {
      // [guard][data pages]: the buffer starts right after the guard.
      ::mprotect(mapping_, page, PROT_NONE);
      data_ = mapping_ + page;
    }
  }
  guarded_buffer(const guarded_buffer&) = delete;
  guarded_buffer& operator=(const guarded_buffer&) = delete;
  ~guarded_buffer() {
    if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
  }

  bool ok() const { return mapping_ != nullptr; }
  std::span<std::byte> span() const { return {data_, size_}; }
  std::byte* data() const { return data_; }

 private:
  std::size_t size_;
  std::size_t mapping_size_ = 0;
  std::byte* mapping_ = nullptr;
  std::byte* data_ = nullptr;
};

}  // namespace support
