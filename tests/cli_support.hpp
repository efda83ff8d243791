// Test support for the bpfbatch tool: running it as a user does (with its
// stdout wherever a test wants it), and reading its output back.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "json.hpp"
#include "support.hpp"

namespace cli_support {

struct run_result {
  int status = -1;  // the exit status, or 128 + signal
  std::string out;
  std::string err;
};

struct run_options {
  bool without_capabilities = false;    // uid 0 with every capability dropped
  bool stdout_closed = false;           // stdout is a pipe nobody reads
  bool ignore_sigpipe = false;          // SIGPIPE ignored, so writes fail with EPIPE
  int stdout_fd = -1;                   // stdout is this descriptor (r.out stays empty)
  std::function<void()> before_exec{};  // runs in the child (a seccomp filter, say)
};

std::string slurp(int fd);

// Runs a program to its end, collecting its stdout and stderr.
run_result run_program(const std::string& program, const std::vector<std::string>& args,
                       run_options options = {});

// Starts the tool with stdout on `stdout_fd` and stderr into a pipe whose
// read end is returned in `err_fd`; the caller waits for it (wait_status).
pid_t start_cli(const std::vector<std::string>& args, int stdout_fd, int& err_fd,
                const std::function<void()>& before_exec = {});
// Waits for a started process: its exit status, or 128 + signal.
int wait_status(pid_t pid);
// The same, but a process still running after `seconds` (a hang) is killed
// and the answer is -1, so that a test fails instead of hanging the suite.
int wait_status_within(pid_t pid, int seconds);

std::string cli_path();
run_result cli(const std::vector<std::string>& args, run_options options = {});

// bpftool, where installed; CI installs it and sets BPFBATCH_REQUIRE_BPFTOOL=1.
std::string bpftool_path();

// What the tool prints on stdout with -j for the error whose message is the
// first line of `err` ("bpfbatch: MESSAGE"): {"error":"MESSAGE"}, as bpftool.
std::string error_object(const std::string& err);

support::bytes bytes_of(const json::value& array);
// Entries of a bpftool-shaped JSON dump, as key -> per-CPU values.
support::contents entries_of(const std::string& text);
// The entries of a JSON dump cut off anywhere: every complete {...} object
// of the array, the last incomplete one left out. Fails the test on a key
// seen twice.
support::contents complete_json_entries(const std::string& text);
// The entries of a plain dump of a map whose entries print on one line
// ("key: .. .. .. ..  value: .. .."), cut off anywhere.
support::contents complete_plain_entries(const std::string& text);

// A map pinned in the tests' BPF filesystem for as long as it lives.
struct pinned_map {
  bpfbatch::map m;
  std::string path;
  pinned_map(bpfbatch::map mm, const std::string& name);
  ~pinned_map();
};

}  // namespace cli_support
