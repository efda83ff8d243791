// A drain that loses nothing, end to end: whatever happens to stdout (a full
// disk, /dev/full, a reader that goes away, a non-blocking pipe) or to the
// process (SIGINT, SIGTERM), every element the drain deleted is either
// printed in full or back in the map. Each case checks that the elements
// printed and the elements left are the elements before, none twice.
#include <fcntl.h>
#include <linux/bpf.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <csignal>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cli_support.hpp"
#include "faults.hpp"
#include "support.hpp"

using namespace bpfbatch;
using namespace cli_support;

namespace {

// The elements printed and the elements left in the map are exactly the
// elements before: no key in both, none missing, values unchanged.
void check_nothing_lost(const support::contents& before, const support::contents& printed,
                        const support::contents& left) {
  support::contents together = left;
  for (const auto& [key, values] : printed) {
    CHECK_MESSAGE(together.emplace(key, values).second, "a key both printed and still in the map");
  }
  CHECK(together.size() == before.size());
  CHECK(together == before);
}

// How many entries the tool says it printed ("after N entries printed").
std::uint64_t reported_printed(const std::string& err) {
  const auto at = err.find("after ");
  REQUIRE(at != std::string::npos);
  return std::strtoull(err.c_str() + at + 6, nullptr, 10);
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  std::string text = slurp(fd);
  ::close(fd);
  return text;
}

// A hash map of u32 keys and u64 values (one line each in a plain dump).
pinned_map filled_hash(std::uint32_t entries, const std::string& name, map_type type = map_type::hash) {
  map m = support::create(type, 4, 8, entries);
  support::fill(m, entries);
  return pinned_map(std::move(m), name);
}

// A large hash map filled in batches (key i holds i * 3 + 1), and what it holds.
struct large_hash {
  pinned_map pinned;
  support::contents before;
};

large_hash large_hash_map(std::uint32_t entries, const std::string& name) {
  map m = support::create(map_type::hash, 4, 8, entries);
  std::vector<std::uint32_t> keys(entries);
  std::vector<std::uint64_t> values(entries);
  support::contents before;
  for (std::uint32_t i = 0; i < entries; ++i) {
    keys[i] = i;
    values[i] = std::uint64_t{i} * 3 + 1;
    const auto k = std::as_bytes(std::span(&keys[i], 1));
    const auto v = std::as_bytes(std::span(&values[i], 1));
    before.emplace(support::bytes(k.begin(), k.end()),
                   std::vector<support::bytes>{support::bytes(v.begin(), v.end())});
  }
  REQUIRE(update_batch(m, keys, values).applied == entries);
  return {pinned_map(std::move(m), name), std::move(before)};
}

// The tool started with its stdout on a new pipe: the test keeps the read
// end and the tool's stderr.
struct tool_on_pipe {
  pid_t pid;
  int read_end;
  int err_fd;
};

tool_on_pipe start_on_pipe(const std::vector<std::string>& args, int pipe_flags = 0,
                           const std::function<void()>& before_exec = {}) {
  int ends[2];
  REQUIRE(::pipe2(ends, O_CLOEXEC | pipe_flags) == 0);
  tool_on_pipe tool{-1, ends[0], -1};
  tool.pid = start_cli(args, ends[1], tool.err_fd, before_exec);
  ::close(ends[1]);
  return tool;
}

// Reads a pipe to its end on a thread, as a reader of the tool's stdout does,
// and says when the first bytes came (the drain has begun).
class pipe_reader {
 public:
  explicit pipe_reader(int fd)
      : thread_([this, fd] {
          char buffer[65536];
          ssize_t n;
          while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) {
            text_.append(buffer, static_cast<std::size_t>(n));
            started_ = true;
          }
          started_ = true;
        }) {}
  void wait_for_output() const {
    while (!started_) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::string finish() {
    thread_.join();
    return text_;
  }

 private:
  std::string text_;
  std::atomic<bool> started_{false};
  std::thread thread_;
};

// The same drain on one thread, and read by four shards at once (--threads 4).
void add_threads(std::vector<std::string>& args, bool threads) {
  if (threads) args.insert(args.end(), {"--threads", "4"});
}

}  // namespace

TEST_CASE("a drain to /dev/full puts every element back and fails") {
  REQUIRE_KERNEL();
  for (int run = 0; run < 4; ++run) {
    const bool json = run % 2 == 1, threads = run >= 2;
    INFO("json: ", json, "; threads: ", threads);
    pinned_map p = filled_hash(100, "drain_full");
    const auto before = support::reference_walk(p.m.fd());
    const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
    REQUIRE(full >= 0);
    std::vector<std::string> args{"drain", "pinned", p.path};
    if (json) args.push_back("-j");
    add_threads(args, threads);
    auto r = cli(args, {.stdout_fd = full});
    ::close(full);
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(r.err.find("cannot write output: No space left on device") != std::string::npos);
    // With shards, those that had not deleted a batch yet never do.
    CHECK(r.err.find(threads ? "after 0 entries printed; "
                             : "after 0 entries printed; 100 deleted but not "
                               "printed were put back") != std::string::npos);
    CHECK(support::reference_walk(p.m.fd()) == before);
  }
}

TEST_CASE("where no thread can be created, --threads reads the shards one after another and loses nothing") {
  REQUIRE_KERNEL();
  auto [p, before] = large_hash_map(100'000, "drain_no_threads");
  int ends[2];
  REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
  int err_fd = -1;
  const pid_t pid = start_cli({"drain", "pinned", p.path, "-j", "--threads", "4"}, ends[1], err_fd, [] {
    if (!support::refuse_new_threads()) ::_exit(99);
  });
  ::close(ends[1]);
  pipe_reader reader(ends[0]);
  const int status = wait_status_within(pid, 60);
  const std::string err = slurp(err_fd);
  ::close(err_fd);
  const std::string text = reader.finish();
  ::close(ends[0]);
  INFO(err);
  CHECK(status == 0);
  CHECK(entries_of(text) == before);
  CHECK(support::reference_walk(p.m.fd()).empty());
}

TEST_CASE("a drain onto a disk that fills up keeps every element either in the file or in the map") {
  REQUIRE_KERNEL();
  char dir_template[] = "/tmp/bpfbatch-small-disk-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  REQUIRE(::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k") == 0);
  for (int run = 0; run < 6; ++run) {
    const char* format = run % 3 == 0 ? "" : run % 3 == 1 ? "-j" : "-p";
    const bool json = run % 3 != 0, threads = run >= 3;
    INFO("format: ", std::string(format), "; threads: ", threads);
    pinned_map p = filled_hash(5000, "drain_disk", map_type::lru_hash);
    const auto before = support::reference_walk(p.m.fd());
    const std::string file = dir + (json ? "/out.json" : "/out.txt");
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    std::vector<std::string> args{"drain", "pinned", p.path, "--batch-size", "300"};
    if (json) args.push_back(format);
    add_threads(args, threads);
    auto r = cli(args, {.stdout_fd = fd});
    ::close(fd);
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(r.err.find("No space left on device") != std::string::npos);
    const std::string text = read_file(file);
    const auto printed = json ? complete_json_entries(text) : complete_plain_entries(text);
    CHECK(printed.size() > 0);  // some batches fitted
    CHECK(reported_printed(r.err) == printed.size());
    check_nothing_lost(before, printed, support::reference_walk(p.m.fd()));
    ::unlink(file.c_str());
  }
  ::umount(dir.c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("a drain whose reader closes early fails, and puts back everything the reader did not read") {
  REQUIRE_KERNEL();
  // 20,000 entries take many batches; 100 fit in one, whose bytes all sit in
  // the pipe when the drain is done: it waits until they are read or the
  // reader has gone.
  for (std::uint32_t entries : {20'000u, 100u}) {
    // Plain, -j and -p (whose indented entries are measured from where
    // the indentation stood).
    for (int run = 0; run < 6; ++run) {
      const char* format = run % 3 == 0 ? "" : run % 3 == 1 ? "-j" : "-p";
      const bool json = run % 3 != 0, threads = run >= 3;
      for (std::size_t head_bytes : {std::size_t{1}, std::size_t{100}, std::size_t{100'000}}) {
        if (entries == 100 && head_bytes == 100'000) continue;  // more than the whole output
        INFO(entries, " entries; format: ", std::string(format), "; threads: ", threads,
             "; the reader takes ", head_bytes, " bytes");
        pinned_map p = filled_hash(entries, "drain_close");
        const auto before = support::reference_walk(p.m.fd());
        std::vector<std::string> args{"drain", "pinned", p.path, "--batch-size", "500"};
        if (json) args.push_back(format);
        add_threads(args, threads);
        const auto [pid, read_end, err_fd] = start_on_pipe(args);
        // As `| head -c N`: read N bytes, then go away. What the tool wrote
        // into the pipe past them was never read.
        std::string head;
        std::vector<char> buffer(head_bytes);
        while (head.size() < head_bytes) {
          const ssize_t n = ::read(read_end, buffer.data(), head_bytes - head.size());
          REQUIRE(n > 0);
          head.append(buffer.data(), static_cast<std::size_t>(n));
        }
        ::close(read_end);
        const int status = wait_status_within(pid, 60);
        const std::string err = slurp(err_fd);
        ::close(err_fd);
        INFO(err);
        CHECK(status == 1);  // never 0: the drain did not finish
        CHECK(err.find("output closed after ") != std::string::npos);
        const auto seen = json ? complete_json_entries(head) : complete_plain_entries(head);
        CHECK(reported_printed(err) == seen.size());
        check_nothing_lost(before, seen, support::reference_walk(p.m.fd()));
      }
    }
  }
}

TEST_CASE("SIGINT or SIGTERM mid-drain ends it between batches: printed plus left is everything") {
  REQUIRE_KERNEL();
  int run = 0;
  for (int signal : {SIGINT, SIGTERM}) {
    for (int delay_ms : {0, 50}) {
      const bool json = run % 2 == 0, threads = run / 2 % 2 == 1;
      ++run;
      INFO("signal ", signal, " ", delay_ms, " ms into the output; json: ", json, "; threads: ", threads);
      auto [p, before] = large_hash_map(250'000, "drain_signal");
      std::vector<std::string> args{"drain", "pinned", p.path, "--batch-size", "1000"};
      if (json) args.push_back("-j");
      add_threads(args, threads);
      const auto [pid, read_end, err_fd] = start_on_pipe(args);
      pipe_reader reader(read_end);
      reader.wait_for_output();
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      ::kill(pid, signal);
      const int status = wait_status_within(pid, 20);
      const std::string err = slurp(err_fd);
      ::close(err_fd);
      const std::string text = reader.finish();
      ::close(read_end);
      INFO(err);
      CHECK(status == 128 + signal);  // it ends by the signal, as a shell expects
      CHECK(err.find(std::string("stopped by ") + (signal == SIGINT ? "SIGINT" : "SIGTERM")) !=
            std::string::npos);
      const auto printed = json ? complete_json_entries(text) : complete_plain_entries(text);
      CHECK(printed.size() < before.size());
      CHECK(reported_printed(err) == printed.size());
      // Stopped between batches, the JSON is a whole document (a write cut
      // short by the signal leaves it open: then the rest was put back).
      if (json && err.find(" 0 deleted but not printed") != std::string::npos)
        CHECK(entries_of(text) == printed);
      check_nothing_lost(before, printed, support::reference_walk(p.m.fd()));
    }
  }
}

TEST_CASE("SIGINT while a drain is blocked on a stalled reader puts the batch in hand back") {
  REQUIRE_KERNEL();
  pinned_map p = filled_hash(50'000, "drain_stall");
  const auto before = support::reference_walk(p.m.fd());
  const auto [pid, read_end, err_fd] = start_on_pipe({"drain", "pinned", p.path, "--batch-size", "5000"});
  // Nobody reads: the tool fills the pipe and blocks in write(2).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(pid, SIGINT);
  const int status = wait_status_within(pid, 20);
  const std::string err = slurp(err_fd);
  ::close(err_fd);
  const std::string text = slurp(read_end);
  ::close(read_end);
  INFO(err);
  CHECK(status == 128 + SIGINT);
  CHECK(err.find("stopped by SIGINT") != std::string::npos);
  const auto printed = complete_plain_entries(text);
  CHECK(printed.size() < before.size());
  check_nothing_lost(before, printed, support::reference_walk(p.m.fd()));
}

TEST_CASE("a drain into a non-blocking pipe waits for the reader instead of failing") {
  REQUIRE_KERNEL();
  pinned_map p = filled_hash(30'000, "drain_nonblock");
  const auto before = support::reference_walk(p.m.fd());
  const auto [pid, read_end, err_fd] = start_on_pipe({"drain", "pinned", p.path, "-j"}, O_NONBLOCK);
  ::fcntl(read_end, F_SETFL, 0);  // the reader blocks; the tool's end does not
  // A slow reader: the pipe fills and the tool's write(2) says EAGAIN.
  std::string text;
  char buffer[4096];
  ssize_t n;
  int reads = 0;
  while ((n = ::read(read_end, buffer, sizeof(buffer))) > 0) {
    text.append(buffer, static_cast<std::size_t>(n));
    if (++reads % 64 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ::close(read_end);
  const int status = wait_status_within(pid, 60);
  const std::string err = slurp(err_fd);
  ::close(err_fd);
  INFO(err);
  CHECK(status == 0);
  CHECK(err.empty());
  CHECK(entries_of(text) == before);
  CHECK(support::reference_walk(p.m.fd()).empty());
}

namespace {

// A drain of 100 entries to /dev/full whose put-backs the map refuses with
// `error` (injected with seccomp into the tool).
run_result drain_with_put_back_refused(const pinned_map& p, int error) {
  const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  REQUIRE(full >= 0);
  auto r = cli({"drain", "pinned", p.path}, {.stdout_fd = full, .before_exec = [error] {
                                               support::inject_bpf_error({BPF_MAP_UPDATE_ELEM}, error);
                                             }});
  ::close(full);
  return r;
}

}  // namespace

TEST_CASE("elements that cannot be put back are counted as lost, and the drain fails") {
  REQUIRE_KERNEL();
  pinned_map p = filled_hash(100, "drain_lost");
  auto r = drain_with_put_back_refused(p, E2BIG);  // as a full map refuses them
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find(
            "0 deleted but not printed were put back into the map; 100 could not be put back and are lost") !=
        std::string::npos);
  CHECK(r.err.find("BPF_MAP_UPDATE_ELEM: argument list too long") != std::string::npos);
  CHECK(support::reference_walk(p.m.fd()).empty());
}

TEST_CASE("a key written again during the drain keeps its newer value and is not put back over it") {
  REQUIRE_KERNEL();
  pinned_map p = filled_hash(100, "drain_newer");
  auto r = drain_with_put_back_refused(p, EEXIST);  // BPF_NOEXIST finds every key present again
  INFO(r.err);
  // Neither printed nor back: they count against the drain (status 1).
  CHECK(r.status == 1);
  CHECK(
      r.err.find(
          "100 were not, and are lost: their key was written again meanwhile, and its newer value is kept") !=
      std::string::npos);
}

TEST_CASE("a walk drain (LPM trie) and a queue drain to /dev/full put everything back") {
  REQUIRE_KERNEL();
  {
    pinned_map p(support::create(map_type::lpm_trie, 8, 8, 500, BPF_F_NO_PREALLOC), "drain_lpm_full");
    support::fill(p.m, 300);
    const auto before = support::reference_walk(p.m.fd());
    const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
    auto r = cli({"drain", "pinned", p.path, "-j"}, {.stdout_fd = full});
    ::close(full);
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(support::reference_walk(p.m.fd()) == before);
  }
  {
    pinned_map p(support::create(map_type::queue, 0, 8, 64), "drain_queue_full");
    std::vector<std::uint64_t> pushed;
    for (std::uint64_t v = 1; v <= 40; ++v) {
      pushed.push_back(v * 7);
      REQUIRE(update_batch(p.m, std::span<const std::byte>(), std::as_bytes(std::span(&pushed.back(), 1))));
    }
    const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
    auto r = cli({"drain", "pinned", p.path}, {.stdout_fd = full});
    ::close(full);
    INFO(r.err);
    CHECK(r.status == 1);
    // Pushed back in the order they were popped: the queue holds the same values.
    std::vector<std::uint64_t> after;
    auto gen = lookup_and_delete_batches(p.m);
    for (const batch& b : gen)
      for (std::size_t i = 0; i < b.size(); ++i) after.push_back(*b.value_as<std::uint64_t>(i));
    CHECK(after == pushed);
  }
}

TEST_CASE("SIGTERM ends a drain whose reader read a little and then stalled, at once") {
  REQUIRE_KERNEL();
  // Batch sizes whose writes are no whole number of pages leave the pipe's
  // pages partly filled: a write larger than a page could then block.
  for (const char* batch_size : {"100", "88", "4096"})
    for (int signal : {SIGTERM, SIGINT}) {
      INFO("batch size ", batch_size, ", signal ", signal);
      pinned_map p = filled_hash(30'000, "drain_stall_late");
      const auto before = support::reference_walk(p.m.fd());
      const auto [pid, read_end, err_fd] =
          start_on_pipe({"drain", "pinned", p.path, "--batch-size", batch_size});
      // Read 10,000 bytes (the tool's 64 KiB write goes part of the way), then stall.
      std::string text;
      char buffer[4096];
      while (text.size() < 10'000) {
        const ssize_t n = ::read(read_end, buffer, sizeof(buffer));
        REQUIRE(n > 0);
        text.append(buffer, static_cast<std::size_t>(n));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      const auto sent = std::chrono::steady_clock::now();
      ::kill(pid, signal);
      const int status = wait_status_within(pid, 20);  // one signal is enough
      const auto took = std::chrono::steady_clock::now() - sent;
      CHECK(took < std::chrono::seconds(2));
      const std::string err = slurp(err_fd);
      ::close(err_fd);
      text += slurp(read_end);
      ::close(read_end);
      INFO(err);
      CHECK(status == 128 + signal);
      check_nothing_lost(before, complete_plain_entries(text), support::reference_walk(p.m.fd()));
    }
}

TEST_CASE("a stop signal ignored when the drain started (nohup, a background job) stays ignored") {
  REQUIRE_KERNEL();
  pinned_map p = filled_hash(200'000, "drain_nohup");
  const auto before = support::reference_walk(p.m.fd());
  const auto [pid, read_end, err_fd] =
      start_on_pipe({"drain", "pinned", p.path}, 0, [] { ::signal(SIGHUP, SIG_IGN); });
  pipe_reader reader(read_end);
  reader.wait_for_output();
  ::kill(pid, SIGHUP);
  const int status = wait_status_within(pid, 60);
  const std::string err = slurp(err_fd);
  ::close(err_fd);
  CHECK(status == 0);
  CHECK(err.empty());
  const std::string text = reader.finish();
  ::close(read_end);
  CHECK(complete_plain_entries(text) == before);
}

TEST_CASE("the tool does not drain maps whose values are descriptors: it could not put them back") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::sockhash, 4, 4, 8), "drain_sockhash");
  auto r = cli({"drain", "pinned", p.path});
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err.find("does not drain a sockhash map") != std::string::npos);
}

TEST_CASE("with its standard output closed the tool refuses to start, and touches no map") {
  REQUIRE_KERNEL();
  pinned_map p = filled_hash(100, "drain_no_stdout");
  auto r = cli({"drain", "pinned", p.path}, {.before_exec = [] { ::close(1); }});
  CHECK(r.status == 1);
  CHECK(r.err == "bpfbatch: standard output is closed\n");
  CHECK(support::reference_walk(p.m.fd()).size() == 100);
}

TEST_CASE("drain --count says how many it deleted, also when the count cannot be written") {
  REQUIRE_KERNEL();
  pinned_map p = filled_hash(300, "drain_count");
  const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  auto r = cli({"drain", "pinned", p.path, "--count"}, {.stdout_fd = full});
  ::close(full);
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot write output: No space left on device after 300 entries were deleted") !=
        std::string::npos);
}

TEST_CASE("a drain to a terminal that does not take its output ends at one SIGINT") {
  REQUIRE_KERNEL();
  pinned_map p = filled_hash(30'000, "drain_tty");
  const auto before = support::reference_walk(p.m.fd());
  int master = -1, slave = -1;
  REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  int err_fd = -1;
  const pid_t pid = start_cli({"drain", "pinned", p.path}, slave, err_fd);
  ::close(slave);
  // Nobody reads the terminal: the tool's write waits in the tty layer.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto sent = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  const int status = wait_status_within(pid, 20);
  CHECK(std::chrono::steady_clock::now() - sent < std::chrono::seconds(2));
  const std::string err = slurp(err_fd);
  ::close(err_fd);
  // What the terminal took: read it from the master now.
  ::fcntl(master, F_SETFL, O_NONBLOCK);
  std::string text;
  char buffer[65536];
  ssize_t n;
  while ((n = ::read(master, buffer, sizeof(buffer))) > 0) text.append(buffer, static_cast<std::size_t>(n));
  ::close(master);
  INFO(err);
  CHECK(status == 128 + SIGINT);
  // The terminal turned each newline into CR LF.
  std::string lines;
  for (char c : text)
    if (c != '\r') lines += c;
  check_nothing_lost(before, complete_plain_entries(lines), support::reference_walk(p.m.fd()));
}

TEST_CASE("a file-size limit stops a drain with EFBIG, and what did not fit goes back") {
  REQUIRE_KERNEL();
  pinned_map p = filled_hash(20'000, "drain_fsize");
  const auto before = support::reference_walk(p.m.fd());
  char file_template[] = "/tmp/bpfbatch-fsize-XXXXXX";
  const int fd = ::mkstemp(file_template);
  REQUIRE(fd >= 0);
  auto r = cli({"drain", "pinned", p.path}, {.stdout_fd = fd, .before_exec = [] {
                                               struct rlimit limit {
                                                 100'000, 100'000
                                               };
                                               ::setrlimit(RLIMIT_FSIZE, &limit);
                                             }});
  ::close(fd);
  const std::string text = read_file(file_template);
  ::unlink(file_template);
  INFO(r.err);
  CHECK(r.status == 1);  // not killed by SIGXFSZ
  CHECK(r.err.find("File too large") != std::string::npos);
  check_nothing_lost(before, complete_plain_entries(text), support::reference_walk(p.m.fd()));
}
