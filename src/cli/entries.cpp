#include "entries.hpp"

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <bpfbatch/btf.hpp>
#include <bpfbatch/error.hpp>

#include "common.hpp"

namespace bpfbatch::cli {

namespace {

// Word w of the element's value, added up over its CPUs (little-endian words).
wide_sum sum_of_word(const element& e, std::size_t word, std::size_t w) {
  wide_sum total;
  for (std::uint32_t cpu = 0; cpu < e.copies; ++cpu) {
    const auto value = e.on_cpu(cpu);
    std::uint64_t part = 0;
    for (std::size_t byte = 0; byte < word; ++byte)
      part |= std::uint64_t{std::to_integer<std::uint8_t>(value[w * word + byte])} << (8 * byte);
    total += part;
  }
  return total;
}

// do_dump_btf (bpftool map.c) in compact JSON: {"key":..,"value":..} or,
// per CPU, {"key":..,"values":[{"cpu":N,"value":..},..]}.
void put_formatted_json(output& out, const entry_format& f, const element& e) {
  std::string& s = f.scratch;
  s.clear();
  s.push_back('{');
  if (f.key_btf != nullptr) {
    s.append("\"key\":");
    (void)f.key_btf->append_json(e.key, s);
    s.push_back(',');
  }
  if (f.info.per_cpu_values()) {
    s.append("\"values\":[");
    char digits[16];
    for (std::uint32_t cpu = 0; cpu < e.copies; ++cpu) {
      s.append(cpu == 0 ? "{\"cpu\":" : ",{\"cpu\":");
      s.append(digits, std::to_chars(digits, digits + sizeof(digits), cpu).ptr);
      s.append(",\"value\":");
      (void)f.value_btf->append_json(e.on_cpu(cpu), s);
      s.push_back('}');
    }
    s.append("]}");
  } else {
    s.append("\"value\":");
    (void)f.value_btf->append_json(e.value, s);
    s.push_back('}');
  }
  out.put(",\"formatted\":").put(s);
}

// A new line and the indent of bpftool's pretty JSON writer at depth.
void new_line(std::string& s, unsigned depth) {
  s.push_back('\n');
  s.append(4 * depth, ' ');
}

// do_dump_btf through bpftool's pretty writer (is_plain_text): the entry is
// an object at depth (1 inside a dump's array, 0 alone for a lookup), its
// names one deeper. Appends after what s holds.
void append_entry_btf_text(std::string& s, const entry_format& f, const element& e, unsigned depth) {
  s.push_back('{');
  if (f.key_btf != nullptr) {
    new_line(s, depth + 1);
    s.append("\"key\": ");
    (void)f.key_btf->append_text(e.key, s, depth + 1);
    s.push_back(',');
  }
  new_line(s, depth + 1);
  if (f.info.per_cpu_values()) {
    s.append("\"values\": [");
    char digits[16];
    for (std::uint32_t cpu = 0; cpu < e.copies; ++cpu) {
      s.append(cpu == 0 ? "{" : ",{");
      new_line(s, depth + 3);
      s.append("\"cpu\": ");
      s.append(digits, std::to_chars(digits, digits + sizeof(digits), cpu).ptr);
      s.push_back(',');
      new_line(s, depth + 3);
      s.append("\"value\": ");
      (void)f.value_btf->append_text(e.on_cpu(cpu), s, depth + 3);
      new_line(s, depth + 2);
      s.push_back('}');
    }
    if (e.copies != 0) new_line(s, depth + 1);
    s.push_back(']');
  } else {
    s.append("\"value\": ");
    (void)f.value_btf->append_text(e.value, s, depth + 1);
  }
  new_line(s, depth);
  s.push_back('}');
}

void print_entry_json(output& out, const entry_format& f, const element& e) {
  out.put('{');
  if (f.info.key_size > 0 || f.empty_key_in_json) out.put("\"key\":").json_bytes(e.key).put(',');
  if (f.sum_word != 0) {
    out.put("\"sum\":[");
    for (std::size_t w = 0; w < f.info.value_size / f.sum_word; ++w)
      (w ? out.put(',') : out).number(sum_of_word(e, f.sum_word, w));
    out.put(']');
  } else if (f.info.per_cpu_values()) {
    out.put("\"values\":[");
    for (std::uint32_t cpu = 0; cpu < e.copies; ++cpu) {
      if (cpu > 0) out.put(',');
      out.put("{\"cpu\":").number(std::uint64_t{cpu}).put(",\"value\":").json_bytes(e.on_cpu(cpu)).put('}');
    }
    out.put(']');
  } else {
    out.put("\"value\":").json_bytes(e.value);
    if (is_map_in_map(f.info.type)) out.put(",\"inner_map_id\":").number(std::uint64_t{e.inner_map_id()});
  }
  if (f.value_btf != nullptr && f.sum_word == 0) put_formatted_json(out, f, e);
  out.put('}');
}

// bpftool's plain layout (tools/bpf/bpftool/map.c, print_entry_plain).
void print_entry_plain(output& out, const entry_format& f, const element& e) {
  const map_info& info = f.info;
  if (f.sum_word != 0) {
    if (info.key_size > 0) out.put("key: ").hex_bytes(e.key).put("  ");
    out.put("sum:");
    for (std::size_t w = 0; w < f.info.value_size / f.sum_word; ++w)
      out.put(' ').number(sum_of_word(e, f.sum_word, w));
    out.put('\n');
  } else if (!info.per_cpu_values()) {
    const bool break_names = info.key_size > 16 || info.value_size > 16;
    const bool single_line = info.key_size + info.value_size <= 24 && !break_names;
    if (info.key_size > 0) {
      out.put("key:").put(break_names ? '\n' : ' ').hex_bytes(e.key);
      out.put(single_line ? "  " : "\n");
    }
    if (is_map_in_map(info.type)) {
      // bpftool after 7.1: "inner_map_id:%c" then "%u " (a space after the id).
      out.put("inner_map_id:").put(break_names ? '\n' : ' ');
      out.number(std::uint64_t{e.inner_map_id()}).put(' ');
    } else {
      out.put("value:").put(break_names ? '\n' : ' ').hex_bytes(e.value);
    }
    out.put('\n');
  } else {
    if (info.key_size > 0) out.put("key:\n").hex_bytes(e.key).put('\n');
    for (std::uint32_t cpu = 0; cpu < e.copies; ++cpu) {
      out.put("value (CPU ");
      if (cpu < 10) out.put('0');
      out.number(std::uint64_t{cpu})
          .put("):")
          .put(info.value_size > 16 ? '\n' : ' ')
          .hex_bytes(e.on_cpu(cpu));
      out.put('\n');
    }
  }
}

}  // namespace

element element::of(const batch& b, std::size_t i) noexcept {
  const std::uint32_t copies = b.value_copies();
  const auto value = b.value(i);
  return {.key = b.key(i),
          .value = value,
          .copies = copies,
          .value_size = b.value_size(),
          .stride = copies == 0 ? 0 : value.size() / copies};
}

std::uint32_t element::inner_map_id() const noexcept {
  std::uint32_t id = 0;
  if (value.size() == sizeof(id)) std::memcpy(&id, value.data(), sizeof(id));
  return id;
}

void print_entry(output& out, const entry_format& format, const batch& b, std::size_t i, bool first) {
  const element e = element::of(b, i);
  if (format.json) {
    out.put(first ? '[' : ',');
    print_entry_json(out, format, e);
  } else if (format.btf_layout && format.value_btf != nullptr) {
    std::string& s = format.scratch;
    s.clear();  // not s.assign("["): g++ 12 -O3 warns (-Wrestrict) in that assign
    s.push_back(first ? '[' : ',');
    append_entry_btf_text(s, format, e, 1);
    out.put(s);
  } else if (format.btf_layout) {
    if (first) out.put('[');
    print_entry_plain(out, format, e);
  } else {
    print_entry_plain(out, format, e);
  }
}

void print_element(output& out, const entry_format& format, const element& e) {
  if (format.json) {
    print_entry_json(out, format, e);
    out.put('\n');
  } else if (format.value_btf != nullptr) {
    // print_key_value (bpftool map.c): its own pretty writer, whose
    // jsonw_destroy ends the output with a new line.
    std::string& s = format.scratch;
    s.clear();
    append_entry_btf_text(s, format, e, 0);
    out.put(s).put('\n');
  } else {
    print_entry_plain(out, format, e);
  }
}

btf_formats btf_formats_for(const arguments& o, const map& m) {
  btf_formats formats;
  const map_info& info = m.info();
  if (o.no_btf || o.sum || o.count || info.btf_value_type_id == 0) return formats;
  const std::string subject = subject_of(o);
  auto types = map_btf::of(m);
  if (!types) {
    const bool denied = types.error() == std::errc::operation_not_permitted;
    print_error(subject + ": cannot read the map's BTF: " + types.error().message() +
                (denied ? " (BPF_BTF_GET_FD_BY_ID needs CAP_SYS_ADMIN)" : "") +
                "; --no-btf prints the entries in hex");
    std::exit(exit_failure);
  }
  auto make = [&](std::uint32_t type, std::uint32_t size, const char* what) {
    auto made = btf_formatter::make(types->types(), type);
    if (made && made->value_size() != size) made = make_error(EINVAL);
    if (!made) {
      print_error(subject + ": cannot format the map's " + what + " type (BTF type " + std::to_string(type) +
                  "): " + made.error().message() + "; --no-btf prints the entries in hex");
      std::exit(exit_failure);
    }
    return std::move(*made);
  };
  if (types->key_type() != 0) formats.key.emplace(make(types->key_type(), info.key_size, "key"));
  formats.value.emplace(make(types->value_type(), info.value_size, "value"));
  return formats;
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
