#include "entries.hpp"

#include <charconv>
#include <cstdint>

namespace bpfbatch::cli {

namespace {

// Word w of element i's value, added up over its CPUs (little-endian words).
wide_sum sum_of_word(const batch& b, std::size_t i, std::size_t word, std::size_t w) {
  wide_sum total;
  for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu) {
    const auto value = b.value(i, cpu);
    std::uint64_t part = 0;
    for (std::size_t byte = 0; byte < word; ++byte)
      part |= std::uint64_t{std::to_integer<std::uint8_t>(value[w * word + byte])} << (8 * byte);
    total += part;
  }
  return total;
}

// do_dump_btf (bpftool map.c) in compact JSON: {"key":..,"value":..} or,
// per CPU, {"key":..,"values":[{"cpu":N,"value":..},..]}.
void put_formatted_json(output& out, const entry_format& f, const batch& b, std::size_t i) {
  std::string& s = f.scratch;
  s.clear();
  s.push_back('{');
  if (f.key_btf != nullptr) {
    s.append("\"key\":");
    (void)f.key_btf->append_json(b.key(i), s);
    s.push_back(',');
  }
  if (f.info.per_cpu_values()) {
    s.append("\"values\":[");
    char digits[16];
    for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu) {
      s.append(cpu == 0 ? "{\"cpu\":" : ",{\"cpu\":");
      s.append(digits, std::to_chars(digits, digits + sizeof(digits), cpu).ptr);
      s.append(",\"value\":");
      (void)f.value_btf->append_json(b.value(i, cpu), s);
      s.push_back('}');
    }
    s.append("]}");
  } else {
    s.append("\"value\":");
    (void)f.value_btf->append_json(b.value(i), s);
    s.push_back('}');
  }
  out.put(",\"formatted\":").put(s);
}

// do_dump_btf through bpftool's pretty writer (is_plain_text): the entry is
// an object at depth 1 of the array, its names at depth 2.
void print_entry_btf_text(output& out, const entry_format& f, const batch& b, std::size_t i, bool first) {
  std::string& s = f.scratch;
  s.assign(first ? "[{" : ",{");
  if (f.key_btf != nullptr) {
    s.append("\n        \"key\": ");
    (void)f.key_btf->append_text(b.key(i), s, 2);
    s.push_back(',');
  }
  if (f.info.per_cpu_values()) {
    s.append("\n        \"values\": [");
    char digits[16];
    for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu) {
      s.append(cpu == 0 ? "{\n                \"cpu\": " : ",{\n                \"cpu\": ");
      s.append(digits, std::to_chars(digits, digits + sizeof(digits), cpu).ptr);
      s.append(",\n                \"value\": ");
      (void)f.value_btf->append_text(b.value(i, cpu), s, 4);
      s.append("\n            }");
    }
    if (b.value_copies() != 0) s.append("\n        ");
    s.push_back(']');
  } else {
    s.append("\n        \"value\": ");
    (void)f.value_btf->append_text(b.value(i), s, 2);
  }
  s.append("\n    }");
  out.put(s);
}

void print_entry_json(output& out, const entry_format& f, const batch& b, std::size_t i) {
  out.put('{');
  if (f.info.key_size > 0) out.put("\"key\":").json_bytes(b.key(i)).put(',');
  if (f.sum_word != 0) {
    out.put("\"sum\":[");
    for (std::size_t w = 0; w < b.value_size() / f.sum_word; ++w)
      (w ? out.put(',') : out).number(sum_of_word(b, i, f.sum_word, w));
    out.put(']');
  } else if (f.info.per_cpu_values()) {
    out.put("\"values\":[");
    for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu) {
      if (cpu > 0) out.put(',');
      out.put("{\"cpu\":").number(std::uint64_t{cpu}).put(",\"value\":").json_bytes(b.value(i, cpu)).put('}');
    }
    out.put(']');
  } else {
    out.put("\"value\":").json_bytes(b.value(i));
    if (is_map_in_map(f.info.type))
      out.put(",\"inner_map_id\":").number(std::uint64_t{b.value_as<std::uint32_t>(i).value_or(0)});
  }
  if (f.value_btf != nullptr && f.sum_word == 0) put_formatted_json(out, f, b, i);
  out.put('}');
}

// bpftool's plain layout (tools/bpf/bpftool/map.c, print_entry_plain).
void print_entry_plain(output& out, const entry_format& f, const batch& b, std::size_t i) {
  const map_info& info = f.info;
  if (f.sum_word != 0) {
    if (info.key_size > 0) out.put("key: ").hex_bytes(b.key(i)).put("  ");
    out.put("sum:");
    for (std::size_t w = 0; w < b.value_size() / f.sum_word; ++w)
      out.put(' ').number(sum_of_word(b, i, f.sum_word, w));
    out.put('\n');
  } else if (!info.per_cpu_values()) {
    const bool break_names = info.key_size > 16 || info.value_size > 16;
    const bool single_line = info.key_size + info.value_size <= 24 && !break_names;
    if (info.key_size > 0) {
      out.put("key:").put(break_names ? '\n' : ' ').hex_bytes(b.key(i));
      out.put(single_line ? "  " : "\n");
    }
    if (is_map_in_map(info.type)) {
      // bpftool after 7.1: "inner_map_id:%c" then "%u " (a space after the id).
      out.put("inner_map_id:").put(break_names ? '\n' : ' ');
      out.number(std::uint64_t{b.value_as<std::uint32_t>(i).value_or(0)}).put(' ');
    } else {
      out.put("value:").put(break_names ? '\n' : ' ').hex_bytes(b.value(i));
    }
    out.put('\n');
  } else {
    if (info.key_size > 0) out.put("key:\n").hex_bytes(b.key(i)).put('\n');
    for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu) {
      out.put("value (CPU ");
      if (cpu < 10) out.put('0');
      out.number(std::uint64_t{cpu})
          .put("):")
          .put(info.value_size > 16 ? '\n' : ' ')
          .hex_bytes(b.value(i, cpu));
      out.put('\n');
    }
  }
}

}  // namespace

void print_entry(output& out, const entry_format& format, const batch& b, std::size_t i, bool first) {
  if (format.json) {
    out.put(first ? '[' : ',');
    print_entry_json(out, format, b, i);
  } else if (format.btf_layout && format.value_btf != nullptr) {
    print_entry_btf_text(out, format, b, i, first);
  } else if (format.btf_layout) {
    if (first) out.put('[');
    print_entry_plain(out, format, b, i);
  } else {
    print_entry_plain(out, format, b, i);
  }
}

void print_batch(output& out, const entry_format& format, const batch& b, bool first) {
  for (std::size_t i = 0; i < b.size(); ++i) print_entry(out, format, b, i, first && i == 0);
}

void print_end(output& out, const entry_format& format, std::uint64_t entries) {
  if (format.json) {
    out.put(entries == 0 ? "[]\n" : "]\n");
  } else if (format.btf_layout) {
    // jsonw_end_array puts the new line only after a value of its own
    // (jsonw_end), then jsonw_destroy ends the output with one.
    out.put(entries == 0 ? "[]\n" : format.value_btf != nullptr ? "\n]\n" : "]\n");
  } else {
    out.put("Found ").number(entries).put(entries == 1 ? " element\n" : " elements\n");
  }
}

}  // namespace bpfbatch::cli
