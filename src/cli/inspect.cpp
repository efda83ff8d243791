// info and list: what maps are, in bpftool's map show field names. Both
// gather everything before they print, so that an error prints nothing on
// stdout.
#include <fcntl.h>
#include <ftw.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include <bpfbatch/batch_options.hpp>
#include <bpfbatch/batch_support.hpp>
#include <bpfbatch/btf.hpp>
#include <bpfbatch/drain.hpp>
#include <bpfbatch/error.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "output.hpp"

namespace bpfbatch::cli {

namespace {

// Where each map is pinned, as bpftool -f finds it: every file under every
// BPF file system mount that opens as a map, by the map's id. nftw(3) with
// FTW_PHYS, as bpftool's build_pinned_obj_table: symbolic links are not
// followed.
struct pin {
  std::uint32_t id;
  std::string path;
};

struct pin_walk {
  std::vector<pin>* pins = nullptr;
  std::size_t files_left = 0;
};
pin_walk current_walk;  // nftw's callback takes no context

// A bpffs holds what programs pinned: a million files is far beyond any
// real one, and keeps a hostile tree from making list run without end.
constexpr std::size_t max_pinned_files = 1'000'000;
constexpr int max_open_directories = 16;

int note_pin(const char* path, const struct stat*, int type, struct FTW*) {
  if (type != FTW_F) return 0;
  if (current_walk.files_left-- == 0) return 1;
  auto m = map::open_pinned(path, {access::read_only});
  if (m) current_walk.pins->push_back({m->info().id, path});
  return 0;
}

// A mount point as /proc/self/mounts writes it: a space, tab, newline or
// backslash in the path is a backslash and three octal digits.
std::string unescaped_mount_point(std::string_view field) {
  std::string path;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && field.size() - i > 3 &&
        field.substr(i + 1, 3).find_first_not_of("01234567") == std::string_view::npos) {
      path += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
      i += 3;
    } else {
      path += field[i];
    }
  }
  return path;
}

// Where BPF file systems are mounted, read from /proc/self/mounts by hand:
// getmntent(3) would link sscanf, and with it some 100 KB of glibc's
// number and wide-character parsing, into the static tool (under 1 MiB).
std::vector<std::string> bpffs_mount_points() {
  std::string text;
  const int fd = ::open("/proc/self/mounts", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char chunk[4096];
  for (ssize_t n; (n = ::read(fd, chunk, sizeof(chunk))) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  // Each line: source, mount point, type, options, 0 0.
  std::vector<std::string> points;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view line(text.data() + at, end - at);
    at = end + 1;
    const std::size_t first = line.find(' ');
    const std::size_t second = first == line.npos ? line.npos : line.find(' ', first + 1);
    const std::size_t third = second == line.npos ? line.npos : line.find(' ', second + 1);
    if (third == line.npos || line.substr(second + 1, third - second - 1) != "bpf") continue;
    points.push_back(unescaped_mount_point(line.substr(first + 1, second - first - 1)));
  }
  return points;
}

std::vector<pin> find_pins() {
  std::vector<pin> pins;
  current_walk = {&pins, max_pinned_files};
  for (const std::string& point : bpffs_mount_points())
    if (::nftw(point.c_str(), note_pin, max_open_directories, FTW_PHYS) != 0) break;
  return pins;
}

// A map's paths in bpftool -f's order. bpftool keeps the walk's pins in a
// libbpf hashmap keyed by id (hashmap__append) and prints the id's bucket
// from its head: each pin goes first in its bucket, and each growth of the
// table (when empty, or past 3/4 full: hashmap_needs_to_grow) moves the
// entries bucket by bucket, head first, each again first in its new bucket,
// which reverses one id's pins.
std::vector<std::string_view> pins_of(std::uint32_t id, const std::vector<pin>& pins) {
  std::vector<std::string_view> paths;  // the id's bucket, tail first
  std::size_t capacity = 0, size = 0;
  for (const pin& p : pins) {
    if (capacity == 0 || (size + 1) * 4 / 3 > capacity) {
      capacity = capacity < 4 ? 4 : capacity * 2;  // HASHMAP_MIN_CAP_BITS is 2
      std::reverse(paths.begin(), paths.end());
    }
    if (p.id == id) paths.push_back(p.path);
    ++size;
  }
  std::reverse(paths.begin(), paths.end());
  return paths;
}

// What info and list print of one map beside its bpf_map_info: bpftool's
// fdinfo fields, and with -f its pins (nullptr without -f).
struct map_extras {
  map_status status;
  const std::vector<pin>* pins = nullptr;
};

map_extras extras_of(const map& m, const std::vector<pin>* pins) {
  auto status = m.status();
  return {status ? *status : map_status{}, pins};  // bpftool too leaves out what fdinfo lacks
}

// The fields bpftool's map show -j prints, then ours; the object stays open.
void print_map_json(output& out, const map_info& info, const map_extras& extras) {
  out.put("{\"id\":").number(std::uint64_t{info.id});
  out.put(",\"type\":").json_string(map_type_name(info.type));
  out.put(",\"name\":").json_string(info.name());
  out.put(",\"flags\":").number(std::uint64_t{info.map_flags});
  out.put(",\"bytes_key\":").number(std::uint64_t{info.key_size});
  out.put(",\"bytes_value\":").number(std::uint64_t{info.value_size});
  out.put(",\"max_entries\":").number(std::uint64_t{info.max_entries});
  if (extras.status.bytes_memlock) out.put(",\"bytes_memlock\":").number(*extras.status.bytes_memlock);
  out.put(",\"frozen\":").put(extras.status.frozen ? '1' : '0');
  // bpftool's show_map_close_json prints btf_id only when there is one, and
  // "pinned" when -f found any pinned map.
  if (info.btf_id != 0) out.put(",\"btf_id\":").number(std::uint64_t{info.btf_id});
  if (extras.pins != nullptr && !extras.pins->empty()) {
    out.put(",\"pinned\":[");
    const char* comma = "";
    for (std::string_view path : pins_of(info.id, *extras.pins)) {
      out.put(comma).json_string(path);
      comma = ",";
    }
    out.put(']');
  }
  out.put(",\"per_cpu\":").put(info.per_cpu_values() ? "true" : "false");
  out.put(",\"value_copies\":").number(std::uint64_t{info.value_copies});
  out.put(",\"value_stride\":").number(info.per_cpu_stride());
  out.put(",\"bytes_value_in_batch\":").number(info.value_bytes());
  out.put(",\"default_batch_size\":").number(std::uint64_t{default_batch_size(info)});
}

void print_map_plain(output& out, const map_info& info, const map_extras& extras) {
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
  out.put("B  max_entries ").number(std::uint64_t{info.max_entries});
  // bpftool's show_map_close_plain: memlock on the sizes' line, a line for
  // each pin, then btf_id and frozen on one line, each only where there is
  // one.
  if (extras.status.bytes_memlock) out.put("  memlock ").number(*extras.status.bytes_memlock).put('B');
  if (extras.pins != nullptr)
    for (std::string_view path : pins_of(info.id, *extras.pins)) out.put("\n\tpinned ").put(path);
  if (info.btf_id != 0 || extras.status.frozen) out.put("\n\t");
  if (info.btf_id != 0) out.put("btf_id ").number(std::uint64_t{info.btf_id});
  if (extras.status.frozen) out.put(info.btf_id != 0 ? "  frozen" : "frozen");
  out.put('\n');
}

struct batch_probe {
  std::string_view name;
  command c;
  std::optional<bool> supported;  // nullopt: the probe could not tell
};

// The map again with write rights, to probe the writing batch commands
// without opening anything read-write for what info prints. nullopt where
// the user may not write it (a read-only pin): those answers are unknown.
std::optional<map> writable_twin(const arguments& o, const map_info& info) {
  auto twin = o.selector_kind == "pinned" ? map::open_pinned(std::string(o.selector_value).c_str())
                                          : map::open_id(info.id);
  if (!twin || twin->info().id != info.id) return std::nullopt;
  return std::move(*twin);
}

std::optional<bool> probe(const map& m, command c) {
  const auto supported = supports_batch(m, c);
  if (supported) return true;
  const int err = supported.error().value();
  if (err == errno_not_supported || err == EINVAL) return false;
  return std::nullopt;  // EPERM: this descriptor may not; unknown
}

// How info names a drain method: in JSON, and in words.
struct drain_names {
  std::string_view json;
  std::string_view words;
};

drain_names names_of(drain_method method) {
  switch (method) {
    case drain_method::batch_command:
      return {"batch_command", "atomic (BPF_MAP_LOOKUP_AND_DELETE_BATCH)"};
    case drain_method::pop:
      return {"pop", "atomic (pops)"};
    case drain_method::lookup_then_delete:
      return {"lookup_then_delete",
              "lookup then delete (not atomic: a value written in between is deleted unseen)"};
    case drain_method::impossible:
      return {"impossible", "not possible for this map type"};
  }
  return {"unknown", "unknown"};
}

// The key and value types named from the map's BTF. Reading a BTF object
// by its id needs CAP_SYS_ADMIN (BPF_BTF_GET_FD_BY_ID): without it, or
// with BTF the reader refuses, `error` says why and the names are unknown.
struct type_names {
  std::optional<std::string> key, value;  // nullopt: the map names no type, or unknown
  std::error_code error;
};

type_names type_names_of(const map& m) {
  type_names out;
  const auto types = map_btf::of(m);
  if (!types) {
    out.error = types.error();
    return out;
  }
  if (types->key_type() != 0) out.key = types->types().name_of(types->key_type());
  if (types->value_type() != 0) out.value = types->types().name_of(types->value_type());
  return out;
}

// Ours, beside bpftool's btf_id: the type ids (bpf_map_info's names) and
// the types' names, null where there is none or it could not be read.
void print_types_json(output& out, const map_info& info, const type_names& names) {
  out.put(",\"btf_key_type_id\":").number(std::uint64_t{info.btf_key_type_id});
  out.put(",\"btf_value_type_id\":").number(std::uint64_t{info.btf_value_type_id});
  const std::pair<std::string_view, const std::optional<std::string>*> fields[] = {
      {",\"key_type\":", &names.key}, {",\"value_type\":", &names.value}};
  for (const auto& [label, name] : fields) {
    out.put(label);
    if (*name)
      out.json_string(**name);
    else
      out.put("null");
  }
}

void print_types_plain(output& out, const type_names& names) {
  if (names.error) {
    out.put("\tkey and value types: unknown (");
    out.put(names.error == make_error(EPERM) ? "reading BTF needs CAP_SYS_ADMIN" : names.error.message());
    out.put(")\n");
    return;
  }
  out.put("\tkey type ").put(names.key ? *names.key : "none");
  out.put("  value type ").put(names.value ? *names.value : "none").put('\n');
}

}  // namespace

int run_info(const arguments& o) {
  map m = open_selected(o, access::read_only);
  const map_info& info = m.info();
  batch_probe probes[] = {{"lookup", command::map_lookup_batch, {}},
                          {"lookup_and_delete", command::map_lookup_and_delete_batch, {}},
                          {"update", command::map_update_batch, {}},
                          {"delete", command::map_delete_batch, {}}};
  const auto writable = writable_twin(o, info);
  for (batch_probe& p : probes)
    p.supported = probe(p.c == command::map_lookup_batch || !writable ? m : *writable, p.c);
  const auto drain = drain_method_of(writable ? *writable : m);
  const type_names names = info.btf_id != 0 ? type_names_of(m) : type_names{};
  const std::vector<pin> pins = o.bpffs ? find_pins() : std::vector<pin>{};
  const map_extras extras = extras_of(m, o.bpffs ? &pins : nullptr);

  output out(1);
  set_up_stdout(out, o);
  if (o.json) {
    print_map_json(out, info, extras);
    if (info.btf_id != 0) print_types_json(out, info, names);
    out.put(",\"batch\":{");
    for (std::size_t i = 0; i < std::size(probes); ++i) {
      out.put(i ? ",\"" : "\"").put(probes[i].name).put("\":");
      out.put(!probes[i].supported ? "null" : *probes[i].supported ? "true" : "false");
    }
    out.put("},\"drain\":");
    if (drain) {
      out.json_string(names_of(*drain).json);
    } else {
      out.put("null");
    }
    out.put(",\"drain_atomic\":");
    out.put(drain && (*drain == drain_method::batch_command || *drain == drain_method::pop) ? "true"
                                                                                            : "false");
    out.put("}\n");
    return finish(out, subject_of(o));
  }
  print_map_plain(out, info, extras);
  if (info.btf_id != 0) print_types_plain(out, names);
  out.put("\tvalues: ").number(std::uint64_t{info.value_copies});
  out.put(info.per_cpu_values() ? " per element (one per possible CPU), each in " : " per element, ");
  out.number(info.per_cpu_stride())
      .put(" bytes; ")
      .number(info.value_bytes())
      .put(" bytes per element in a batch\n");
  out.put("\tbatch commands:");
  for (const batch_probe& p : probes)
    out.put("  ").put(p.name).put(' ').put(!p.supported ? "unknown" : *p.supported ? "yes" : "no");
  out.put("\n\tdrain: ").put(drain ? names_of(*drain).words : "unknown").put('\n');
  return finish(out, subject_of(o));
}

int run_list(const arguments& o) {
  const std::vector<pin> pins = o.bpffs ? find_pins() : std::vector<pin>{};
  std::vector<std::pair<map_info, map_extras>> maps;
  auto id = next_map_id(0);
  for (; id; id = next_map_id(*id)) {
    auto m = map::open_id(*id, {access::read_only});
    if (!m) {
      if (m.error() == make_error(ENOENT)) continue;  // gone since its id was listed
      fail("list: map id " + std::to_string(*id), m.error(), nullptr,
           m.error().category() == bpf_category() ? command::map_get_fd_by_id : command::none);
    }
    maps.emplace_back(m->info(), extras_of(*m, o.bpffs ? &pins : nullptr));
  }
  if (id.error().value() != ENOENT) fail("list", id.error(), nullptr, command::map_get_next_id);
  output out(1);
  set_up_stdout(out, o);
  if (o.json) out.put('[');
  for (std::size_t i = 0; i < maps.size(); ++i) {
    if (o.json) {
      if (i > 0) out.put(',');
      print_map_json(out, maps[i].first, maps[i].second);
      out.put('}');
    } else {
      print_map_plain(out, maps[i].first, maps[i].second);
    }
  }
  if (o.json) out.put("]\n");
  return finish(out, "list");
}

int run_show(const arguments& o) {
  if (o.selector_kind.empty()) return run_list(o);  // bpftool map show: every map
  const map m = open_selected(o, access::read_only);
  const std::vector<pin> pins = o.bpffs ? find_pins() : std::vector<pin>{};
  const map_extras extras = extras_of(m, o.bpffs ? &pins : nullptr);
  output out(1);
  set_up_stdout(out, o);
  if (o.json) {
    print_map_json(out, m.info(), extras);
    out.put("}\n");
  } else {
    print_map_plain(out, m.info(), extras);
  }
  return finish(out, subject_of(o));
}

}  // namespace bpfbatch::cli
