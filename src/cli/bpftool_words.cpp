#include "bpftool_words.hpp"

#include <linux/bpf.h>

#include <charconv>
#include <cstring>

#include "arguments.hpp"

namespace bpfbatch::cli {

namespace {

bool is_keyword(std::string_view word) noexcept {
  for (std::string_view keyword : {"key", "value", "any", "exist", "noexist"})
    if (is_prefix(word, keyword)) return true;
  return false;
}

// The bytes after `key` or `value` (and an optional `hex`) from words[at]:
// exactly count of them as bpftool takes them. Advances at past them.
bool read_bytes(std::span<const std::string_view> words, std::size_t& at, std::size_t count, bool& hex,
                std::string_view name, std::byte* out, std::string& error) {
  hex = at < words.size() && is_prefix(words[at], "hex");
  if (hex) ++at;
  std::size_t got = 0;
  for (; got < count && at < words.size(); ++got, ++at) {
    const auto byte = parse_byte(words[at], hex);
    if (!byte) {
      error = joined({"error parsing byte: ", escaped(words[at]), " (a byte is 0 to 255",
                      hex ? ", in hexadecimal after hex)" : ": 12, 0x0c or 014)"});
      return false;
    }
    out[got] = *byte;
  }
  if (got != count) {
    error = joined({name, " expected ", std::to_string(count), " bytes got ", std::to_string(got)});
    return false;
  }
  return true;
}

// How many byte words follow words[at], up to the next keyword.
std::size_t bytes_ahead(std::span<const std::string_view> words, std::size_t at, bool hex) noexcept {
  std::size_t n = 0;
  while (at + n < words.size() && !is_keyword(words[at + n]) && parse_byte(words[at + n], hex)) ++n;
  return n;
}

// Whether the first count words are all bytes.
bool all_bytes(std::span<const std::string_view> words, std::size_t count, bool hex) noexcept {
  if (words.size() < count) return false;
  for (std::size_t i = 0; i < count; ++i)
    if (!parse_byte(words[i], hex)) return false;
  return true;
}

// `value ...`: one CPU's value, then for per-CPU maps either nothing more
// (every CPU gets it: fill_per_cpu_value in bpftool) or the value of each
// other possible CPU.
bool read_value(std::span<const std::string_view> words, std::size_t& at, const map_info& info,
                element_words& out) {
  out.value.assign(static_cast<std::size_t>(info.value_bytes()), std::byte{0});
  bool hex = false;
  if (!read_bytes(words, at, info.value_size, hex, "value", out.value.data(), out.error)) return false;
  if (!info.per_cpu_values() || info.value_copies < 2) return true;
  const auto stride = static_cast<std::size_t>(info.per_cpu_stride());
  const std::size_t each_cpu = std::size_t{info.value_copies - 1} * info.value_size;
  std::size_t more = bytes_ahead(words, at, hex);
  // A hex byte can spell a flag (a: any, e: exist): where every other CPU's
  // bytes follow, they are bytes, whatever they spell.
  if (more < each_cpu && all_bytes(words.subspan(at), each_cpu, hex)) more = each_cpu;
  if (more == 0) {
    for (std::uint32_t cpu = 1; cpu < info.value_copies; ++cpu)
      std::memcpy(out.value.data() + cpu * stride, out.value.data(), info.value_size);
    return true;
  }
  if (more != each_cpu) {
    out.error = joined({"value of a per-CPU map: ", std::to_string(info.value_size),
                        " bytes for every CPU, or ", std::to_string(each_cpu + info.value_size),
                        " (one value for each of the ", std::to_string(info.value_copies),
                        " possible CPUs); got ", std::to_string(more + info.value_size)});
    return false;
  }
  for (std::uint32_t cpu = 1; cpu < info.value_copies; ++cpu)
    for (std::size_t i = 0; i < info.value_size; ++i, ++at)
      out.value[cpu * stride + i] = *parse_byte(words[at], hex);
  return true;
}

// A map of maps' `value MAP`: two words, as bpftool's map_parse_fd reads them.
bool read_value_map(std::span<const std::string_view> words, std::size_t& at, element_words& out) {
  if (at + 1 >= words.size() || (words[at] != "id" && words[at] != "pinned" && words[at] != "name")) {
    out.error = "the value of a map of maps is a MAP: id N, pinned PATH or name NAME";
    return false;
  }
  out.value_map_kind = words[at];
  out.value_map_ref = words[at + 1];
  out.value.assign(4, std::byte{0});
  at += 2;
  return true;
}

}  // namespace

std::string joined(std::initializer_list<std::string_view> parts) {
  std::string text;
  for (std::string_view part : parts) text += part;
  return text;
}

bool is_prefix(std::string_view word, std::string_view keyword) noexcept {
  return !word.empty() && keyword.starts_with(word);
}

std::optional<std::uint32_t> parse_number(std::string_view word, bool hex) noexcept {
  int base = hex ? 16 : 10;
  if (word.size() > 2 && word[0] == '0' && (word[1] == 'x' || word[1] == 'X')) {
    word.remove_prefix(2);
    base = 16;
  } else if (!hex && word.size() > 1 && word[0] == '0') {
    base = 8;  // strtoul's base 0, which bpftool uses
  }
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value, base);
  if (word.empty() || ec != std::errc() || end != word.data() + word.size()) return std::nullopt;
  return value;
}

std::optional<std::byte> parse_byte(std::string_view word, bool hex) noexcept {
  const auto value = parse_number(word, hex);
  if (!value || *value > 0xff) return std::nullopt;
  return std::byte(*value);
}

element_words parse_element_words(std::span<const std::string_view> words, const map_info& info,
                                  unsigned parts) {
  element_words out;
  const bool wants_key = (parts & takes_key) && info.key_size > 0;
  bool has_key = false, has_value = false, has_flags = false;
  for (std::size_t at = 0; at < words.size() && out.error.empty();) {
    const std::string_view word = words[at++];
    if (is_prefix(word, "key")) {
      if (!wants_key || has_key) {
        out.error = has_key ? "duplicate key" : "unnecessary key";
      } else {
        out.key.resize(info.key_size);
        bool hex = false;
        (void)read_bytes(words, at, info.key_size, hex, "key", out.key.data(), out.error);
        has_key = true;
      }
    } else if (is_prefix(word, "value")) {
      if (!(parts & takes_value) || has_value)
        out.error = has_value ? "duplicate value" : "unnecessary value";
      else if (is_map_in_map(info.type))
        has_value = read_value_map(words, at, out);
      else if (info.type == map_type::prog_array)
        out.error = "values that are programs are not taken yet (bpftool map update takes them)";
      else
        has_value = read_value(words, at, info, out);
    } else if ((parts & takes_flags) && !has_flags &&
               (is_prefix(word, "any") || is_prefix(word, "noexist") || is_prefix(word, "exist"))) {
      // bpftool tests the prefixes in this order: "n" is noexist, "e" exist.
      out.flags = is_prefix(word, "any") ? BPF_ANY : is_prefix(word, "noexist") ? BPF_NOEXIST : BPF_EXIST;
      has_flags = true;
    } else if ((parts & takes_flags) && has_flags && is_keyword(word)) {
      out.error = joined({"flags specified multiple times: ", escaped(word)});
    } else {
      out.error = joined({"expected key or value, got: ", escaped(word)});
    }
  }
  if (out.error.empty() && wants_key && !has_key) out.error = "did not find key";
  if (out.error.empty() && (parts & takes_value) && !has_value) out.error = "did not find value";
  return out;
}

}  // namespace bpfbatch::cli
