// bpfbatch: dump, drain and inspect eBPF maps in batches, from one static
// binary. Speaks bpftool's JSON (bpftool -j map dump / map show) so that
// scripts written for bpftool keep working. This file parses the command
// line and dispatches; each command lives in its own file.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <initializer_list>
#include <new>
#include <string_view>
#include <vector>

#include "arguments.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "help.hpp"
#include "output.hpp"

#ifndef BPFBATCH_VERSION
#define BPFBATCH_VERSION "unknown"
#endif

namespace {

using namespace bpfbatch::cli;

[[noreturn]] void usage_error(std::string_view text) {
  {
    output err(2);
    err.put("bpfbatch: ").put(text).put("\nTry 'bpfbatch --help'.\n");
  }
  std::exit(exit_usage);
}

// Memory that runs out (a ulimit -v, a container's limit) ends the tool with
// a message and status 1, never an abort. The library allocates nothing
// between a drain's delete and its print (its buffers grow before the call
// that needs them), and the tool's copy of what may sit unread in a pipe is
// made after the batch was written; a failure here loses no entry that had
// not reached stdout.
[[noreturn]] void out_of_memory() {
  static constexpr char message[] = "bpfbatch: out of memory\n";
  (void)!::write(2, message, sizeof(message) - 1);
  ::_exit(exit_failure);
}

// A descriptor 0, 1 or 2 that is closed at startup would be reused by the
// first one the tool opens (a map's): its output would go into the map. The
// standard input and error get /dev/null; a closed standard output is an
// error, since nothing the tool prints (a drain's entries) would reach
// anyone.
void claim_standard_descriptors() {
  for (int fd : {0, 2}) {
    if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0 && null != fd) {
      ::dup2(null, fd);
      ::close(null);
    }
  }
  if (::fcntl(1, F_GETFD) < 0 && errno == EBADF) {
    static constexpr char message[] = "bpfbatch: standard output is closed\n";
    (void)!::write(2, message, sizeof(message) - 1);
    std::exit(exit_failure);
  }
}

int print(std::string_view text) {
  output out(1);
  out.put(text);
  return finish(out, "help");
}

}  // namespace

int main(int argc, char** argv) {
  std::set_new_handler(out_of_memory);
  claim_standard_descriptors();
  // A file-size limit (ulimit -f) is a write error (EFBIG) to report, and for
  // a drain to put the unwritten entries back, not a signal that kills.
  ::signal(SIGXFSZ, SIG_IGN);
  const std::vector<std::string_view> words(argv + 1, argv + argc);
  const parsed_arguments parsed = parse_arguments(words);
  if (!parsed.usage_error.empty()) usage_error(parsed.usage_error);
  const arguments& o = parsed.args;
  if (o.version) return print("bpfbatch " BPFBATCH_VERSION "\n");
  if (o.json && !o.help) report_errors_in_json(o.pretty);
  if (o.help) return print(help_for(o.command));  // the tool's when the command is empty
  if (o.command == "dump" || o.command == "drain") return run_dump(o);
  if (o.command == "load") return run_load(o);
  if (o.command == "copy") return run_copy(o);
  if (o.command == "info") return run_info(o);
  if (o.command == "list") return run_list(o);
  if (o.command == "show") return run_show(o);
  if (o.command == "demo") return run_demo(o);
  if (is_element_verb(o.command)) return run_element_verb(o);
  return print(help_for({}));  // not reached: the parser knows no other command
}
