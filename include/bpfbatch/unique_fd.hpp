// unique_fd: the move-only owner of one file descriptor.
#pragma once

#include <bpfbatch/config.hpp>

#include <utility>

namespace bpfbatch {

class BPFBATCH_API unique_fd {
 public:
  unique_fd() noexcept = default;
  // Takes ownership of fd (a negative fd means "none").
  explicit unique_fd(int fd) noexcept : fd_(fd < 0 ? -1 : fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

  // Gives up ownership without closing; the object is left empty.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  // Closes the descriptor held, if any, and takes ownership of fd.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

}  // namespace bpfbatch
