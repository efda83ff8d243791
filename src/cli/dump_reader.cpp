#include "dump_reader.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bpfbatch::cli {

namespace {

constexpr std::size_t input_buffer = 1 << 16;
// Ignored fields ("formatted") may nest; the reader recurses once a level.
constexpr unsigned max_depth = 128;

inline int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Text from the document made fit for a one-line message: control
// characters as \xHH.
std::string printable(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 15];
    }
  }
  return out;
}

std::string count_of(std::uint64_t n, std::string_view unit) {
  return std::to_string(n) + " " + std::string(unit) + (n == 1 ? "" : "s");
}

}  // namespace

dump_reader::dump_reader(const dump_layout& layout, int fd)
    : layout_(layout), fd_(fd), buffer_(input_buffer) {}

dump_reader::dump_reader(const dump_layout& layout, std::string_view text) : layout_(layout), data_(text) {}

bool dump_reader::refill() {
  if (fd_ < 0) {
    at_end_ = true;
    return false;
  }
  for (;;) {
    const ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR) continue;
    // stdin may be a descriptor another process made non-blocking (a shared
    // pipe): wait for data as a blocking read would, as output.cpp does.
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd ready{fd_, POLLIN, 0};
      if (::poll(&ready, 1, -1) >= 0 || errno == EINTR) continue;
    }
    if (n <= 0) {
      if (n < 0) fail(std::string("cannot read the input: ") + std::strerror(errno));
      at_end_ = true;
      return false;
    }
    data_ = std::string_view(buffer_.data(), static_cast<std::size_t>(n));
    at_ = 0;
    return true;
  }
}

char dump_reader::peek() {
  if (at_ == data_.size() && (at_end_ || !refill())) return '\0';
  return data_[at_];
}

char dump_reader::take() {
  const char c = peek();
  if (!at_end_) ++at_;
  return c;
}

void dump_reader::skip_space() {
  for (;;) {
    for (; at_ < data_.size(); ++at_) {
      const char c = data_[at_];
      if (c != ' ' && c != '\n' && c != '\t' && c != '\r') return;
    }
    if (at_end_ || !refill()) return;
  }
}

bool dump_reader::fail(std::string text) {
  if (error_.empty()) error_ = std::move(text);
  return false;
}

bool dump_reader::fail_in_entry(std::string text) {
  std::string where = "entry " + std::to_string(entries_) + ": ";
  // Any complaint at the end of the input is the document's end, not the
  // character that was missing.
  if (at_end_) return fail(where + "the document ends inside it (truncated?)");
  return fail(where + text);
}

bool dump_reader::expect(char c, std::string_view what) {
  skip_space();
  if (take() == c) return true;
  return fail_in_entry("expected " + std::string(what));
}

bool dump_reader::finish() {
  skip_space();
  if (peek() != '\0' || !at_end_) return fail("text after the end of the document (its closing ])");
  return false;
}

bool dump_reader::next(std::vector<std::byte>& keys, std::vector<std::byte>& values) {
  if (!error_.empty() || state_ == state::done) return false;
  skip_space();
  if (state_ == state::start) {
    if (take() != '[') {
      if (!error_.empty()) return false;
      return fail(at_end_ ? "the input is empty: a dump -j document (a JSON array) is needed"
                          : "the input is not a dump -j document (a JSON array of entries)");
    }
    state_ = state::in_array;
    skip_space();
    if (peek() == ']') {
      take();
      state_ = state::done;
      return finish();
    }
  } else {
    const char c = take();
    if (c == ']') {
      state_ = state::done;
      return finish();
    }
    if (c != ',') return fail_in_entry("expected , or ] after the previous entry");
    skip_space();
  }
  if (peek() != '{') return fail_in_entry("an entry must be a JSON object");
  const std::size_t key_at = keys.size(), value_at = values.size();
  keys.resize(key_at + layout_.key_size);
  values.resize(value_at + layout_.value_bytes());  // zeroed: per-CPU padding
  if (!read_entry(keys, values)) {
    keys.resize(key_at);
    values.resize(value_at);
    return false;
  }
  ++entries_;
  return true;
}

bool dump_reader::read_entry(std::vector<std::byte>& keys, std::vector<std::byte>& values) {
  const std::size_t key_at = keys.size() - layout_.key_size;
  const std::size_t value_at = values.size() - layout_.value_bytes();
  bool has_key = false, has_value = false;
  take();  // {
  skip_space();
  if (peek() == '}') {
    take();
  } else {
    for (std::string name;;) {
      if (!read_field_name(name) || !expect(':', "':' after a field name")) return false;
      if (name == "key" || name == "value" || name == "values") {
        const bool is_key = name == "key";
        if (is_key ? has_key : has_value) return fail_in_entry("\"" + name + "\" given twice");
        (is_key ? has_key : has_value) = true;
        if (is_key && layout_.key_size == 0) return fail_in_entry("has a key; the map's elements have none");
        if (name == "value" && layout_.cpus != 0)
          return fail_in_entry("has one \"value\"; a per-CPU map needs \"values\", one for each CPU");
        if (name == "values" && layout_.cpus == 0)
          return fail_in_entry("has per-CPU \"values\"; the map has one value an element");
        const bool ok = is_key              ? read_bytes(keys, key_at, layout_.key_size, "key")
                        : layout_.cpus == 0 ? read_bytes(values, value_at, layout_.value_size, "value")
                                            : read_cpu_values(values, value_at);
        if (!ok) return false;
      } else if (!skip_value(0)) {
        return false;
      }
      skip_space();
      const char c = take();
      if (c == '}') break;
      if (c != ',') return fail_in_entry("expected , or } in the entry");
    }
  }
  if (layout_.key_size != 0 && !has_key) return fail_in_entry("has no \"key\"");
  if (!has_value) return fail_in_entry(layout_.cpus == 0 ? "has no \"value\"" : "has no \"values\"");
  return true;
}

bool dump_reader::read_field_name(std::string& name) {
  name.clear();
  if (!expect('"', "a field name")) return false;
  // A plain name whole in the buffer, as bpftool writes them: taken at once.
  const std::size_t end = data_.find('"', at_);
  if (end != std::string_view::npos && end - at_ <= 16) {
    const std::string_view plain = data_.substr(at_, end - at_);
    bool simple = true;
    for (char c : plain) simple = simple && c != '\\' && static_cast<unsigned char>(c) >= 0x20;
    if (simple) {
      name.assign(plain);
      at_ = end + 1;
      return true;
    }
  }
  bool escaped = false;
  for (;;) {
    const char c = take();
    if (c == '"') break;
    if (c == '\0' && at_end_) return fail_in_entry("");
    if (static_cast<unsigned char>(c) < 0x20) return fail_in_entry("a control character in a field name");
    if (c == '\\') {
      escaped = true;
      const char e = take();
      if (e == 'u') {
        for (int i = 0; i < 4; ++i)
          if (hex_digit(take()) < 0) return fail_in_entry("a bad \\u escape in a field name");
      } else if (e == '\0' || std::strchr("\"\\/bfnrt", e) == nullptr) {
        return fail_in_entry("a bad escape in a field name");
      }
    }
    if (name.size() < 16) name += c;
  }
  // A name written with escapes is none of the three the reader knows
  // (bpftool writes them plain): it stays unknown and is skipped.
  if (escaped) {  // not name = "\\": g++ 12 -O3 warns (-Wrestrict) in that assign
    name.clear();
    name.push_back('\\');
  }
  return true;
}

bool dump_reader::read_bytes(std::vector<std::byte>& out, std::size_t at, std::uint32_t size,
                             std::string_view what) {
  skip_space();
  if (take() != '[')
    return fail_in_entry("expected " + std::string(what) + " as an array of bytes [\"0x..\", ...]");
  std::uint64_t count = 0;
  skip_space();
  if (peek() == ']') {
    take();
  } else {
    for (;;) {
      // A run of "0xHH", as bpftool writes them, without spaces and whole in
      // the buffer: one byte and its separator at a time. Parsing is most
      // of what load spends in user space.
      if (count < size && data_.size() - at_ >= 7) {
        const char* p = data_.data() + at_;
        const int high = hex_digit(p[3]), low = hex_digit(p[4]);
        if (p[0] == '"' && p[1] == '0' && (p[2] | 0x20) == 'x' && p[5] == '"' && high >= 0 && low >= 0 &&
            (p[6] == ',' || p[6] == ']')) {
          out[at + count++] = static_cast<std::byte>(high * 16 + low);
          at_ += 7;
          if (p[6] == ']') break;
          continue;
        }
      }
      std::byte b{};
      if (!read_byte(b, what)) return false;
      if (count == size)
        return fail_in_entry(std::string(what) + " has more than " + count_of(size, "byte") + "; the map's " +
                             std::string(what) + "s have " + std::to_string(size));
      out[at + count++] = b;
      skip_space();
      const char c = take();
      if (c == ']') break;
      if (c != ',') return fail_in_entry("expected , or ] in the " + std::string(what));
    }
  }
  if (count != size)
    return fail_in_entry(std::string(what) + " has " + count_of(count, "byte") + "; the map's " +
                         std::string(what) + "s have " + std::to_string(size));
  return true;
}

bool dump_reader::read_byte(std::byte& b, std::string_view what) {
  skip_space();
  // bpftool's "0x%02hhx", whole in the buffer: read without the general path
  // below, which would take several times as long for each of a document's
  // hundreds of millions of bytes.
  if (data_.size() - at_ >= 6) {
    const char* p = data_.data() + at_;
    const int high = hex_digit(p[3]), low = hex_digit(p[4]);
    if (p[0] == '"' && p[1] == '0' && (p[2] == 'x' || p[2] == 'X') && p[5] == '"' && high >= 0 && low >= 0) {
      b = static_cast<std::byte>(high * 16 + low);
      at_ += 6;
      return true;
    }
  }
  if (take() != '"')
    return fail_in_entry(std::string(what) + ": a byte must be a string \"0x00\" to \"0xff\"");
  std::string text;
  for (char c = take(); c != '"'; c = take()) {
    if (c == '\0' && at_end_) return fail_in_entry("");
    if (static_cast<unsigned char>(c) < 0x20 || c == '\\' || text.size() > 8)
      return fail_in_entry(std::string(what) + ": a byte must be a string \"0x00\" to \"0xff\"");
    text += c;
  }
  const bool prefixed =
      text.size() >= 3 && text.size() <= 4 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  int value = 0;
  for (std::size_t i = 2; prefixed && i < text.size(); ++i) {
    const int digit = hex_digit(text[i]);
    if (digit < 0) value = -1;
    if (value >= 0) value = value * 16 + digit;
  }
  if (!prefixed || value < 0)
    return fail_in_entry(std::string(what) + ": \"" + printable(text) + "\" is not a byte (0x00 to 0xff)");
  b = static_cast<std::byte>(value);
  return true;
}

bool dump_reader::read_cpu_values(std::vector<std::byte>& values, std::size_t at) {
  if (!expect('[', "\"values\" as an array of {\"cpu\": N, \"value\": [...]}")) return false;
  std::vector<bool> seen(layout_.cpus);
  std::uint64_t count = 0;
  skip_space();
  if (peek() == ']') {
    take();
  } else {
    for (;;) {
      if (count == layout_.cpus)
        return fail_in_entry("has values for more than " + count_of(layout_.cpus, "CPU") + "; the map has " +
                             count_of(layout_.cpus, "possible CPU"));
      if (!read_cpu_value(values, at, seen)) return false;
      ++count;
      skip_space();
      const char c = take();
      if (c == ']') break;
      if (c != ',') return fail_in_entry("expected , or ] in \"values\"");
    }
  }
  if (count != layout_.cpus)
    return fail_in_entry("has values for " + count_of(count, "CPU") + "; the map has " +
                         count_of(layout_.cpus, "possible CPU") + ", and each needs its value");
  return true;
}

bool dump_reader::read_cpu_value(std::vector<std::byte>& values, std::size_t at, std::vector<bool>& seen) {
  if (!expect('{', "{\"cpu\": N, \"value\": [...]} in \"values\"")) return false;
  cpu_value_.assign(layout_.value_size, std::byte{0});
  bool has_cpu = false, has_value = false;
  std::uint64_t cpu = 0;
  skip_space();
  if (peek() == '}') {
    take();
  } else {
    for (std::string name;;) {
      if (!read_field_name(name) || !expect(':', "':' after a field name")) return false;
      if (name == "cpu" || name == "value") {
        bool& given = name == "cpu" ? has_cpu : has_value;
        if (given) return fail_in_entry("\"" + name + "\" given twice for one CPU");
        given = true;
        if (!(name == "cpu" ? read_number(cpu, "cpu")
                            : read_bytes(cpu_value_, 0, layout_.value_size, "value")))
          return false;
      } else if (!skip_value(0)) {
        return false;
      }
      skip_space();
      const char c = take();
      if (c == '}') break;
      if (c != ',') return fail_in_entry("expected , or } in a CPU's value");
    }
  }
  if (!has_cpu || !has_value) return fail_in_entry("each of \"values\" needs a \"cpu\" and a \"value\"");
  if (cpu >= layout_.cpus)
    return fail_in_entry("cpu " + std::to_string(cpu) + ": the map has " +
                         count_of(layout_.cpus, "possible CPU"));
  if (seen[cpu]) return fail_in_entry("cpu " + std::to_string(cpu) + " given twice");
  seen[cpu] = true;
  if (layout_.value_size != 0)
    std::memcpy(values.data() + at + cpu * layout_.stride, cpu_value_.data(), layout_.value_size);
  return true;
}

bool dump_reader::read_number(std::uint64_t& n, std::string_view what) {
  skip_space();
  n = 0;
  std::size_t digits = 0;
  for (char c = peek(); c >= '0' && c <= '9'; c = peek(), ++digits) {
    if (n > (UINT64_MAX - 9) / 10) return fail_in_entry(std::string(what) + " is too large");
    n = n * 10 + static_cast<std::uint64_t>(take() - '0');
  }
  if (digits == 0) return fail_in_entry(std::string(what) + " must be a number");
  return true;
}

bool dump_reader::skip_value(unsigned depth) {
  if (depth > max_depth) return fail_in_entry("nested too deeply");
  skip_space();
  const char open = peek();
  if (open == '"') return skip_string();
  if (open != '{' && open != '[') return skip_literal();
  const char close = open == '{' ? '}' : ']';
  take();
  skip_space();
  if (peek() == close) {
    take();
    return true;
  }
  for (;;) {
    if (open == '{') {
      skip_space();
      if (peek() != '"') return fail_in_entry("expected a field name");
      if (!skip_string() || !expect(':', "':' after a field name")) return false;
    }
    if (!skip_value(depth + 1)) return false;
    skip_space();
    const char c = take();
    if (c == close) return true;
    if (c != ',') return fail_in_entry(std::string("expected , or ") + close);
  }
}

bool dump_reader::skip_string() {
  take();  // "
  for (;;) {
    const char c = take();
    if (c == '"') return true;
    if (c == '\0' && at_end_) return fail_in_entry("");
    if (static_cast<unsigned char>(c) < 0x20) return fail_in_entry("a control character in a string");
    if (c != '\\') continue;
    const char e = take();
    if (e == 'u') {
      for (int i = 0; i < 4; ++i)
        if (hex_digit(take()) < 0) return fail_in_entry("a bad \\u escape in a string");
    } else if (std::strchr("\"\\/bfnrt", e) == nullptr || e == '\0') {
      return fail_in_entry("a bad escape in a string");
    }
  }
}

bool dump_reader::skip_literal() {
  std::size_t length = 0;
  for (char c = peek();
       (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' || c == '.' || c == 'E';
       c = peek(), ++length)
    take();
  if (length == 0) return fail_in_entry("expected a JSON value");
  return true;
}

}  // namespace bpfbatch::cli
