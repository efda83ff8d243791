// load: writes the entries of a `dump -j` document (bpftool's or the tool's)
// into a map with update_batch, a bounded chunk at a time. Each chunk is read
// and checked whole before any of it is written; a regular file is read
// through once before anything is written at all, so that a malformed entry
// anywhere in it leaves the map untouched.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <bpfbatch/error.hpp>
#include <bpfbatch/write.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "dump_reader.hpp"
#include "output.hpp"

namespace bpfbatch::cli {

namespace {

// Bytes of keys and values one chunk may hold: the tool's memory does not
// grow with the document.
constexpr std::uint64_t chunk_bytes = 4u << 20;
constexpr std::uint64_t max_chunk_entries = 65536;

dump_layout layout_of(const map_info& info) {
  dump_layout layout;
  layout.key_size = info.key_size;
  layout.value_size = info.value_size;
  layout.cpus = info.per_cpu_values() ? info.value_copies : 0;
  layout.stride = info.per_cpu_stride();
  return layout;
}

std::uint64_t chunk_entries(const arguments& o, const map_info& info) {
  const std::uint64_t per_entry = std::max<std::uint64_t>(1, info.key_size + info.value_bytes());
  std::uint64_t n = std::clamp<std::uint64_t>(chunk_bytes / per_entry, 1, max_chunk_entries);
  // A larger --batch-size than the chunk would never be reached.
  if (o.batch_size != 0) n = std::max<std::uint64_t>(1, std::min<std::uint64_t>(o.batch_size, n));
  return n;
}

update_mode mode_of(load_mode mode) {
  switch (mode) {
    case load_mode::exist:
      return update_mode::only_existing;
    case load_mode::noexist:
      return update_mode::only_new;
    case load_mode::any:
      break;
  }
  return update_mode::any;
}

[[noreturn]] void fail_reading(const arguments& o, const dump_reader& reader, std::uint64_t applied,
                               bool checking) {
  std::string text = subject_of(o) + ": " + (o.input.empty() || o.input == "-" ? "stdin" : escaped(o.input)) +
                     ": " + reader.error();
  text += checking || applied == 0 ? "; nothing was written"
                                   : "; " + entries_text(applied) + " applied before it";
  print_error(text);
  std::exit(exit_failure);
}

// The input's descriptor: the file, or stdin for "-" and none.
int open_input(const arguments& o) {
  if (o.input.empty() || o.input == "-") return 0;
  const std::string path(o.input);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    print_error(escaped(o.input) + ": cannot open: " + std::strerror(errno));
    std::exit(exit_failure);
  }
  return fd;
}

// A regular file is read once to check every entry; true when the input
// can then be read again from where it started.
bool check_whole_file(const arguments& o, int fd, const dump_layout& layout, std::uint64_t chunk) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const off_t start = ::lseek(fd, 0, SEEK_CUR);
  if (start < 0) return false;
  std::vector<std::byte> keys, values;
  dump_reader reader(layout, fd);
  for (std::uint64_t n = 0; reader.next(keys, values); ++n) {
    if (n % chunk == chunk - 1) {
      keys.clear();
      values.clear();
    }
  }
  if (!reader.error().empty()) fail_reading(o, reader, 0, true);
  return ::lseek(fd, start, SEEK_SET) == start;
}

}  // namespace

int run_load(const arguments& o) {
  const map m = open_selected(o, access::write_only);
  const map_info& info = m.info();
  const std::string subject = subject_of(o);
  // Maps whose dump cannot be written back: their values are descriptors
  // on update but ids in a dump (map_fd_get_ptr in the kernel's arraymap.c
  // and map_in_map.c take a descriptor).
  if (values_are_descriptors(info.type) || is_map_in_map(info.type)) {
    print_error(subject + ": load cannot write a map of type " + std::string(map_type_name(info.type)) +
                ": its values are descriptors when written, ids when dumped");
    return exit_failure;
  }
  // A local storage's keys name descriptors of the writing process: a
  // dump's key 0 would be this tool's stdin.
  if (keys_are_descriptors(info.type)) {
    print_error(subject + ": load cannot write a map of type " + std::string(map_type_name(info.type)) +
                ": its keys are descriptors of the process that writes them");
    return exit_failure;
  }
  const int fd = open_input(o);
  const dump_layout layout = layout_of(info);
  const std::uint64_t chunk = chunk_entries(o, info);
  (void)check_whole_file(o, fd, layout, chunk);

  update_options options;
  options.batch_size = o.batch_size;
  options.mode = mode_of(o.mode);
  dump_reader reader(layout, fd);
  std::vector<std::byte> keys, values;
  keys.reserve(chunk * info.key_size);
  values.reserve(chunk * info.value_bytes());
  std::uint64_t applied = 0;
  for (bool more = true; more;) {
    keys.clear();
    values.clear();
    std::uint64_t n = 0;
    while (n < chunk && (more = reader.next(keys, values))) ++n;
    if (!reader.error().empty()) fail_reading(o, reader, applied, false);
    if (n == 0) break;
    const write_result written = update_batch(m, keys, values, options);
    applied += written.applied;
    if (!written) {
      const std::string where = subject + ": entry " + std::to_string(applied);
      print_error(describe(where, written.error, &info, written.failed_command) + "; " +
                  entries_text(applied) + " applied before it");
      return exit_failure;
    }
  }
  output out(1);
  set_up_stdout(out, o);
  if (o.json) {
    out.put("{\"applied\":").number(applied).put("}\n");
  } else {
    out.put("Applied ").put(entries_text(applied)).put('\n');
  }
  return finish(out, subject);
}

}  // namespace bpfbatch::cli
