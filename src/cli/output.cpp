#include "output.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "signals.hpp"

namespace bpfbatch::cli {

namespace {

// Divides by 10 in 32-bit steps (no 128-bit type to lean on) and returns the
// remainder: each step's dividend is below 10 * 2^32, so it fits 64 bits.
unsigned divide_by_10(wide_sum& value) noexcept {
  std::uint64_t remainder = value.high % 10;
  value.high /= 10;
  const std::uint64_t upper = (remainder << 32) | (value.low >> 32);
  remainder = upper % 10;
  const std::uint64_t lower = (remainder << 32) | (value.low & 0xffffffff);
  value.low = ((upper / 10) << 32) | (lower / 10);
  return static_cast<unsigned>(lower % 10);
}

}  // namespace

void output::reserve(std::size_t n) noexcept {
  if (length_ + n > sizeof(buffer_)) (void)flush();
}

output& output::put(std::string_view text) noexcept {
  if (indenting_) {
    indent(text);
    return *this;
  }
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
  if (indenting_) {
    indent_char(c);
    return *this;
  }
  reserve(1);
  buffer_[length_++] = c;
  return *this;
}

output& output::number(std::uint64_t value) noexcept {
  if (indenting_) {
    char digits[20];
    auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), value);
    (void)ec;
    return put(std::string_view(digits, static_cast<std::size_t>(end - digits)));
  }
  reserve(20);
  auto [end, ec] = std::to_chars(buffer_ + length_, buffer_ + sizeof(buffer_), value);
  (void)ec;  // 20 digits always fit
  length_ = static_cast<std::size_t>(end - buffer_);
  return *this;
}

output& output::number(wide_sum value) noexcept {
  if (value.high == 0) return number(value.low);
  char digits[40];
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + divide_by_10(value));
  } while (value.high != 0 || value.low != 0);
  while (n > 0) put(digits[--n]);
  return *this;
}

output& output::hex_byte(std::byte b) noexcept {
  static constexpr char digits[] = "0123456789abcdef";
  const char two[] = {digits[std::to_integer<unsigned>(b) >> 4], digits[std::to_integer<unsigned>(b) & 0xf]};
  if (indenting_) return put(std::string_view(two, 2));
  reserve(2);  // straight into the buffer: a plain dump prints every byte here
  buffer_[length_++] = two[0];
  buffer_[length_++] = two[1];
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
  // At most 7 characters a byte (,"0xhh") and the brackets: written straight
  // into the buffer after one reserve (flush() always empties it), since a
  // dump -j spends most of its time here; only a value larger than the
  // buffer takes the path below.
  if (!indenting_ && bytes.size() < (sizeof(buffer_) - 2) / 7) {
    static constexpr char digits[] = "0123456789abcdef";
    reserve(bytes.size() * 7 + 2);
    char* at = buffer_ + length_;
    *at++ = '[';
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      if (i > 0) *at++ = ',';
      const auto b = std::to_integer<unsigned>(bytes[i]);
      at[0] = '"';
      at[1] = '0';
      at[2] = 'x';
      at[3] = digits[b >> 4];
      at[4] = digits[b & 0xf];
      at[5] = '"';
      at += 6;
    }
    *at++ = ']';
    length_ = static_cast<std::size_t>(at - buffer_);
    return *this;
  }
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

void output::indent(std::string_view text) noexcept {
  for (char c : text) indent_char(c);
}

// json_writer's jsonw_eor: a comma before any value but the first.
void output::separate() noexcept {
  if (json_.separator) raw(',');
  json_.separator = true;
}

// jsonw_eol with pretty set: four spaces a level.
void output::new_line() noexcept {
  raw('\n');
  for (std::uint32_t i = 0; i < json_.depth * 4; ++i) raw(' ');
}

void output::indent_char(char c) noexcept {
  json_state& j = json_;
  if (j.in_string) {
    raw(c);
    if (j.escape)
      j.escape = false;
    else if (c == '\\')
      j.escape = true;
    else if (c == '"')
      j.in_string = false;
    return;
  }
  const bool scalar_char = c != '{' && c != '[' && c != '}' && c != ']' && c != ',' && c != ':' && c != '"' &&
                           c != ' ' && c != '\n' && c != '\t' && c != '\r';
  if (scalar_char) {  // a number, true, false or null: jsonw_printf
    if (!j.in_scalar) separate();
    j.in_scalar = true;
    raw(c);
    return;
  }
  j.in_scalar = false;
  switch (c) {
    case '{':
    case '[':  // jsonw_begin
      separate();
      raw(c);
      if (j.depth < 64) {
        const std::uint64_t bit = std::uint64_t{1} << j.depth;
        j.objects = c == '{' ? j.objects | bit : j.objects & ~bit;
      }
      ++j.depth;
      j.separator = false;
      j.expecting_name = c == '{';
      return;
    case '}':
    case ']':  // jsonw_end
      if (j.depth > 0) --j.depth;
      if (j.separator) new_line();
      raw(c);
      j.separator = true;
      j.expecting_name = false;
      return;
    case ',':
      j.expecting_name = in_object();
      return;
    case ':':
      raw(':');
      raw(' ');
      return;
    case '"':
      separate();
      if (j.expecting_name) {  // jsonw_name
        new_line();
        j.separator = false;
        j.expecting_name = false;
      }
      j.in_string = true;
      raw('"');
      return;
    case '\n':  // the end of a document, as jsonw_destroy ends it
      if (j.depth == 0) {
        raw('\n');
        j.separator = false;
      }
      return;
    default:
      return;
  }
}

void output::stop_on_signals() noexcept {
  interruptible_ = true;
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) return;
  if (S_ISFIFO(st.st_mode)) {
    kind_ = kind::pipe;
  } else if (S_ISSOCK(st.st_mode)) {
    kind_ = kind::socket;
  } else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
    kind_ = kind::plain;
  } else {
    kind_ = kind::device;  // a terminal, or another character device
  }
}

// One write(2), retried on EINTR, waiting with poll(2) where a non-blocking
// descriptor says EAGAIN.
int output::write_some(const char* data, std::size_t size, std::size_t& done) noexcept {
  while (true) {
    const ssize_t n = ::write(fd_, data, size);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    pollfd ready{fd_, POLLOUT, 0};
    if (::poll(&ready, 1, -1) < 0 && errno != EINTR) return errno;
  }
}

// Waits for room with the stop signals open, then writes what fits without
// blocking; the stop signals are blocked meanwhile (signals.hpp), so one that
// comes after a check is noticed by the next wait, never lost in a write
// that blocks. EINTR once a stop signal came and the descriptor has no room.
int output::write_waiting_for_room(const char* data, std::size_t size, std::size_t& done) noexcept {
  static const timespec no_wait{};
  while (true) {
    // Asked to stop: what a pipe or socket takes at once still goes out, but
    // the tool waits no more; a terminal, whose write can wait whatever poll
    // said, gets nothing more.
    const bool stopping = stop_signal() != 0;
    if (stopping && kind_ == kind::device) return EINTR;
    pollfd ready{fd_, POLLOUT, 0};
    const int ready_count = ::ppoll(&ready, 1, stopping ? &no_wait : nullptr, wait_mask());
    if (ready_count == 0) return EINTR;
    if (ready_count < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    const ssize_t n = write_without_waiting(data, size);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      return 0;
    }
    if (n == 0) return EIO;  // no descriptor this tool writes takes nothing without an error
    // Nothing taken (EAGAIN, or a signal): wait again, unless asked to stop.
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return errno;
    if (stopping || stop_signal() != 0) return EINTR;
  }
}

// What a pipe that polled writable takes without waiting. pipe_write()
// waits only when every slot (a page each) is taken, and every taken slot
// holds a byte at least (pipe_read() frees an empty one), so at least
// slots - min(slots, unread bytes) are free; POLLOUT said one is. A write
// of that many pages takes no more slots than that.
std::size_t output::pipe_room() const noexcept {
  const long page = ::sysconf(_SC_PAGESIZE);
  const std::size_t page_size = page > 0 ? static_cast<std::size_t>(page) : 4096;
  const int pipe_size = ::fcntl(fd_, F_GETPIPE_SZ);  // asked each time: the reader may shrink it
  int unread = 0;
  if (pipe_size <= 0 || ::ioctl(fd_, FIONREAD, &unread) != 0 || unread < 0) return page_size;
  const std::size_t slots = static_cast<std::size_t>(pipe_size) / page_size;
  const std::size_t taken = std::min(slots, static_cast<std::size_t>(unread));
  return std::max<std::size_t>(1, slots - taken) * page_size;
}

// One write that cannot block for good while the stop signals are blocked.
// A pipe gets what it has room for (pipe_room). A socket is told not to
// wait. A file never waits for long. A terminal can (flow control, a reader
// that does not read), and has no way to say how much it takes: the stop
// signals are let in around that write, which they then interrupt.
ssize_t output::write_without_waiting(const char* data, std::size_t size) noexcept {
  switch (kind_) {
    case kind::pipe:
      return ::write(fd_, data, std::min(size, pipe_room()));
    case kind::socket:
      return ::send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    case kind::plain:
      return ::write(fd_, data, size);
    case kind::device:
      break;
  }
  const sigset_t* open = wait_mask();
  sigset_t blocked;
  if (open == nullptr || ::sigprocmask(SIG_SETMASK, open, &blocked) != 0) return ::write(fd_, data, size);
  const ssize_t n = stop_signal() != 0 ? (errno = EINTR, -1) : ::write(fd_, data, size);
  const int saved = errno;
  ::sigprocmask(SIG_SETMASK, &blocked, nullptr);
  errno = saved;
  return n;
}

int output::flush() noexcept {
  if (fd_ < 0 || error_ != 0) {  // measuring, or already failed: the bytes go nowhere
    if (fd_ < 0) written_ += length_;
    length_ = 0;
    return error_;
  }
  if (fd_ == 1 && length_ > 0) stdout_used_ = true;
  std::size_t done = 0;
  while (done < length_) {
    const std::size_t before = done;
    const int err = interruptible_ ? write_waiting_for_room(buffer_ + done, length_ - done, done)
                                   : write_some(buffer_ + done, length_ - done, done);
    written_ += done - before;
    if (err != 0) {
      error_ = err;
      break;
    }
  }
  length_ = 0;
  return error_;
}

}  // namespace bpfbatch::cli
