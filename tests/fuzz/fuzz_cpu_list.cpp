// libFuzzer target: parse_cpu_list() on any bytes. It must never crash,
// read out of bounds or hang, and whatever it accepts must count the CPUs the
// text lists, checked here against a slow parser written independently.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <bpfbatch/possible_cpus.hpp>

namespace {

// "a" or "a-b" items separated by commas, an optional final newline.
bool reference_count(std::string_view text, std::uint64_t& count) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  count = 0;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    std::string_view item =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    std::size_t dash = item.find('-');
    auto number = [](std::string_view digits, std::uint64_t& out) {
      if (digits.empty() || digits.size() > 10) return false;
      out = 0;
      for (char c : digits) {
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<std::uint64_t>(c - '0');
      }
      return out <= UINT32_MAX;
    };
    std::uint64_t first = 0, last = 0;
    if (!number(item.substr(0, dash), first)) return false;
    last = first;
    if (dash != std::string_view::npos && (!number(item.substr(dash + 1), last) || last < first))
      return false;
    count += last - first + 1;
    if (comma == std::string_view::npos) return count <= UINT32_MAX;
    start = comma + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = bpfbatch::parse_cpu_list(text);
  std::uint64_t expected = 0;
  const bool valid = reference_count(text, expected);
  // Leading zeros make numbers longer than 10 digits that the reference
  // rejects and from_chars accepts; both readings are fine, so compare only
  // where the reference has an opinion about a well-formed text.
  if (valid && (!parsed || *parsed != expected)) std::abort();
  if (parsed && *parsed == 0) std::abort();
  return 0;
}
