#include "output.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "signals.hpp"

namespace bpfbatch::cli {

void output::reserve(std::size_t n) noexcept {
  if (length_ + n > sizeof(buffer_)) (void)flush();
}

output& output::put(std::string_view text) noexcept {
  while (!text.empty()) {
    reserve(1);
    std::size_t n = std::min(text.size(), sizeof(buffer_) - length_);
    std::memcpy(buffer_ + length_, text.data(), n);
    length_ += n;
    text.remove_prefix(n);
  }
  return *this;
}

output& output::put(char c) noexcept {
  reserve(1);
  buffer_[length_++] = c;
  return *this;
}

output& output::number(std::uint64_t value) noexcept {
  reserve(20);
  auto [end, ec] = std::to_chars(buffer_ + length_, buffer_ + sizeof(buffer_), value);
  (void)ec;  // 20 digits always fit
  length_ = static_cast<std::size_t>(end - buffer_);
  return *this;
}

output& output::number(wide_sum value) noexcept {
  char digits[40];
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + static_cast<int>(value % 10));
    value /= 10;
  } while (value != 0);
  reserve(n);
  while (n > 0) buffer_[length_++] = digits[--n];
  return *this;
}

output& output::hex_byte(std::byte b) noexcept {
  static constexpr char digits[] = "0123456789abcdef";
  reserve(2);
  buffer_[length_++] = digits[std::to_integer<unsigned>(b) >> 4];
  buffer_[length_++] = digits[std::to_integer<unsigned>(b) & 0xf];
  return *this;
}

output& output::hex_bytes(std::span<const std::byte> bytes) noexcept {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) put(i % 16 == 0 ? "\n" : i % 8 == 0 ? "  " : " ");
    hex_byte(bytes[i]);
  }
  return *this;
}

output& output::json_bytes(std::span<const std::byte> bytes) noexcept {
  put('[');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) put(',');
    put("\"0x");
    hex_byte(bytes[i]);
    put('"');
  }
  return put(']');
}

output& output::json_string(std::string_view text) noexcept {
  put('"');
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      put('\\').put(c);
    } else if (u < 0x20) {
      put("\\u00").hex_byte(static_cast<std::byte>(u));
    } else {
      put(c);
    }
  }
  return put('"');
}

int output::flush() noexcept {
  if (fd_ < 0 || error_ != 0) {  // measuring, or already failed: the bytes go nowhere
    if (fd_ < 0) written_ += length_;
    length_ = 0;
    return error_;
  }
  std::size_t done = 0;
  while (done < length_) {
    const ssize_t n = ::write(fd_, buffer_ + done, length_ - done);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      written_ += static_cast<std::uint64_t>(n);
      continue;
    }
    int err = errno;
    // A reader's non-blocking pipe (as Node's child_process gives) is not an
    // error: wait until it can take more.
    if (err == EAGAIN || err == EWOULDBLOCK) {
      pollfd ready{fd_, POLLOUT, 0};
      if (::poll(&ready, 1, -1) >= 0) continue;
      err = errno;
    }
    // A signal interrupted a blocked write: go on, unless it asked us to stop.
    if (err == EINTR && stop_signal() == 0) continue;
    error_ = err;
    break;
  }
  length_ = 0;
  return error_;
}

}  // namespace bpfbatch::cli
