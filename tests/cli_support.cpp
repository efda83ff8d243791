#include "cli_support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace cli_support {

std::string slurp(int fd) {
  std::string text;
  char buffer[65536];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

namespace {

// Forks a child whose stdout and stderr are these descriptors, runs
// `prepare` in it, and executes the program.
pid_t spawn(const std::string& program, const std::vector<std::string>& args, int stdout_fd, int stderr_fd,
            const std::function<void()>& prepare) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(stdout_fd, 1);
    ::dup2(stderr_fd, 2);
    ::signal(SIGPIPE, SIG_DFL);
    if (prepare) prepare();
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

run_result run_program(const std::string& program, const std::vector<std::string>& args,
                       run_options options) {
  int out_pipe[2], err_pipe[2];
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
  if (options.stdout_closed) ::close(out_pipe[0]);
  const pid_t pid =
      spawn(program, args, options.stdout_fd >= 0 ? options.stdout_fd : out_pipe[1], err_pipe[1], [&] {
        if (options.ignore_sigpipe) ::signal(SIGPIPE, SIG_IGN);
        if (options.without_capabilities && !support::drop_all_capabilities()) ::_exit(120);
        if (options.before_exec) options.before_exec();
      });
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  run_result r;
  if (!options.stdout_closed) {
    r.out = slurp(out_pipe[0]);
    ::close(out_pipe[0]);
  }
  r.err = slurp(err_pipe[0]);
  ::close(err_pipe[0]);
  r.status = wait_status(pid);
  return r;
}

std::string cli_path() {
  const char* path = std::getenv("BPFBATCH_CLI");
  REQUIRE_MESSAGE(path != nullptr, "BPFBATCH_CLI names the bpfbatch binary (meson test sets it)");
  return path;
}

run_result cli(const std::vector<std::string>& args, run_options options) {
  return run_program(cli_path(), args, options);
}

std::string error_object(const std::string& err) {
  const std::string prefix = "bpfbatch: ";
  if (!err.starts_with(prefix)) return "(no error message)";
  std::string out = "{\"error\":\"";
  for (char c : err.substr(prefix.size(), err.find('\n') - prefix.size())) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"}\n";
}

// bpftool, where installed; CI installs it and sets BPFBATCH_REQUIRE_BPFTOOL=1.
std::string bpftool_path() {
  for (const char* p : {"/usr/sbin/bpftool", "/usr/bin/bpftool", "/sbin/bpftool"})
    if (::access(p, X_OK) == 0) return p;
  const char* required = std::getenv("BPFBATCH_REQUIRE_BPFTOOL");
  if (required != nullptr && *required != '\0' && std::strcmp(required, "0") != 0)
    FAIL("bpftool is required (BPFBATCH_REQUIRE_BPFTOOL) but not installed");
  return {};
}

support::bytes bytes_of(const json::value& array) {
  support::bytes out;
  for (const auto& item : array.items) {
    REQUIRE(item.type == json::value::kind::string);
    REQUIRE(item.text.size() == 4);
    REQUIRE(item.text.substr(0, 2) == "0x");
    out.push_back(static_cast<std::byte>(std::strtoul(item.text.c_str() + 2, nullptr, 16)));
  }
  return out;
}

// Entries of a bpftool-shaped JSON dump, as key -> per-CPU values.

pid_t start_cli(const std::vector<std::string>& args, int stdout_fd, int& err_fd,
                const std::function<void()>& before_exec) {
  int err_pipe[2];
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
  const pid_t pid = spawn(cli_path(), args, stdout_fd, err_pipe[1], before_exec);
  ::close(err_pipe[1]);
  err_fd = err_pipe[0];
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int wait_status_within(pid_t pid, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

namespace {

void add_entry(support::contents& out, const json::value& entry) {
  support::bytes key;
  if (const auto* k = entry.find("key")) key = bytes_of(*k);
  std::vector<support::bytes> values;
  if (const auto* v = entry.find("value")) {
    values.push_back(bytes_of(*v));
  } else {
    const auto* per_cpu = entry.find("values");
    REQUIRE(per_cpu != nullptr);
    for (std::size_t cpu = 0; cpu < per_cpu->items.size(); ++cpu) {
      const auto& item = per_cpu->items[cpu];
      REQUIRE(item.find("cpu") != nullptr);
      CHECK(item.find("cpu")->number == static_cast<double>(cpu));
      values.push_back(bytes_of(*item.find("value")));
    }
  }
  CHECK_MESSAGE(out.emplace(key, values).second, "a key printed twice");
}

support::bytes hex_bytes(std::string_view text) {
  support::bytes out;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<std::byte>(std::strtoul(std::string(text.substr(i, 2)).c_str(), nullptr, 16)));
    i += 2;
  }
  return out;
}

}  // namespace

support::contents entries_of(const std::string& text) {
  auto parsed = json::parse(text);
  INFO("JSON: ", text.substr(0, 300));
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->type == json::value::kind::array);
  support::contents out;
  for (const auto& entry : parsed->items) add_entry(out, entry);
  return out;
}

support::contents complete_json_entries(const std::string& text) {
  support::contents out;
  int depth = 0;
  bool in_string = false;
  std::size_t object_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') {
      if (c == '{' && depth == 1) object_start = i;
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
      if (c == '}' && depth == 1) {
        auto entry = json::parse(std::string_view(text).substr(object_start, i + 1 - object_start));
        REQUIRE(entry.has_value());
        add_entry(out, *entry);
      }
    }
  }
  return out;
}

support::contents complete_plain_entries(const std::string& text) {
  support::contents out;
  std::size_t line_start = 0;
  for (std::size_t end; (end = text.find('\n', line_start)) != std::string::npos; line_start = end + 1) {
    const std::string_view line = std::string_view(text).substr(line_start, end - line_start);
    if (!line.starts_with("key: ")) continue;  // "Found N elements"
    const std::size_t value_at = line.find("  value: ");
    REQUIRE(value_at != std::string_view::npos);
    const auto key = hex_bytes(line.substr(5, value_at - 5));
    const auto value = hex_bytes(line.substr(value_at + 9));
    CHECK_MESSAGE(out.emplace(key, std::vector<support::bytes>{value}).second, "a key printed twice");
  }
  return out;
}

pinned_map::pinned_map(bpfbatch::map mm, const std::string& name)
    : m(std::move(mm)), path(support::bpffs_dir() + "/" + name) {
  ::unlink(path.c_str());
  REQUIRE(support::pin(m.fd(), path) == 0);
}

pinned_map::~pinned_map() { ::unlink(path.c_str()); }

}  // namespace cli_support
