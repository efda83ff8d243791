// libFuzzer target: the reader of dump -j documents that `bpfbatch load`
// takes from files or stdin. The first three bytes choose the map's layout
// (key size, value size, CPUs), the rest is the document. It must never
// crash, read out of bounds or hang; an error leaves the buffers as they
// were and says why in one printable line; and whatever it reads, written
// back out as bpftool would print it, reads again to the very same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "dump_reader.hpp"

namespace {

using bpfbatch::cli::dump_layout;
using bpfbatch::cli::dump_reader;

[[noreturn]] void violated() { std::abort(); }

void put_bytes(std::string& out, const std::byte* bytes, std::size_t n) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '[';
  for (std::size_t i = 0; i < n; ++i) {
    const auto b = std::to_integer<unsigned>(bytes[i]);
    out += i ? ",\"0x" : "\"0x";
    out += hex[b >> 4];
    out += hex[b & 15];
    out += '"';
  }
  out += ']';
}

// The entries as bpftool -j map dump prints them.
std::string document(const dump_layout& l, const std::vector<std::byte>& keys,
                     const std::vector<std::byte>& values, std::uint64_t n) {
  std::string out = "[";
  for (std::uint64_t i = 0; i < n; ++i) {
    out += i ? ",{" : "{";
    if (l.key_size) {
      out += "\"key\":";
      put_bytes(out, keys.data() + i * l.key_size, l.key_size);
      out += ',';
    }
    if (l.cpus == 0) {
      out += "\"value\":";
      put_bytes(out, values.data() + i * l.value_bytes(), l.value_size);
    } else {
      out += "\"values\":[";
      for (std::uint32_t cpu = 0; cpu < l.cpus; ++cpu) {
        out += cpu ? ",{\"cpu\":" : "{\"cpu\":";
        out += std::to_string(cpu) + ",\"value\":";
        put_bytes(out, values.data() + i * l.value_bytes() + cpu * l.stride, l.value_size);
        out += '}';
      }
      out += ']';
    }
    out += '}';
  }
  return out + "]";
}

struct parse {
  std::vector<std::byte> keys, values;
  std::uint64_t entries = 0;
  std::string error;
};

parse read_all(const dump_layout& layout, std::string_view text) {
  parse p;
  dump_reader reader(layout, text);
  for (;;) {
    const std::size_t keys_before = p.keys.size(), values_before = p.values.size();
    if (reader.next(p.keys, p.values)) {
      if (p.keys.size() != keys_before + layout.key_size ||
          p.values.size() != values_before + layout.value_bytes())
        violated();
      ++p.entries;
      continue;
    }
    if (p.keys.size() != keys_before || p.values.size() != values_before) violated();
    p.error = reader.error();
    break;
  }
  if (reader.entries() != p.entries) violated();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  dump_layout layout;
  layout.key_size = data[0] % 17;        // 0 to 16
  layout.value_size = 1 + data[1] % 16;  // 1 to 16
  layout.cpus = data[2] % 5;             // 0 (no per-CPU values) to 4
  layout.stride = layout.cpus ? (layout.value_size + 7) / 8 * 8 : layout.value_size;
  const std::string_view text(reinterpret_cast<const char*>(data + 3), size - 3);

  const parse first = read_all(layout, text);
  for (char c : first.error)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) violated();
  if (!first.error.empty()) return 0;

  const std::string again = document(layout, first.keys, first.values, first.entries);
  const parse second = read_all(layout, again);
  if (!second.error.empty() || second.entries != first.entries || second.keys != first.keys ||
      second.values != first.values)
    violated();
  return 0;
}
