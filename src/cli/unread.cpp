#include "unread.hpp"

#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cstring>

namespace bpfbatch::cli {

unread_entries::unread_entries(int fd, const map_info& info)
    : fd_(fd),
      key_size_(info.key_size),
      value_size_(static_cast<std::size_t>(info.value_bytes())),
      record_size_(sizeof(std::uint64_t) + key_size_ + value_size_) {
  struct stat st {};
  pipe_ = ::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

void unread_entries::add(std::uint64_t end, std::span<const std::byte> key,
                         std::span<const std::byte> value) {
  // Grows to the most entries ever unread at once, then stays: no
  // allocation per batch once a drain is under way.
  const std::size_t at = records_.size();
  records_.resize(at + record_size_);
  std::memcpy(records_.data() + at, &end, sizeof(end));
  if (!key.empty()) std::memcpy(records_.data() + at + sizeof(end), key.data(), key_size_);
  if (!value.empty()) std::memcpy(records_.data() + at + sizeof(end) + key_size_, value.data(), value_size_);
}

std::uint64_t unread_entries::unread_bytes() const noexcept {
  int unread = 0;
  if (!pipe_ || ::ioctl(fd_, FIONREAD, &unread) != 0 || unread < 0) return 0;
  return static_cast<std::uint64_t>(unread);
}

std::uint64_t unread_entries::read_up_to(std::uint64_t written) const noexcept {
  const std::uint64_t unread = unread_bytes();
  return unread < written ? written - unread : 0;
}

void unread_entries::forget_read(std::uint64_t written) noexcept {
  const std::uint64_t read = read_up_to(written);
  while (first_ < records_.size()) {
    std::uint64_t end;
    std::memcpy(&end, records_.data() + first_, sizeof(end));
    if (end > read) break;
    first_ += record_size_;
  }
  // Keep the records at the front once the forgotten part is the larger.
  if (first_ * 2 >= records_.size()) {
    records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(first_));
    first_ = 0;
  }
}

}  // namespace bpfbatch::cli
