#include <bpfbatch/possible_cpus.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <string>

#include <bpfbatch/error.hpp>

namespace bpfbatch {

namespace {

// A CPU number as the kernel prints it: decimal digits only.
bool parse_cpu(const char*& cursor, const char* end, std::uint32_t& cpu) noexcept {
  if (cursor == end || *cursor < '0' || *cursor > '9') return false;
  auto [next, ec] = std::from_chars(cursor, end, cpu);
  if (ec != std::errc()) return false;
  cursor = next;
  return true;
}

}  // namespace

result<std::uint32_t> parse_cpu_list(std::string_view text) noexcept {
  // The kernel ends the file with one newline (cpumap_print_to_pagebuf).
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  const char* cursor = text.data();
  const char* end = text.data() + text.size();
  std::uint64_t total = 0;
  while (true) {
    std::uint32_t first = 0;
    std::uint32_t last = 0;
    if (!parse_cpu(cursor, end, first)) return make_error(EINVAL);
    last = first;
    if (cursor != end && *cursor == '-') {
      ++cursor;
      if (!parse_cpu(cursor, end, last) || last < first) return make_error(EINVAL);
    }
    total += std::uint64_t{last} - first + 1;
    if (total > UINT32_MAX) return make_error(EOVERFLOW);
    if (cursor == end) break;
    if (*cursor != ',') return make_error(EINVAL);
    ++cursor;
  }
  return static_cast<std::uint32_t>(total);
}

namespace {

constexpr char possible_cpus_path[] = "/sys/devices/system/cpu/possible";

result<std::uint32_t> read_possible_cpus() noexcept {
  int fd = ::open(possible_cpus_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(errno);
  char text[4096];
  std::size_t length = 0;
  while (length < sizeof(text)) {
    ssize_t n = ::read(fd, text + length, sizeof(text) - length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return make_error(err);
    }
    if (n == 0) break;
    length += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (length == sizeof(text)) return make_error(EOVERFLOW);
  return parse_cpu_list(std::string_view(text, length));
}

class possible_cpus_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "possible CPUs"; }
  std::string message(int value) const override {
    return std::string(possible_cpus_path) + ": " + std::generic_category().message(value);
  }
  std::error_condition default_error_condition(int value) const noexcept override {
    return {value, std::generic_category()};
  }
};

// 0 until the file has been read successfully once; the count never changes
// while the system runs, so racing first readers store the same value.
std::atomic<std::uint32_t> cached_count{0};

}  // namespace

const std::error_category& possible_cpus_category() noexcept {
  static const possible_cpus_error_category category;
  return category;
}

result<std::uint32_t> possible_cpus() noexcept {
  if (std::uint32_t count = cached_count.load(std::memory_order_relaxed)) return count;
  auto count = read_possible_cpus();
  if (!count) return std::error_code(count.error().value(), possible_cpus_category());
  cached_count.store(*count, std::memory_order_relaxed);
  return count;
}

}  // namespace bpfbatch
