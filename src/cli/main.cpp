// bpfbatch: dump, drain and inspect eBPF maps in batches, from one static
// binary. Speaks bpftool's JSON (bpftool -j map dump / map show) so that
// scripts written for bpftool keep working.
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <bpfbatch/bpfbatch.hpp>

#include "arguments.hpp"
#include "output.hpp"

#ifndef BPFBATCH_VERSION
#define BPFBATCH_VERSION "unknown"
#endif

namespace {

using namespace bpfbatch;
using cli::arguments;
using cli::output;

constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

constexpr std::string_view main_help = R"(Usage: bpfbatch [OPTIONS] COMMAND [ARGS]
Read, drain and inspect eBPF maps in batches (BPF_MAP_LOOKUP_BATCH), falling
back to a GET_NEXT_KEY walk where the kernel or map type has no batches.

Commands:
  dump MAP     print every entry
  drain MAP    print and delete every entry
  info MAP     what the map is, and which batch commands it supports
  list         every map on the system
  demo         create two maps, fill them, and time a batched read against a walk

MAP is one of:  id N | pinned PATH | name NAME

Options:
  -j, --json     JSON output, in the shapes of bpftool -j
  -q, --quiet    no progress counter on stderr
  -h, --help     this help; `bpfbatch COMMAND --help` for one command
  -V, --version  print the version
)";

constexpr std::string_view dump_help = R"(Usage: bpfbatch dump MAP [OPTIONS]
       bpfbatch drain MAP [OPTIONS]
Print every entry of MAP (id N | pinned PATH | name NAME); drain also deletes
each entry it prints (lookup-and-delete: none is lost, none printed twice).

Options:
  -j, --json             a JSON array of {"key": [...], "value": [...]} as
                         bpftool -j map dump prints; per-CPU maps give
                         "values": [{"cpu": N, "value": [...]}, ...]
      --batch-size N     elements per kernel call (default: chosen from the
                         map's sizes)
      --method M         auto (batches, else a walk; a BPF_F_MMAPABLE array
                         is read through mmap), batch, or walk
      --sum              add up each element's per-CPU values as little-endian
                         unsigned u64 words (u32 when the size is not a
                         multiple of 8)
      --count            print only the number of entries
  -q, --quiet            no progress counter on stderr
)";

constexpr std::string_view info_help = R"(Usage: bpfbatch info MAP [-j]
Show what MAP (id N | pinned PATH | name NAME) is: type, id, name, key and
value sizes, max entries, flags, how values are laid out in a batch, and
which batch commands the kernel supports for it (probed with count = 0,
which touches no element).
)";

constexpr std::string_view list_help = R"(Usage: bpfbatch list [-j]
List every map on the system (needs CAP_SYS_ADMIN): id, type, name, sizes.
The JSON uses bpftool's map show field names.
)";

constexpr std::string_view demo_help = R"(Usage: bpfbatch demo [--entries N]
Create a hash map, a per-CPU hash map and a BPF_F_MMAPABLE array in this
process (no existing map is needed), fill each with N entries (default
100000), print a sample, and time a full batched read against a GET_NEXT_KEY
walk of the same map, and for the array, a read through mmap.
)";

void print_error(std::string_view text) {
  output err(2);
  err.put("bpfbatch: ").put(text).put('\n');
}

[[noreturn]] void usage_error(std::string_view text) {
  {
    output err(2);
    err.put("bpfbatch: ").put(text).put("\nTry 'bpfbatch --help'.\n");
  }
  std::exit(exit_usage);
}

std::string lowercase_first(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  return text;
}

// What went wrong, in words that name the cause a user can act on.
std::string explain(std::error_code error, const map_info* info, std::string_view selector_kind) {
  switch (error.value()) {
    case ENOENT:
      if (selector_kind == "pinned") return "no such file";
      if (selector_kind == "id") return "no such map";
      break;
    case EPERM:
      return selector_kind == "id" || selector_kind == "list"
                 ? "permission denied (needs CAP_SYS_ADMIN or root)"
                 : "permission denied (needs CAP_BPF or root)";
    case EACCES:
      if (selector_kind == "pinned") return "permission denied, or not a BPF object";
      break;
    case errno_not_supported:
      if (info != nullptr)
        return "operation not supported for map type " + std::string(map_type_name(info->type));
      break;
    case EINVAL:
      if (info == nullptr && selector_kind != "list") return "not a BPF map";
      break;
    default:
      break;
  }
  return lowercase_first(error.message());
}

[[noreturn]] void fail(const arguments& o, std::error_code error, const map_info* info = nullptr,
                       command failed = command::none) {
  std::string text;
  if (!o.selector_kind.empty()) {
    text += o.selector_kind;
    text += ' ';
    text += o.selector_value;
    text += ": ";
  }
  if (failed != command::none) {
    text += command_name(failed);
    text += ": ";
  }
  text += explain(error, info, o.selector_kind);
  print_error(text);
  std::exit(exit_failure);
}

// Opens the map the selector names (parse_arguments made sure there is
// one); on failure prints why and exits.
map open_selected(const arguments& o) {
  if (o.selector_kind == "id") {
    auto m = map::open_id(o.id);
    if (!m) fail(o, m.error());
    return std::move(*m);
  }
  if (o.selector_kind == "pinned") {
    std::string path(o.selector_value);
    auto m = map::open_pinned(path.c_str());
    if (!m) fail(o, m.error());
    return std::move(*m);
  }
  // name: every map whose name matches; more than one is an error that lists them.
  std::vector<map> matches;
  auto id = next_map_id(0);
  for (; id; id = next_map_id(*id)) {
    auto m = map::open_id(*id);
    if (!m) {
      if (m.error().value() == ENOENT) continue;  // gone since its id was listed
      fail(o, m.error());
    }
    if (m->info().name() == o.selector_value) matches.push_back(std::move(*m));
  }
  if (id.error().value() != ENOENT) fail(o, id.error(), nullptr, command::map_get_next_id);
  if (matches.empty()) {
    print_error(std::string("name ") + std::string(o.selector_value) + ": no map has this name");
    std::exit(exit_failure);
  }
  if (matches.size() > 1) {
    std::string text = "name " + std::string(o.selector_value) + ": " + std::to_string(matches.size()) +
                       " maps have this name:";
    for (const map& m : matches) text += " id " + std::to_string(m.info().id);
    text += "; select one with id N";
    print_error(text);
    std::exit(exit_failure);
  }
  return std::move(matches.front());
}

// A one-line counter on stderr while a long dump or drain runs, only on a
// terminal, at most ten times a second.
class progress {
 public:
  progress(bool quiet, std::string_view verb) : enabled_(!quiet && ::isatty(2) == 1), verb_(verb) {}
  ~progress() {
    if (shown_) output(2).put("\r\033[K");
  }
  void update(std::uint64_t elements) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    shown_ = true;
    output(2).put("\rbpfbatch: ").put(verb_).put(' ').number(elements).put(" entries");
  }

 private:
  bool enabled_;
  bool shown_ = false;
  std::string_view verb_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Adds up the per-CPU values of one element word by word (little-endian).
std::vector<cli::wide_sum> sum_words(const batch& b, std::size_t i, std::size_t word) {
  std::vector<cli::wide_sum> sums(b.value_size() / word);
  for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu) {
    auto value = b.value(i, cpu);
    for (std::size_t w = 0; w < sums.size(); ++w) {
      std::uint64_t part = 0;
      for (std::size_t byte = 0; byte < word; ++byte)
        part |= std::uint64_t{std::to_integer<std::uint8_t>(value[w * word + byte])} << (8 * byte);
      sums[w] += part;
    }
  }
  return sums;
}

void print_entry_json(output& out, const map_info& info, const batch& b, std::size_t i,
                      std::size_t sum_word) {
  out.put('{');
  bool comma = false;
  if (info.key_size > 0) {
    out.put("\"key\":").json_bytes(b.key(i));
    comma = true;
  }
  if (comma) out.put(',');
  if (sum_word != 0) {
    out.put("\"sum\":[");
    auto sums = sum_words(b, i, sum_word);
    for (std::size_t w = 0; w < sums.size(); ++w) (w ? out.put(',') : out).number(sums[w]);
    out.put(']');
  } else if (info.per_cpu_values()) {
    out.put("\"values\":[");
    for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu) {
      if (cpu > 0) out.put(',');
      out.put("{\"cpu\":").number(std::uint64_t{cpu}).put(",\"value\":").json_bytes(b.value(i, cpu)).put('}');
    }
    out.put(']');
  } else {
    out.put("\"value\":").json_bytes(b.value(i));
    if (is_map_in_map(info.type))
      out.put(",\"inner_map_id\":").number(std::uint64_t{*b.value_as<std::uint32_t>(i)});
  }
  out.put('}');
}

// bpftool's plain layout (tools/bpf/bpftool/map.c, print_entry_plain).
void print_entry_plain(output& out, const map_info& info, const batch& b, std::size_t i,
                       std::size_t sum_word) {
  if (sum_word != 0) {
    if (info.key_size > 0) out.put("key: ").hex_bytes(b.key(i)).put("  ");
    out.put("sum:");
    for (auto s : sum_words(b, i, sum_word)) out.put(' ').number(s);
    out.put('\n');
  } else if (!info.per_cpu_values()) {
    const bool break_names = info.key_size > 16 || info.value_size > 16;
    const bool single_line = info.key_size + info.value_size <= 24 && !break_names;
    if (info.key_size > 0) {
      out.put("key:").put(break_names ? '\n' : ' ').hex_bytes(b.key(i));
      out.put(single_line ? "  " : "\n");
    }
    if (is_map_in_map(info.type)) {
      out.put("inner_map_id: ").number(std::uint64_t{*b.value_as<std::uint32_t>(i)});
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

int run_dump(const arguments& o, bool drain) {
  map m = open_selected(o);
  const map_info& info = m.info();
  std::size_t sum_word = 0;
  if (o.sum) {
    sum_word = info.value_size % 8 == 0 ? 8 : info.value_size % 4 == 0 ? 4 : 0;
    if (sum_word == 0) {
      print_error(std::string(o.selector_kind) + " " + std::string(o.selector_value) +
                  ": --sum needs values made of u32 or u64 words (value size " +
                  std::to_string(info.value_size) + ")");
      return exit_failure;
    }
  }
  const batch_options batch_opts{.batch_size = o.batch_size, .method = o.method};
  output out(1);
  progress shown(o.quiet, drain ? "drained" : "read");
  std::uint64_t entries = 0;
  if (o.json && !o.count) out.put('[');
  auto gen = drain ? lookup_and_delete_batches(m, batch_opts) : lookup_batches(m, batch_opts);
  for (const batch& b : gen) {
    if (!o.count) {
      for (std::size_t i = 0; i < b.size(); ++i) {
        if (o.json) {
          if (entries + i > 0) out.put(',');
          print_entry_json(out, info, b, i, sum_word);
        } else {
          print_entry_plain(out, info, b, i, sum_word);
        }
      }
    }
    entries += b.size();
    shown.update(entries);
  }
  if (o.count) {
    if (o.json) {
      out.put("{\"count\":").number(entries).put("}\n");
    } else {
      out.number(entries).put('\n');
    }
  } else if (o.json) {
    out.put("]\n");
  } else {
    out.put("Found ").number(entries).put(entries == 1 ? " element\n" : " elements\n");
  }
  out.flush();
  if (gen.error()) fail(o, gen.error(), &info, gen.failed_command());
  return 0;
}

// The fields bpftool's map show -j prints, then ours.
void print_map_json(output& out, const map_info& info) {
  out.put("{\"id\":").number(std::uint64_t{info.id});
  out.put(",\"type\":").json_string(map_type_name(info.type));
  out.put(",\"name\":").json_string(info.name());
  out.put(",\"flags\":").number(std::uint64_t{info.map_flags});
  out.put(",\"bytes_key\":").number(std::uint64_t{info.key_size});
  out.put(",\"bytes_value\":").number(std::uint64_t{info.value_size});
  out.put(",\"max_entries\":").number(std::uint64_t{info.max_entries});
  out.put(",\"per_cpu\":").put(info.per_cpu_values() ? "true" : "false");
  out.put(",\"value_copies\":").number(std::uint64_t{info.value_copies});
  out.put(",\"value_stride\":").number(std::uint64_t{info.per_cpu_stride()});
  out.put(",\"bytes_value_in_batch\":").number(std::uint64_t{info.value_bytes()});
  out.put(",\"default_batch_size\":").number(std::uint64_t{default_batch_size(info)});
}

void print_map_plain(output& out, const map_info& info) {
  out.number(std::uint64_t{info.id}).put(": ").put(map_type_name(info.type));
  if (!info.name().empty()) out.put("  name ").put(info.name());
  out.put("  flags 0x");
  char hex[8];
  auto [end, ec] = std::to_chars(hex, hex + sizeof(hex), info.map_flags, 16);
  (void)ec;
  out.put(std::string_view(hex, static_cast<std::size_t>(end - hex)));
  out.put("\n\tkey ")
      .number(std::uint64_t{info.key_size})
      .put("B  value ")
      .number(std::uint64_t{info.value_size});
  out.put("B  max_entries ").number(std::uint64_t{info.max_entries}).put('\n');
}

int run_info(const arguments& o) {
  map m = open_selected(o);
  const map_info& info = m.info();
  struct probe {
    std::string_view name;
    command c;
  };
  const probe probes[] = {{"lookup", command::map_lookup_batch},
                          {"lookup_and_delete", command::map_lookup_and_delete_batch},
                          {"update", command::map_update_batch},
                          {"delete", command::map_delete_batch}};
  output out(1);
  if (o.json) {
    print_map_json(out, info);
    out.put(",\"batch\":{");
    for (std::size_t i = 0; i < std::size(probes); ++i) {
      auto supported = supports_batch(m, probes[i].c);
      out.put(i ? ",\"" : "\"").put(probes[i].name).put("\":");
      // null: the probe itself failed (a read-only descriptor, say).
      out.put(supported ? (*supported ? "true" : "false") : "null");
    }
    out.put("}}\n");
    return 0;
  }
  print_map_plain(out, info);
  out.put("\tvalues: ").number(std::uint64_t{info.value_copies});
  out.put(info.per_cpu_values() ? " per element (one per possible CPU), each in " : " per element, ");
  out.number(std::uint64_t{info.per_cpu_stride()}).put(" bytes; ");
  out.number(std::uint64_t{info.value_bytes()}).put(" bytes per element in a batch\n");
  out.put("\tbatch commands:");
  for (const probe& p : probes) {
    auto supported = supports_batch(m, p.c);
    out.put("  ").put(p.name).put(' ').put(supported ? (*supported ? "yes" : "no") : "unknown");
  }
  out.put('\n');
  return 0;
}

int run_list(const arguments& o) {
  arguments list_options = o;
  list_options.selector_kind = "list";
  output out(1);
  if (o.json) out.put('[');
  bool first = true;
  auto id = next_map_id(0);
  for (; id; id = next_map_id(*id)) {
    auto m = map::open_id(*id);
    if (!m) {
      if (m.error().value() == ENOENT) continue;  // gone since its id was listed
      out.flush();
      fail(list_options, m.error(), nullptr, command::map_get_fd_by_id);
    }
    if (o.json) {
      if (!first) out.put(',');
      print_map_json(out, m->info());
      out.put('}');
    } else {
      print_map_plain(out, m->info());
    }
    first = false;
  }
  if (o.json) out.put("]\n");
  out.flush();
  if (id.error().value() != ENOENT) fail(list_options, id.error(), nullptr, command::map_get_next_id);
  return 0;
}

double median_read_seconds(const map& m, iteration method, int repetitions, const arguments& o) {
  batch_buffers buffers;
  std::vector<double> times;
  for (int i = 0; i < repetitions; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto gen = lookup_batches(m, buffers, {.method = method});
    for (const batch& b : gen) (void)b;
    if (gen.error()) fail(o, gen.error(), &m.info(), gen.failed_command());
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void demo_one(const arguments& o, map_type type, std::uint32_t flags, std::string_view name) {
  output out(1);
  map_spec spec;
  spec.type = type;
  spec.map_flags = flags;
  spec.key_size = sizeof(std::uint32_t);
  spec.value_size = sizeof(std::uint64_t);
  spec.max_entries = o.entries;
  spec.name = name;
  arguments demo_options = o;
  demo_options.selector_kind = "demo";
  demo_options.selector_value = name;
  auto created = map::create(spec);
  if (!created) fail(demo_options, created.error(), nullptr, command::map_create);
  const map& m = *created;
  const map_info& info = m.info();
  out.put(map_type_name(info.type))
      .put((flags & BPF_F_MMAPABLE) != 0 ? " (BPF_F_MMAPABLE)" : "")
      .put(" map '")
      .put(info.name())
      .put("' (id ")
      .number(std::uint64_t{info.id});
  out.put("): ")
      .number(std::uint64_t{info.key_size})
      .put("-byte keys, ")
      .number(std::uint64_t{info.value_size});
  out.put("-byte values x ").number(std::uint64_t{info.value_copies}).put(" CPU(s) = ");
  out.number(std::uint64_t{info.value_bytes()}).put(" bytes per value in a batch\n");

  // Key k holds k * 3 + cpu on each CPU.
  std::vector<std::uint64_t> value(info.value_copies);
  std::vector<std::uint32_t> keys(o.entries);
  std::vector<std::uint64_t> values(std::size_t{o.entries} * info.value_copies);
  for (std::uint32_t k = 0; k < o.entries; ++k) {
    keys[k] = k;
    for (std::uint32_t cpu = 0; cpu < info.value_copies; ++cpu)
      values[std::size_t{k} * info.value_copies + cpu] = std::uint64_t{k} * 3 + cpu;
  }
  auto written = update_batch(m, std::as_bytes(std::span(keys)), std::as_bytes(std::span(values)));
  if (!written) fail(demo_options, written.error, &info, written.failed_command);
  out.put("  filled with ")
      .number(std::uint64_t{written.applied})
      .put(" entries by update_batch; a sample:\n");
  auto sample = lookup_batches(m, {.batch_size = 4});
  for (const batch& b : sample) {
    for (std::size_t i = 0; i < b.size(); ++i) {
      out.put("    key ").number(std::uint64_t{b.key_as<std::uint32_t>(i).value_or(0)}).put("  value");
      for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu) {
        if (b.value_copies() > 1) out.put(" cpu").number(std::uint64_t{cpu}).put('=');
        out.put(' ').number(b.value_as<std::uint64_t>(i, cpu).value_or(0));
      }
      out.put('\n');
    }
    break;  // one batch is a sample; the generator frees everything on break
  }
  out.flush();

  constexpr int repetitions = 5;
  const double batched = median_read_seconds(m, iteration::batch, repetitions, demo_options);
  const double walked = median_read_seconds(m, iteration::key_walk, repetitions, demo_options);
  char line[256];
  std::snprintf(line, sizeof(line),
                "  full read, median of %d: batches %.2f ms (%.1f M entries/s), GET_NEXT_KEY walk %.2f ms: "
                "batches are %.1fx faster\n",
                repetitions, batched * 1e3, o.entries / batched / 1e6, walked * 1e3, walked / batched);
  out.put(line);
  if ((flags & BPF_F_MMAPABLE) != 0) {
    // What iteration::automatic does with such an array.
    const double mapped = median_read_seconds(m, iteration::automatic, repetitions, demo_options);
    std::snprintf(line, sizeof(line),
                  "  read through mmap (automatic, for this array): %.2f ms: %.1fx faster than batches\n",
                  mapped * 1e3, batched / mapped);
    out.put(line);
  }
}

int run_demo(const arguments& o) {
  demo_one(o, map_type::hash, 0, "demo_hash");
  demo_one(o, map_type::percpu_hash, 0, "demo_percpu");
  demo_one(o, map_type::array, BPF_F_MMAPABLE, "demo_mmapable");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string_view> words(argv + 1, argv + argc);
  const cli::parsed_arguments parsed = cli::parse_arguments(words);
  if (!parsed.usage_error.empty()) usage_error(parsed.usage_error);
  const arguments& o = parsed.args;
  auto print = [](std::string_view text) {
    output out(1);
    out.put(text);
    return 0;
  };
  if (o.version) {
    output out(1);
    out.put("bpfbatch ").put(BPFBATCH_VERSION).put('\n');
    return 0;
  }
  if (o.command == "dump" || o.command == "drain")
    return o.help ? print(dump_help) : run_dump(o, o.command == "drain");
  if (o.command == "info") return o.help ? print(info_help) : run_info(o);
  if (o.command == "list") return o.help ? print(list_help) : run_list(o);
  if (o.command == "demo") return o.help ? print(demo_help) : run_demo(o);
  return print(main_help);  // --help alone, or the help command
}
