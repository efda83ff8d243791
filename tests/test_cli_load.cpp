// bpfbatch load: dump -j documents (bpftool's and the tool's) written back
// into maps, and the map status that `list` and `info` will show, each
// checked against bpftool or a raw walk of the map.
#include <fcntl.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "json.hpp"
#include "support.hpp"

using namespace bpfbatch;
using namespace cli_support;

namespace {

// A file in the tests' temporary directory, removed when the test ends.
struct temp_file {
  std::string path;
  explicit temp_file(const std::string& text) {
    char name[] = "/tmp/bpfbatch-load-XXXXXX";
    const int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    path = name;
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
  }
  ~temp_file() { ::unlink(path.c_str()); }
};

// The map's dump -j: bpftool's where installed, else the tool's.
std::string dump_json(const pinned_map& p) {
  const std::string bpftool = bpftool_path();
  auto r = bpftool.empty() ? cli({"dump", "pinned", p.path, "-j"})
                           : run_program(bpftool, {"-j", "map", "dump", "pinned", p.path});
  INFO(r.err);
  REQUIRE(r.status == 0);
  return r.out;
}

std::string hex_bytes(const support::bytes& bytes) {
  std::string out = "[";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    char b[8];
    std::snprintf(b, sizeof(b), "\"0x%02x\"", std::to_integer<unsigned>(bytes[i]));
    if (i) out += ',';
    out += b;
  }
  return out + "]";
}

// A document of u32 keys and u64 values, written by hand.
std::string u32_u64_document(const std::vector<std::pair<std::uint32_t, std::uint64_t>>& entries) {
  std::string out = "[";
  for (const auto& [k, v] : entries) {
    support::bytes key(4), value(8);
    std::memcpy(key.data(), &k, 4);
    std::memcpy(value.data(), &v, 8);
    out += (out.size() > 1 ? ",{\"key\":" : "{\"key\":") + hex_bytes(key) + ",\"value\":" + hex_bytes(value) +
           "}";
  }
  return out + "]";
}

void round_trip(map_type type, std::uint32_t key_size, std::uint32_t value_size, std::uint32_t entries) {
  pinned_map source(support::create(type, key_size, value_size, entries), "load_source");
  support::fill(source.m, entries);
  const std::string document = dump_json(source);
  temp_file file(document);
  pinned_map twin(support::create(type, key_size, value_size, entries), "load_twin");
  auto r = cli({"load", "pinned", twin.path, file.path});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out == "Applied " + std::to_string(entries) + " entries\n");
  const support::contents truth = support::reference_walk(source.m.fd());
  CHECK(truth.size() == entries);
  CHECK(support::reference_walk(twin.m.fd()) == truth);
  CHECK(entries_of(dump_json(twin)) == entries_of(document));
}

// Runs load on a map with the document in a file, and expects it refused
// with this message before anything was written.
void refused_before_writing(map_type type, std::uint32_t value_size, const std::string& document,
                            const std::string& reason) {
  pinned_map p(support::create(type, 4, value_size, 16), "load_bad");
  temp_file file(document);
  auto r = cli({"load", "pinned", p.path, file.path});
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "bpfbatch: pinned " + p.path + ": " + file.path + ": " + reason + "; nothing was written\n");
  CHECK(support::reference_walk(p.m.fd()).empty());
}

}  // namespace

TEST_CASE(
    "load writes bpftool's dump of a 100,000-element hash into an empty twin, equal when dumped again") {
  REQUIRE_KERNEL();
  round_trip(map_type::hash, 8, 16, 100'000);
}

TEST_CASE("load writes bpftool's dump of a per-CPU hash into an empty twin, every CPU's value") {
  REQUIRE_KERNEL();
  round_trip(map_type::percpu_hash, 4, 12, 20'000);
}

TEST_CASE("load reads the document from stdin with -, also through a pipe") {
  REQUIRE_KERNEL();
  const std::string document = u32_u64_document({{1, 10}, {2, 20}, {3, 30}});
  temp_file file(document);
  pinned_map p(support::create(map_type::hash, 4, 8, 16), "load_stdin");
  auto r = run_program("/bin/sh",
                       {"-c", "cat " + file.path + " | " + cli_path() + " load pinned " + p.path + " -"});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "Applied 3 entries\n");
  CHECK(entries_of(document) == support::reference_walk(p.m.fd()));
}

TEST_CASE("load waits for the input on a non-blocking stdin instead of failing with EAGAIN") {
  REQUIRE_KERNEL();
  const std::string document = u32_u64_document({{1, 10}, {2, 20}, {3, 30}});
  pinned_map p(support::create(map_type::hash, 4, 8, 16), "load_nonblock");
  run_options options;
  // stdin: a pipe made non-blocking (as a shell's other process may leave a
  // shared pipe) whose writer starts writing only after the tool has read.
  options.before_exec = [document] {
    int fds[2];
    if (::pipe(fds) != 0) ::_exit(125);
    if (::fork() == 0) {
      ::close(fds[0]);
      ::usleep(200'000);
      (void)!::write(fds[1], document.data(), document.size());
      ::_exit(0);
    }
    ::close(fds[1]);
    ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    ::dup2(fds[0], 0);
  };
  auto r = cli({"load", "pinned", p.path, "-"}, options);
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "Applied 3 entries\n");
  CHECK(entries_of(document) == support::reference_walk(p.m.fd()));
}

TEST_CASE("load of a truncated document names the entry it ends in and writes nothing") {
  REQUIRE_KERNEL();
  const std::string document = u32_u64_document({{1, 10}, {2, 20}, {3, 30}});
  refused_before_writing(map_type::hash, 8, document.substr(0, document.size() - 30),
                         "entry 2: the document ends inside it (truncated?)");
}

TEST_CASE("load of a key of the wrong size names the entry and writes nothing") {
  REQUIRE_KERNEL();
  refused_before_writing(
      map_type::hash, 8,
      "[" + u32_u64_document({{1, 10}}).substr(1, u32_u64_document({{1, 10}}).size() - 2) +
          R"(,{"key":["0x01","0x02","0x03"],"value":["0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00"]}])",
      "entry 1: key has 3 bytes; the map's keys have 4");
}

TEST_CASE("load of a byte outside 0x00..0xff names the entry and writes nothing") {
  REQUIRE_KERNEL();
  refused_before_writing(
      map_type::hash, 8,
      R"([{"key":["0x01","0x00","0x00","0x100"],"value":["0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00"]}])",
      "entry 0: key: \"0x100\" is not a byte (0x00 to 0xff)");
}

TEST_CASE("load of a per-CPU entry without every possible CPU names the entry and writes nothing") {
  REQUIRE_KERNEL();
  const std::uint32_t cpus = support::libc_possible_cpus();
  const std::string entry =
      R"({"key":["0x01","0x00","0x00","0x00"],"values":[{"cpu":0,"value":["0x01","0x00","0x00","0x00"]}]})";
  const std::string reason = cpus == 1
                                 ? ""
                                 : "entry 0: has values for 1 CPU; the map has " + std::to_string(cpus) +
                                       " possible CPUs, and each needs its value";
  if (cpus > 1) refused_before_writing(map_type::percpu_hash, 4, "[" + entry + "]", reason);
  // A value for one CPU too many is refused on any machine.
  std::string values;
  for (std::uint32_t cpu = 0; cpu <= cpus; ++cpu)
    values += std::string(cpu ? "," : "") + R"({"cpu":)" + std::to_string(cpu) +
              R"(,"value":["0x01","0x00","0x00","0x00"]})";
  refused_before_writing(
      map_type::percpu_hash, 4, R"([{"key":["0x01","0x00","0x00","0x00"],"values":[)" + values + "]}]",
      "entry 0: has values for more than " + std::to_string(cpus) + (cpus == 1 ? " CPU" : " CPUs") +
          "; the map has " + std::to_string(cpus) + (cpus == 1 ? " possible CPU" : " possible CPUs"));
}

TEST_CASE("load from a pipe writes the chunks before a malformed entry and says how many") {
  REQUIRE_KERNEL();
  std::vector<std::pair<std::uint32_t, std::uint64_t>> good;
  for (std::uint32_t k = 0; k < 10; ++k) good.push_back({k, k * 100});
  std::string document = u32_u64_document(good);
  document.pop_back();
  document += R"(,{"key":["0x01"],"value":[]}])";
  temp_file file(document);
  pinned_map p(support::create(map_type::hash, 4, 8, 64), "load_pipe_bad");
  auto r = run_program("/bin/sh", {"-c", "cat " + file.path + " | " + cli_path() + " load pinned " + p.path +
                                             " --batch-size 4"});
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  // Chunks of 4: entries 0-7 written, 8-9 checked with the bad entry 10 and
  // never written.
  CHECK(r.err ==
        "bpfbatch: pinned " + p.path +
            ": stdin: entry 10: key has 1 byte; the map's keys have 4; 8 entries applied before it\n");
  CHECK(support::reference_walk(p.m.fd()).size() == 8);
}

TEST_CASE("load --mode noexist stops at a key already present, after the entries before it") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 64), "load_noexist");
  const std::uint32_t five = 5;
  const std::uint64_t old_value = 555;
  REQUIRE(p.m.update_element(std::as_bytes(std::span(&five, 1)), std::as_bytes(std::span(&old_value, 1))));
  temp_file file(u32_u64_document({{10, 1}, {11, 2}, {5, 3}, {12, 4}}));
  auto r = cli({"load", "pinned", p.path, file.path, "--mode", "noexist"});
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "bpfbatch: pinned " + p.path +
                     ": entry 2: BPF_MAP_UPDATE_ELEM: file exists; 2 entries applied before it\n");
  const support::contents after = support::reference_walk(p.m.fd());
  CHECK(after.size() == 3);
  CHECK(after == entries_of(u32_u64_document({{5, 555}, {10, 1}, {11, 2}})));
}

TEST_CASE("load --mode exist replaces present keys and stops at a missing one") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 64), "load_exist");
  temp_file fill(u32_u64_document({{1, 1}, {2, 2}}));
  REQUIRE(cli({"load", "pinned", p.path, fill.path}).status == 0);
  temp_file file(u32_u64_document({{2, 20}, {1, 10}, {3, 30}}));
  auto r = cli({"load", "pinned", p.path, file.path, "--mode", "exist", "-j"});
  CHECK(r.status == 1);
  CHECK(r.err ==
        "bpfbatch: pinned " + p.path +
            ": entry 2: BPF_MAP_UPDATE_ELEM: no such file or directory; 2 entries applied before it\n");
  CHECK(support::reference_walk(p.m.fd()) == entries_of(u32_u64_document({{1, 10}, {2, 20}})));
}

TEST_CASE("load -j prints the count as JSON, and an empty document applies nothing") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 8), "load_empty");
  temp_file file(" [ ]\n");
  auto r = cli({"load", "pinned", p.path, file.path, "-j"});
  CHECK(r.status == 0);
  auto parsed = json::parse(r.out);
  REQUIRE(parsed);
  REQUIRE(parsed->find("applied"));
  CHECK(parsed->find("applied")->text == "0");
}

TEST_CASE("load pushes a document of key-less entries into a queue, in the document's order") {
  REQUIRE_KERNEL();
  // A queue cannot be dumped (bpftool prints [], bpfbatch refuses); a drain
  // prints its values in this shape.
  std::string document = "[";
  for (std::uint64_t v : {7u, 8u, 9u}) {
    support::bytes value(8);
    std::memcpy(value.data(), &v, 8);
    document += (v == 7 ? "{\"value\":" : ",{\"value\":") + hex_bytes(value) + "}";
  }
  temp_file file(document + "]");
  pinned_map queue(support::create(map_type::queue, 0, 8, 8), "load_queue");
  auto r = cli({"load", "pinned", queue.path, file.path});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(r.out == "Applied 3 entries\n");
  for (std::uint64_t expected : {7u, 8u, 9u}) {
    std::uint64_t v = 0;
    REQUIRE(queue.m.pop(std::as_writable_bytes(std::span(&v, 1))));
    CHECK(v == expected);
  }
}

TEST_CASE("a map's frozen and bytes_memlock status are the values bpftool map show prints") {
  REQUIRE_KERNEL();
  const std::string bpftool = bpftool_path();
  if (bpftool.empty()) return;
  map m = support::create(map_type::hash, 4, 64, 1000);
  for (bool freeze : {false, true}) {
    if (freeze) REQUIRE(m.freeze());
    auto status = m.status();
    REQUIRE(status);
    auto r = run_program(bpftool, {"-j", "map", "show", "id", std::to_string(m.info().id)});
    REQUIRE(r.status == 0);
    auto shown = json::parse(r.out);
    REQUIRE(shown);
    REQUIRE(shown->find("bytes_memlock"));
    REQUIRE(status->bytes_memlock);
    CHECK(shown->find("bytes_memlock")->text == std::to_string(*status->bytes_memlock));
    // bpftool prints "frozen": 1 only for a frozen map.
    CHECK(status->frozen == (shown->find("frozen") != nullptr && shown->find("frozen")->text == "1"));
    CHECK(status->frozen == freeze);
  }
}

TEST_CASE("load's usage errors exit with status 2, and load --help describes it") {
  for (const auto& args : std::vector<std::vector<std::string>>{{"load"},
                                                                {"load", "/tmp/x"},
                                                                {"load", "id", "1", "--mode", "sometimes"},
                                                                {"load", "id", "1", "--mode"},
                                                                {"dump", "id", "1", "--mode", "any"},
                                                                {"load", "id", "1", "a", "b"},
                                                                {"load", "id", "1", "--threads", "2"},
                                                                {"load", "id", "1", "--sum"}}) {
    auto r = cli(args);
    INFO("args: ", args.size() > 1 ? args[1] : "", " ...: ", r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find("Try 'bpfbatch --help'.") != std::string::npos);
    CHECK(r.out.empty());
  }
  auto h = cli({"load", "--help"});
  CHECK(h.status == 0);
  CHECK(h.out.find("Usage: bpfbatch load MAP [FILE|-]") == 0);
}

TEST_CASE("load refuses a map whose values are descriptors, before reading its input") {
  REQUIRE_KERNEL();
  map inner = support::create(map_type::array, 4, 4, 1);
  pinned_map outer(support::create(map_type::hash_of_maps, 4, 4, 4, 0, inner.fd()), "load_outer");
  auto r = cli({"load", "pinned", outer.path, "/nonexistent"});
  CHECK(r.status == 1);
  CHECK(
      r.err ==
      "bpfbatch: pinned " + outer.path +
          ": load cannot write a map of type hash_of_maps: its values are descriptors when written, ids when "
          "dumped\n");
}

TEST_CASE("load refuses a map keyed by descriptors: its keys would name the tool's own files") {
  REQUIRE_KERNEL();
  pinned_map storage(support::create_inode_storage(), "load_fdkey");
  const temp_file document(R"([{"key":["0x00","0x00","0x00","0x00"],"value":[)"
                           R"("0x01","0x00","0x00","0x00","0x00","0x00","0x00","0x00",)"
                           R"("0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00"]}])");
  auto r = cli({"load", "pinned", storage.path, document.path});
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err.find("keys are descriptors") != std::string::npos);
}
