// The bpfbatch tool, run as a user runs it, on maps the tests create and pin.
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "json.hpp"
#include "support.hpp"

using namespace bpfbatch;

namespace {

__extension__ typedef unsigned __int128 wide_number;

struct run_result {
  int status = -1;  // the exit status, or 128 + signal
  std::string out;
  std::string err;
};

struct run_options {
  bool without_capabilities = false;  // uid 0 with every capability dropped
  bool stdout_closed = false;         // stdout is a pipe nobody reads
  bool ignore_sigpipe = false;        // SIGPIPE ignored, so writes fail with EPIPE
};

std::string slurp(int fd) {
  std::string text;
  char buffer[65536];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

run_result run_program(const std::string& program, const std::vector<std::string>& args,
                       run_options options = {}) {
  int out_pipe[2], err_pipe[2];
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
  if (options.stdout_closed) ::close(out_pipe[0]);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::signal(SIGPIPE, options.ignore_sigpipe ? SIG_IGN : SIG_DFL);
    if (options.without_capabilities && !support::drop_all_capabilities()) ::_exit(120);
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  run_result r;
  if (!options.stdout_closed) {
    r.out = slurp(out_pipe[0]);
    ::close(out_pipe[0]);
  }
  r.err = slurp(err_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string cli_path() {
  const char* path = std::getenv("BPFBATCH_CLI");
  REQUIRE_MESSAGE(path != nullptr, "BPFBATCH_CLI names the bpfbatch binary (meson test sets it)");
  return path;
}

run_result cli(const std::vector<std::string>& args, run_options options = {}) {
  return run_program(cli_path(), args, options);
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
support::contents entries_of(const std::string& text) {
  auto parsed = json::parse(text);
  INFO("JSON: ", text.substr(0, 300));
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->type == json::value::kind::array);
  support::contents out;
  for (const auto& entry : parsed->items) {
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
    CHECK(out.emplace(key, values).second);
  }
  return out;
}

struct pinned_map {
  map m;
  std::string path;
  pinned_map(map mm, const std::string& name) : m(std::move(mm)), path(support::bpffs_dir() + "/" + name) {
    ::unlink(path.c_str());
    REQUIRE(support::pin(m.fd(), path) == 0);
  }
  ~pinned_map() { ::unlink(path.c_str()); }
};

support::contents library_contents(const map& m) {
  auto gen = lookup_batches(m);
  auto got = support::collect(gen);
  REQUIRE_FALSE(gen.error());
  return got;
}

}  // namespace

TEST_CASE("dump -j of every supported map type equals the library's reading and bpftool's") {
  REQUIRE_KERNEL();
  map inner = support::create(map_type::array, 4, 4, 1);
  struct kind {
    map_type type;
    std::uint32_t key_size, value_size, max_entries, flags, fill;
  };
  const std::string bpftool = bpftool_path();
  for (const kind& k :
       {kind{map_type::hash, 4, 8, 5000, 0, 3000}, kind{map_type::percpu_hash, 4, 12, 5000, 0, 3000},
        kind{map_type::lru_hash, 8, 8, 9000, 0, 3000}, kind{map_type::lru_percpu_hash, 4, 8, 9000, 0, 3000},
        kind{map_type::array, 4, 13, 700, 0, 700}, kind{map_type::array, 4, 13, 700, BPF_F_MMAPABLE, 700},
        kind{map_type::percpu_array, 4, 13, 700, 0, 700},
        kind{map_type::lpm_trie, 8, 8, 1000, BPF_F_NO_PREALLOC, 500},
        kind{map_type::hash_of_maps, 4, 4, 200, 0, 100}, kind{map_type::devmap_hash, 4, 4, 300, 0, 150}}) {
    INFO(map_type_name(k.type), (k.flags & BPF_F_MMAPABLE) ? " (mmapable)" : "");
    pinned_map p(support::create(k.type, k.key_size, k.value_size, k.max_entries, k.flags,
                                 is_map_in_map(k.type) ? inner.fd() : -1),
                 "cli_dump");
    support::fill(p.m, k.fill);
    auto r = cli({"dump", "pinned", p.path, "-j"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err.empty());
    auto ours = entries_of(r.out);
    CHECK(ours.size() == k.fill);
    CHECK(ours == library_contents(p.m));
    CHECK(ours == support::reference_walk(p.m.fd()));
    if (!bpftool.empty()) {
      auto theirs = run_program(bpftool, {"-j", "map", "dump", "pinned", p.path});
      INFO("bpftool: ", theirs.err);
      REQUIRE(theirs.status == 0);
      CHECK(entries_of(theirs.out) == ours);
    }
  }
}

TEST_CASE("plain dump prints bpftool's layout and the element count") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 4), "cli_plain");
  std::uint32_t key = 1;
  std::uint64_t value = 0x0807060504030201;
  REQUIRE(p.m.update_element(std::as_bytes(std::span(&key, 1)), std::as_bytes(std::span(&value, 1))));
  auto r = cli({"dump", "pinned", p.path});
  CHECK(r.status == 0);
  CHECK(r.out == "key: 01 00 00 00  value: 01 02 03 04 05 06 07 08\nFound 1 element\n");
  const std::string bpftool = bpftool_path();
  if (!bpftool.empty()) CHECK(run_program(bpftool, {"map", "dump", "pinned", p.path}).out == r.out);
}

TEST_CASE("plain dump of a per-CPU map prints one CPU a line") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::percpu_array, 4, 4, 1), "cli_percpu");
  auto r = cli({"dump", "pinned", p.path});
  CHECK(r.status == 0);
  std::string expected = "key:\n00 00 00 00\n";
  for (std::uint32_t cpu = 0; cpu < p.m.info().value_copies; ++cpu)
    expected += "value (CPU 0" + std::to_string(cpu) + "): 00 00 00 00\n";
  if (p.m.info().value_copies <= 10) CHECK(r.out == expected + "Found 1 element\n");
}

TEST_CASE("--count prints only the number of entries") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 5000), "cli_count");
  support::fill(p.m, 4321);
  CHECK(cli({"dump", "pinned", p.path, "--count"}).out == "4321\n");
  CHECK(cli({"dump", "pinned", p.path, "--count", "-j"}).out == "{\"count\":4321}\n");
}

TEST_CASE("--sum adds each element's per-CPU u64 counters") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::percpu_hash, 4, 16, 100), "cli_sum");
  const std::uint32_t cpus = p.m.info().value_copies;
  for (std::uint32_t key = 0; key < 50; ++key) {
    std::vector<std::uint64_t> value(2 * cpus);
    for (std::uint32_t cpu = 0; cpu < cpus; ++cpu) {
      value[2 * cpu] = key * 1000 + cpu;
      value[2 * cpu + 1] = ~std::uint64_t{0};  // sums past 64 bits
    }
    REQUIRE(p.m.update_element(std::as_bytes(std::span(&key, 1)), std::as_bytes(std::span(value))));
  }
  auto r = cli({"dump", "pinned", p.path, "--sum", "-j"});
  REQUIRE(r.status == 0);
  auto parsed = json::parse(r.out);
  REQUIRE(parsed);
  REQUIRE(parsed->items.size() == 50);
  for (const auto& entry : parsed->items) {
    auto key = bytes_of(*entry.find("key"));
    std::uint32_t k;
    std::memcpy(&k, key.data(), 4);
    const auto& sum = *entry.find("sum");
    REQUIRE(sum.items.size() == 2);
    std::uint64_t expected = 0;
    for (std::uint32_t cpu = 0; cpu < cpus; ++cpu) expected += k * 1000 + cpu;
    CHECK(sum.items[0].text == std::to_string(expected));
    wide_number wide = static_cast<wide_number>(~std::uint64_t{0}) * cpus;
    std::string digits;
    while (wide)
      digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(wide % 10))), wide /= 10;
    CHECK(sum.items[1].text == digits);
  }
}

TEST_CASE("drain prints every entry and leaves the map empty") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::lru_percpu_hash, 4, 8, 9000), "cli_drain");
  support::fill(p.m, 3000);
  auto before = support::reference_walk(p.m.fd());
  auto r = cli({"drain", "pinned", p.path, "-j", "--batch-size", "100"});
  REQUIRE(r.status == 0);
  CHECK(entries_of(r.out) == before);
  CHECK(support::reference_walk(p.m.fd()).empty());
}

TEST_CASE("--method walk and --method batch print the same entries") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 5000), "cli_method");
  support::fill(p.m, 2000);
  auto walked = cli({"dump", "pinned", p.path, "-j", "--method", "walk"});
  auto batched = cli({"dump", "pinned", p.path, "-j", "--method", "batch", "--batch-size", "7"});
  REQUIRE(walked.status == 0);
  REQUIRE(batched.status == 0);
  CHECK(entries_of(walked.out) == entries_of(batched.out));
}

TEST_CASE("info -j uses bpftool's field names and reports batch support") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::percpu_array, 4, 12, 8), "cli_info");
  auto r = cli({"info", "pinned", p.path, "-j"});
  REQUIRE(r.status == 0);
  auto v = json::parse(r.out);
  REQUIRE(v);
  CHECK(v->find("id")->number == p.m.info().id);
  CHECK(v->find("type")->text == "percpu_array");
  CHECK(v->find("name")->text == "bpfbatch_test");
  CHECK(v->find("bytes_key")->number == 4);
  CHECK(v->find("bytes_value")->number == 12);
  CHECK(v->find("max_entries")->number == 8);
  CHECK(v->find("flags")->number == 0);
  CHECK(v->find("value_stride")->number == 16);
  CHECK(v->find("bytes_value_in_batch")->number == 16.0 * p.m.info().value_copies);
  const auto* batch = v->find("batch");
  REQUIRE(batch);
  CHECK(batch->find("lookup")->boolean);
  CHECK_FALSE(batch->find("lookup_and_delete")->boolean);
  CHECK(batch->find("update")->boolean);
  CHECK_FALSE(batch->find("delete")->boolean);
  auto plain = cli({"info", "pinned", p.path});
  CHECK(plain.out.find("lookup yes  lookup_and_delete no  update yes  delete no") != std::string::npos);
}

TEST_CASE("list shows every map, and its JSON matches bpftool's map show fields") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 16);
  auto r = cli({"list", "-j"});
  REQUIRE(r.status == 0);
  auto v = json::parse(r.out);
  REQUIRE(v);
  bool found = false;
  for (const auto& entry : v->items) {
    if (entry.find("id")->number != m.info().id) continue;
    found = true;
    CHECK(entry.find("type")->text == "hash");
    CHECK(entry.find("bytes_key")->number == 4);
    CHECK(entry.find("bytes_value")->number == 8);
    CHECK(entry.find("max_entries")->number == 16);
  }
  CHECK(found);
  CHECK(cli({"list"}).out.find(std::to_string(m.info().id) + ": hash  name bpfbatch_test") !=
        std::string::npos);
}

TEST_CASE("name selects the one map with that name, and refuses several") {
  REQUIRE_KERNEL();
  map_spec spec;
  spec.type = map_type::hash;
  spec.key_size = 4;
  spec.value_size = 8;
  spec.max_entries = 4;
  spec.name = "cli_unique_nm";
  auto one = map::create(spec);
  REQUIRE(one);
  auto r = cli({"info", "name", "cli_unique_nm", "-j"});
  REQUIRE(r.status == 0);
  CHECK(json::parse(r.out)->find("id")->number == one->info().id);

  auto two = map::create(spec);
  REQUIRE(two);
  auto twice = cli({"dump", "name", "cli_unique_nm"});
  CHECK(twice.status == 1);
  CHECK(twice.err.find("bpfbatch: name cli_unique_nm: 2 maps have this name:") == 0);
  CHECK(twice.err.find("id " + std::to_string(one->info().id)) != std::string::npos);
  CHECK(twice.err.find("id " + std::to_string(two->info().id)) != std::string::npos);

  auto none = cli({"dump", "name", "cli_no_such_nm"});
  CHECK(none.status == 1);
  CHECK(none.err == "bpfbatch: name cli_no_such_nm: no map has this name\n");
}

TEST_CASE("errors name the map and the cause, and exit with status 1") {
  REQUIRE_KERNEL();
  std::string missing = support::bpffs_dir() + "/no_such_pin";
  auto r = cli({"dump", "pinned", missing});
  CHECK(r.status == 1);
  CHECK(r.err == "bpfbatch: pinned " + missing + ": no such file\n");
  CHECK(r.out.empty());

  r = cli({"dump", "id", "2147483000"});
  CHECK(r.status == 1);
  CHECK(r.err == "bpfbatch: id 2147483000: no such map\n");

  pinned_map array(support::create(map_type::array, 4, 4, 2), "cli_err_array");
  r = cli({"drain", "pinned", array.path});
  CHECK(r.status == 1);
  CHECK(r.err == "bpfbatch: pinned " + array.path + ": operation not supported for map type array\n");

  pinned_map lpm(support::create(map_type::lpm_trie, 8, 8, 4, BPF_F_NO_PREALLOC), "cli_err_lpm");
  r = cli({"drain", "pinned", lpm.path, "--method", "batch"});
  CHECK(r.status == 1);
  CHECK(r.err.find(": operation not supported for map type lpm_trie\n") != std::string::npos);

  r = cli({"dump", "pinned", "/proc/self/status"});
  CHECK(r.status == 1);
  CHECK(r.err == "bpfbatch: pinned /proc/self/status: permission denied, or not a BPF object\n");
}

TEST_CASE("without privileges, opening by id or listing is refused with a clear message") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 4);
  auto r = cli({"dump", "id", std::to_string(m.info().id)}, {.without_capabilities = true});
  CHECK(r.status == 1);
  CHECK(r.err == "bpfbatch: id " + std::to_string(m.info().id) +
                     ": permission denied (needs CAP_SYS_ADMIN)\n");
  r = cli({"demo", "--entries", "10"}, {.without_capabilities = true});
  CHECK(r.status == 1);
  CHECK(r.err.find("permission denied (needs CAP_BPF or CAP_SYS_ADMIN)") != std::string::npos);
}

TEST_CASE("usage errors exit with status 2 and a hint") {
  for (const auto& args : std::vector<std::vector<std::string>>{{},
                                                                {"frobnicate"},
                                                                {"dump"},
                                                                {"dump", "pinned"},
                                                                {"dump", "--bogus"},
                                                                {"dump", "id", "x"},
                                                                {"dump", "id", "1", "--batch-size", "0"},
                                                                {"dump", "id", "1", "--method", "fast"},
                                                                {"dump", "name", "a_name_of_16_chr"},
                                                                {"dump", "id", "1", "--sum", "--count"},
                                                                {"info", "id", "1", "--sum"},
                                                                {"info", "id", "1", "--entries", "5"},
                                                                {"list", "id", "1"},
                                                                {"demo", "--json"},
                                                                {"help", "pinned", "/x"},
                                                                {"", "dump", "id", "1"}}) {
    auto r = cli(args);
    INFO("args: ", args.size() ? args[0] : "(none)", " ...: ", r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find("Try 'bpfbatch --help'.") != std::string::npos);
    CHECK(r.out.empty());
  }
}

TEST_CASE("a usage error is one line even when an argument holds a newline") {
  auto r = cli({"dump", "id", "1", "--bad\noption"});
  CHECK(r.status == 2);
  CHECK(r.err == "bpfbatch: unknown option '--bad\\x0aoption'\nTry 'bpfbatch --help'.\n");
}

TEST_CASE("--help works for the tool and every command, and --version prints the version") {
  auto r = cli({"--help"});
  CHECK(r.status == 0);
  CHECK(r.out.find("Usage: bpfbatch") == 0);
  for (const char* command : {"dump", "drain", "info", "list", "demo"}) {
    auto h = cli({command, "--help"});
    INFO(command);
    CHECK(h.status == 0);
    CHECK(h.out.find("Usage: bpfbatch") == 0);
    CHECK(h.out.find(command) != std::string::npos);
  }
  auto v = cli({"--version"});
  CHECK(v.status == 0);
  CHECK(v.out.find("bpfbatch ") == 0);
}

TEST_CASE("output to a closed pipe ends quietly") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 50'000), "cli_pipe");
  support::fill(p.m, 50'000);
  auto killed = cli({"dump", "pinned", p.path}, {.stdout_closed = true});
  CHECK(killed.status == 128 + SIGPIPE);
  CHECK(killed.err.empty());
  auto ignored = cli({"dump", "pinned", p.path}, {.stdout_closed = true, .ignore_sigpipe = true});
  CHECK(ignored.status == 0);
  CHECK(ignored.err.empty());
}

TEST_CASE("demo creates, fills and times its own maps") {
  REQUIRE_KERNEL();
  auto r = cli({"demo", "--entries", "3000"});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("hash map 'demo_hash'") != std::string::npos);
  CHECK(r.out.find("percpu_hash map 'demo_percpu'") != std::string::npos);
  CHECK(r.out.find("array (BPF_F_MMAPABLE) map 'demo_mmapable'") != std::string::npos);
  CHECK(r.out.find("read through mmap") != std::string::npos);
  CHECK(r.out.find("filled with 3000 entries") != std::string::npos);
  CHECK(r.out.find("faster") != std::string::npos);
}
