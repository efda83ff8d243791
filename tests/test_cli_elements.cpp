// bpftool's map element verbs in the tool (lookup, update, delete, getnext,
// peek, push, pop, enqueue, dequeue, pin, freeze, create), each run against
// bpftool on twin maps in the same state: the same stdout (parsed JSON with
// -j, the text otherwise), the same success or failure, and the same map
// contents afterwards.
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <bpfbatch/bpfbatch.hpp>

#include "cli_support.hpp"
#include "json.hpp"
#include "support.hpp"

using namespace bpfbatch;
using namespace cli_support;

namespace {

// Two maps made alike and filled alike: one for bpftool, one for the tool.
struct twins {
  pinned_map theirs;
  pinned_map ours;
  twins(map_type type, std::uint32_t key_size, std::uint32_t value_size, std::uint32_t entries,
        std::uint64_t filled, std::uint32_t flags = 0)
      : theirs(support::create(type, key_size, value_size, entries, flags), "el_theirs"),
        ours(support::create(type, key_size, value_size, entries, flags), "el_ours") {
    support::fill(theirs.m, filled);
    support::fill(ours.m, filled);
  }
};

struct both_runs {
  run_result theirs;
  run_result ours;
};

// `bpftool [-j] map VERB pinned THEIRS WORDS...` and
// `bpfbatch [-j] VERB pinned OURS WORDS...`.
both_runs run_both(const twins& t, bool json, const std::string& verb,
                   const std::vector<std::string>& words) {
  std::vector<std::string> theirs, ours;
  if (json) {
    theirs.push_back("-j");
    ours.push_back("-j");
  }
  theirs.insert(theirs.end(), {"map", verb, "pinned", t.theirs.path});
  ours.insert(ours.end(), {verb, "pinned", t.ours.path});
  theirs.insert(theirs.end(), words.begin(), words.end());
  ours.insert(ours.end(), words.begin(), words.end());
  return {run_program(bpftool_path(), theirs), cli(ours)};
}

bool same(const json::value& a, const json::value& b) {
  if (a.type != b.type || a.boolean != b.boolean || a.number != b.number || a.text != b.text ||
      a.items.size() != b.items.size() || a.fields.size() != b.fields.size())
    return false;
  for (std::size_t i = 0; i < a.items.size(); ++i)
    if (!same(a.items[i], b.items[i])) return false;
  for (const auto& [name, value] : a.fields) {
    const json::value* other = b.find(name);
    if (other == nullptr || !same(value, *other)) return false;
  }
  return true;
}

// The same outcome: both succeed or both fail, and the same stdout (JSON
// parsed; an {"error": ...} object only as such, since the messages differ).
void check_same_output(const both_runs& r, bool json) {
  INFO("bpftool stdout: " << r.theirs.out << "\nbpftool stderr: " << r.theirs.err);
  INFO("bpfbatch stdout: " << r.ours.out << "\nbpfbatch stderr: " << r.ours.err);
  CHECK((r.theirs.status == 0) == (r.ours.status == 0));
  if (!json) {
    CHECK(r.ours.out == r.theirs.out);
    return;
  }
  const auto theirs = json::parse(r.theirs.out);
  const auto ours = json::parse(r.ours.out);
  REQUIRE(theirs.has_value());
  REQUIRE(ours.has_value());
  if (theirs->find("error") != nullptr) {
    CHECK(ours->find("error") != nullptr);
    CHECK(ours->fields.size() == 1);
  } else {
    CHECK(same(*ours, *theirs));
  }
}

void check_same_contents(const twins& t) {
  CHECK(support::reference_walk(t.ours.m.fd()) == support::reference_walk(t.theirs.m.fd()));
}

// A verb run both ways, plain then -j on twins reset between the two, the
// outputs and the contents compared after each.
void compare(map_type type, std::uint32_t key_size, std::uint32_t value_size, std::uint32_t entries,
             std::uint64_t filled, const std::string& verb, const std::vector<std::string>& words,
             bool expect_success) {
  for (bool json : {false, true}) {
    CAPTURE(json);
    twins t(type, key_size, value_size, entries, filled);
    const both_runs r = run_both(t, json, verb, words);
    check_same_output(r, json);
    CHECK((r.ours.status == 0) == expect_success);
    if (key_size > 0) check_same_contents(t);  // a queue has no keys to walk: its tests pop it
  }
}

#define REQUIRE_BPFTOOL()               \
  do {                                  \
    REQUIRE_KERNEL();                   \
    if (bpftool_path().empty()) return; \
  } while (0)

support::contents contents_of(const bpfbatch::map& m) { return support::reference_walk(m.fd()); }

}  // namespace

TEST_CASE("lookup of a present key prints what bpftool prints") {
  REQUIRE_BPFTOOL();
  // key 1 of support::fill holds value_bytes(8, 1, 0).
  compare(map_type::hash, 4, 8, 16, 4, "lookup", {"key", "1", "0", "0", "0"}, true);
  compare(map_type::hash, 4, 8, 16, 4, "lookup", {"key", "hex", "02", "00", "00", "00"}, true);
  compare(map_type::array, 4, 40, 4, 4, "lookup", {"key", "0x03", "0x00", "0x00", "0x00"}, true);
}

TEST_CASE("lookup of a missing key prints bpftool's Not found and fails") {
  REQUIRE_BPFTOOL();
  compare(map_type::hash, 4, 8, 16, 4, "lookup", {"key", "9", "0", "0", "0"}, false);
}

TEST_CASE("lookup with a key of the wrong size fails as bpftool's does") {
  REQUIRE_BPFTOOL();
  compare(map_type::hash, 4, 8, 16, 4, "lookup", {"key", "1", "0", "0"}, false);
  compare(map_type::hash, 4, 8, 16, 4, "lookup", {"key", "1", "0", "0", "0", "0"}, false);
  compare(map_type::hash, 4, 8, 16, 4, "lookup", {}, false);
}

TEST_CASE("lookup reads bytes as bpftool's strtoul does: decimal, 0x hexadecimal, 0-led octal") {
  REQUIRE_BPFTOOL();
  twins t(map_type::hash, 4, 8, 16, 0);
  REQUIRE(cli({"update", "pinned", t.ours.path, "key", "1", "8", "0", "0", "value", "0", "0", "0", "0", "0",
               "0", "0", "0"})
              .status == 0);
  REQUIRE(cli({"update", "pinned", t.theirs.path, "key", "1", "8", "0", "0", "value", "0", "0", "0", "0", "0",
               "0", "0", "0"})
              .status == 0);
  for (bool json : {false, true})
    check_same_output(run_both(t, json, "lookup", {"key", "0x1", "010", "0", "00"}), json);
}

TEST_CASE("update writes what bpftool writes, with each form of bytes") {
  REQUIRE_BPFTOOL();
  compare(map_type::hash, 4, 8, 16, 2, "update",
          {"key", "7", "0", "0", "0", "value", "1", "2", "3", "4", "5", "6", "7", "255"}, true);
  compare(map_type::hash, 4, 8, 16, 2, "update",
          {"key", "hex", "07", "00", "00", "00", "value", "hex", "0a", "ff", "0x10", "00", "00", "00", "00",
           "01"},
          true);
  compare(map_type::array, 4, 4, 8, 0, "update", {"key", "3", "0", "0", "0", "value", "9", "9", "9", "9"},
          true);
}

TEST_CASE("update noexist of a key in the map fails as bpftool's does and changes nothing") {
  REQUIRE_BPFTOOL();
  compare(map_type::hash, 4, 8, 16, 4, "update",
          {"key", "1", "0", "0", "0", "value", "1", "1", "1", "1", "1", "1", "1", "1", "noexist"}, false);
}

TEST_CASE("update exist of a key not in the map fails as bpftool's does and changes nothing") {
  REQUIRE_BPFTOOL();
  compare(map_type::hash, 4, 8, 16, 4, "update",
          {"key", "9", "0", "0", "0", "value", "1", "1", "1", "1", "1", "1", "1", "1", "exist"}, false);
}

TEST_CASE("update exist of a key in the map replaces its value as bpftool's does") {
  REQUIRE_BPFTOOL();
  compare(map_type::hash, 4, 8, 16, 4, "update",
          {"key", "2", "0", "0", "0", "value", "1", "1", "1", "1", "1", "1", "1", "1", "exist"}, true);
}

TEST_CASE("update noexist of a full map fails as bpftool's does and changes nothing") {
  REQUIRE_BPFTOOL();
  compare(map_type::hash, 4, 8, 4, 4, "update",
          {"key", "9", "0", "0", "0", "value", "1", "1", "1", "1", "1", "1", "1", "1", "noexist"}, false);
  compare(map_type::hash, 4, 8, 4, 4, "update",
          {"key", "9", "0", "0", "0", "value", "1", "1", "1", "1", "1", "1", "1", "1"}, false);
}

TEST_CASE("update with a value of the wrong size fails as bpftool's does and changes nothing") {
  REQUIRE_BPFTOOL();
  compare(map_type::hash, 4, 8, 16, 4, "update", {"key", "1", "0", "0", "0", "value", "1", "1", "1"}, false);
  compare(map_type::hash, 4, 8, 16, 4, "update", {"key", "1", "0", "0", "0"}, false);
  compare(map_type::hash, 4, 8, 16, 4, "update",
          {"key", "1", "0", "0", "0", "value", "1", "1", "1", "1", "1", "1", "1", "1", "1"}, false);
}

TEST_CASE("update of a frozen map fails as bpftool's does and changes nothing") {
  REQUIRE_BPFTOOL();
  for (bool json : {false, true}) {
    twins t(map_type::hash, 4, 8, 16, 4);
    REQUIRE(support::freeze(t.theirs.m.fd()) == 0);
    REQUIRE(support::freeze(t.ours.m.fd()) == 0);
    const both_runs r = run_both(
        t, json, "update", {"key", "1", "0", "0", "0", "value", "1", "1", "1", "1", "1", "1", "1", "1"});
    check_same_output(r, json);
    CHECK(r.ours.status != 0);
    CHECK(r.ours.err.find("frozen") != std::string::npos);
    check_same_contents(t);
  }
}

TEST_CASE("update of a map read-only for user space fails as bpftool's does") {
  REQUIRE_BPFTOOL();
  for (bool json : {false, true}) {
    twins t(map_type::hash, 4, 8, 16, 0, BPF_F_RDONLY);
    check_same_output(run_both(t, json, "update",
                               {"key", "1", "0", "0", "0", "value", "1", "1", "1", "1", "1", "1", "1", "1"}),
                      json);
    check_same_contents(t);
  }
}

TEST_CASE("delete removes the key as bpftool's does") {
  REQUIRE_BPFTOOL();
  compare(map_type::hash, 4, 8, 16, 4, "delete", {"key", "2", "0", "0", "0"}, true);
}

TEST_CASE("an array refuses a key past its end and any delete, as bpftool's update and delete fail") {
  REQUIRE_BPFTOOL();
  compare(map_type::array, 4, 4, 4, 4, "update", {"key", "4", "0", "0", "0", "value", "1", "1", "1", "1"},
          false);
  compare(map_type::array, 4, 4, 4, 4, "delete", {"key", "1", "0", "0", "0"}, false);
  pinned_map p(support::create(map_type::array, 4, 4, 4), "el_array");
  CHECK(cli({"update", "pinned", p.path, "key", "4", "0", "0", "0", "value", "1", "1", "1", "1"})
            .err.find("past the array's end") != std::string::npos);
  CHECK(cli({"delete", "pinned", p.path, "key", "1", "0", "0", "0"}).err.find("cannot be deleted") !=
        std::string::npos);
}

TEST_CASE("delete of a missing key fails as bpftool's does") {
  REQUIRE_BPFTOOL();
  compare(map_type::hash, 4, 8, 16, 4, "delete", {"key", "9", "0", "0", "0"}, false);
}

TEST_CASE("getnext gives the first key without a key and the next one with a key, as bpftool") {
  REQUIRE_BPFTOOL();
  // One key: twin hash maps order several keys each its own way (a random seed).
  compare(map_type::hash, 4, 8, 16, 1, "getnext", {}, true);
  compare(map_type::array, 4, 8, 16, 4, "getnext", {}, true);
  compare(map_type::array, 4, 8, 16, 4, "getnext", {"key", "3", "0", "0", "0"}, true);
}

TEST_CASE("getnext after the last key fails as bpftool's does") {
  REQUIRE_BPFTOOL();
  compare(map_type::array, 4, 8, 4, 4, "getnext", {"key", "3", "0", "0", "0"}, false);
}

TEST_CASE("push, enqueue, peek, pop and dequeue on a queue work as bpftool's") {
  REQUIRE_BPFTOOL();
  for (bool json : {false, true}) {
    twins t(map_type::queue, 0, 4, 4, 0);
    check_same_output(run_both(t, json, "push", {"value", "1", "0", "0", "0"}), json);
    check_same_output(run_both(t, json, "enqueue", {"value", "hex", "02", "00", "00", "00"}), json);
    check_same_output(run_both(t, json, "peek", {}), json);
    check_same_output(run_both(t, json, "pop", {}), json);
    check_same_output(run_both(t, json, "dequeue", {}), json);
    const both_runs empty = run_both(t, json, "pop", {});
    check_same_output(empty, json);
    CHECK(empty.ours.status != 0);
  }
}

TEST_CASE("pop of an empty queue prints bpftool's Error: empty map on stdout and fails") {
  REQUIRE_BPFTOOL();
  compare(map_type::queue, 0, 4, 4, 0, "pop", {}, false);
  compare(map_type::stack, 0, 4, 4, 0, "dequeue", {}, false);
}

TEST_CASE("peek of an empty queue prints bpftool's Not found and fails") {
  REQUIRE_BPFTOOL();
  compare(map_type::queue, 0, 4, 4, 0, "peek", {}, false);
}

TEST_CASE("push onto a full queue fails as bpftool's does") {
  REQUIRE_BPFTOOL();
  for (bool json : {false, true}) {
    twins t(map_type::queue, 0, 4, 1, 0);
    check_same_output(run_both(t, json, "push", {"value", "1", "0", "0", "0"}), json);
    const both_runs r = run_both(t, json, "push", {"value", "2", "0", "0", "0"});
    check_same_output(r, json);
    CHECK(r.ours.status != 0);
    check_same_output(run_both(t, json, "pop", {}), json);
  }
}

TEST_CASE("update of a map of maps takes the inner MAP as bpftool's update does") {
  REQUIRE_BPFTOOL();
  pinned_map inner(support::create(map_type::array, 4, 4, 2), "el_inner");
  for (bool json : {false, true}) {
    CAPTURE(json);
    pinned_map theirs(support::create(map_type::hash_of_maps, 4, 4, 4, 0, inner.m.fd()), "el_outer_theirs");
    pinned_map ours(support::create(map_type::hash_of_maps, 4, 4, 4, 0, inner.m.fd()), "el_outer_ours");
    std::vector<std::string> t = {"map", "update", "pinned", theirs.path, "key",    "1",
                                  "0",   "0",      "0",      "value",     "pinned", inner.path};
    std::vector<std::string> o = {"update", "pinned", ours.path, "key",    "1",       "0",
                                  "0",      "0",      "value",   "pinned", inner.path};
    if (json) {
      t.insert(t.begin(), "-j");
      o.insert(o.begin(), "-j");
    }
    check_same_output({run_program(bpftool_path(), t), cli(o)}, json);
    const auto c = contents_of(ours.m);
    CHECK(c == contents_of(theirs.m));
    REQUIRE(c.size() == 1);
    std::uint32_t id = 0;
    std::memcpy(&id, c.begin()->second.front().data(), sizeof(id));
    CHECK(id == inner.m.info().id);
  }
  pinned_map outer(support::create(map_type::hash_of_maps, 4, 4, 4, 0, inner.m.fd()), "el_outer");
  const auto bytes =
      cli({"update", "pinned", outer.path, "key", "1", "0", "0", "0", "value", "1", "0", "0", "0"});
  CHECK(bytes.status == 2);
  CHECK(bytes.err.find("id N, pinned PATH or name NAME") != std::string::npos);
  const auto missing =
      cli({"update", "pinned", outer.path, "key", "1", "0", "0", "0", "value", "id", "4294967295"});
  CHECK(missing.status == 1);
  CHECK(contents_of(outer.m).empty());
}

TEST_CASE("update of a per-CPU map with one value writes it on every CPU, as bpftool") {
  REQUIRE_BPFTOOL();
  compare(map_type::percpu_hash, 4, 4, 16, 2, "update",
          {"key", "5", "0", "0", "0", "value", "7", "0", "0", "1"}, true);
  compare(map_type::percpu_array, 4, 12, 4, 0, "update",
          {"key", "1", "0", "0", "0", "value", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"},
          true);
}

TEST_CASE("lookup of a per-CPU map prints each CPU's value as bpftool") {
  REQUIRE_BPFTOOL();
  compare(map_type::percpu_hash, 4, 4, 16, 3, "lookup", {"key", "1", "0", "0", "0"}, true);
  compare(map_type::percpu_array, 4, 20, 4, 4, "lookup", {"key", "2", "0", "0", "0"}, true);
}

TEST_CASE("update of a per-CPU map takes one value for each possible CPU") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::percpu_hash, 4, 4, 4), "el_percpu");
  const std::uint32_t cpus = p.m.info().value_copies;
  std::vector<std::string> words = {"update", "pinned", p.path, "key", "1", "0", "0", "0", "value"};
  for (std::uint32_t cpu = 0; cpu < cpus; ++cpu)
    for (int b = 0; b < 4; ++b) words.push_back(std::to_string(b == 0 ? (cpu + 1) % 256 : 0));
  const auto r = cli(words);
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto c = contents_of(p.m);
  REQUIRE(c.size() == 1);
  const auto& values = c.begin()->second;
  REQUIRE(values.size() == cpus);
  for (std::uint32_t cpu = 0; cpu < cpus; ++cpu)
    CHECK(std::to_integer<unsigned>(values[cpu][0]) == (cpu + 1) % 256);
}

TEST_CASE("hex bytes a and e in every CPU's value are bytes, not the flags any and exist") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::percpu_hash, 4, 4, 4), "el_percpu_hex");
  const std::uint32_t cpus = p.m.info().value_copies;
  if (cpus < 2) return;  // one CPU: no other CPU's bytes to read
  for (const std::string last : {"a", "e"}) {
    CAPTURE(last);
    std::vector<std::string> words = {"update", "pinned", p.path, "key", "1", "0", "0", "0", "value", "hex"};
    for (std::uint32_t cpu = 0; cpu < cpus; ++cpu)
      for (int b = 0; b < 4; ++b) words.push_back(cpu + 1 == cpus && b == 3 ? last : "1");
    const auto r = cli(words);
    INFO(r.err);
    REQUIRE(r.status == 0);
    const auto c = contents_of(p.m);
    REQUIRE(c.size() == 1);
    CHECK(std::to_integer<unsigned>(c.begin()->second[cpus - 1][3]) == std::stoul(last, nullptr, 16));
  }
}

TEST_CASE("a per-CPU value for another number of CPUs is refused and changes nothing") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::percpu_hash, 4, 4, 4), "el_percpu");
  const std::uint32_t cpus = p.m.info().value_copies;
  std::vector<std::string> words = {"update", "pinned", p.path, "key", "1", "0", "0", "0", "value"};
  for (std::uint32_t i = 0; i < 4 * (cpus + 1); ++i) words.push_back("1");
  const auto r = cli(words);
  CHECK(r.status == 2);
  CHECK(r.err.find("possible CPUs") != std::string::npos);
  CHECK(contents_of(p.m).empty());
}

TEST_CASE("words that are not bytes are refused, naming the word, and change nothing") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 4, 4), "el_bytes");
  for (const std::vector<std::string>& key :
       std::vector<std::vector<std::string>>{{"256", "0", "0", "0"},
                                             {"hex", "0g", "0", "0", "0"},
                                             {"hex", "100", "0", "0", "0"},
                                             {"0x", "0", "0", "0"},
                                             {"", "0", "0", "0"},
                                             {"+1", "0", "0", "0"},
                                             {" 1", "0", "0", "0"},
                                             {"08", "0", "0", "0"},
                                             {"99999999999999999999", "0", "0", "0"}}) {
    std::vector<std::string> words = {"update", "pinned", p.path, "key"};
    words.insert(words.end(), key.begin(), key.end());
    words.insert(words.end(), {"value", "1", "1", "1", "1"});
    const auto r = cli(words);
    CAPTURE(key.front());
    CHECK(r.status == 2);
    CHECK(r.err.find("error parsing byte") != std::string::npos);
    CHECK(r.out.empty());
  }
  // A negative byte looks like an option.
  CHECK(cli({"update", "pinned", p.path, "key", "-1", "0", "0", "0", "value", "1", "1", "1", "1"}).status ==
        2);
  CHECK(contents_of(p.m).empty());
}

TEST_CASE("misplaced and repeated words are refused as bpftool refuses them") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 4, 4), "el_words");
  struct refusal {
    std::vector<std::string> words;
    const char* message;
  };
  for (const refusal& c : std::vector<refusal>{
           {{"update", "pinned", p.path, "key", "1", "0", "0", "0"}, "did not find value"},
           {{"update", "pinned", p.path, "value", "1", "0", "0", "0"}, "did not find key"},
           {{"update", "pinned", p.path, "key", "1", "0", "0", "0", "key", "1", "0", "0", "0"},
            "duplicate key"},
           {{"update", "pinned", p.path, "key", "1", "0", "0", "0", "value", "1", "0", "0", "0", "any",
             "exist"},
            "flags specified multiple times"},
           {{"lookup", "pinned", p.path, "key", "1", "0", "0", "0", "value", "1", "0", "0", "0"},
            "unnecessary value"},
           {{"lookup", "pinned", p.path, "key", "1", "0", "0", "0", "junk"},
            "expected key or value, got: junk"},
           {{"pin", "pinned", p.path}, "takes one FILE"},
           {{"freeze", "pinned", p.path, "now"}, "unexpected argument"},
       }) {
    const auto r = cli(c.words);
    CAPTURE(c.message);
    CHECK(r.status == 2);
    CHECK(r.err.find(c.message) != std::string::npos);
  }
  CHECK(contents_of(p.m).empty());
}

TEST_CASE("a queue takes no key, and pop of a map with keys is refused") {
  REQUIRE_KERNEL();
  pinned_map q(support::create(map_type::queue, 0, 4, 4), "el_queue");
  const auto keyed = cli({"push", "pinned", q.path, "key", "1", "value", "1", "0", "0", "0"});
  CHECK(keyed.status == 2);
  CHECK(keyed.err.find("unnecessary key") != std::string::npos);
  pinned_map h(support::create(map_type::hash, 4, 4, 4), "el_hash");
  support::fill(h.m, 2);
  const auto popped = cli({"pop", "pinned", h.path});
  CHECK(popped.status == 1);
  CHECK(contents_of(h.m).size() == 2);
}

TEST_CASE("an id that names no map fails with a message, and -j prints an error object on stdout") {
  REQUIRE_KERNEL();
  const auto plain = cli({"lookup", "id", "4294967295", "key", "1", "0", "0", "0"});
  CHECK(plain.status == 1);
  CHECK(plain.out.empty());
  CHECK(plain.err.find("id 4294967295: no such map") != std::string::npos);
  const auto j = cli({"-j", "lookup", "id", "4294967295", "key", "1", "0", "0", "0"});
  CHECK(j.status == 1);
  const auto doc = json::parse(j.out);
  REQUIRE(doc.has_value());
  REQUIRE(doc->find("error") != nullptr);
  CHECK(doc->find("error")->text.find("no such map") != std::string::npos);
}

TEST_CASE("pin pins the map as bpftool's pin does") {
  REQUIRE_BPFTOOL();
  for (bool json : {false, true}) {
    twins t(map_type::hash, 4, 8, 16, 2);
    const std::string theirs_pin = t.theirs.path + "_pin", ours_pin = t.ours.path + "_pin";
    const auto theirs =
        run_program(bpftool_path(),
                    json ? std::vector<std::string>{"-j", "map", "pin", "pinned", t.theirs.path, theirs_pin}
                         : std::vector<std::string>{"map", "pin", "pinned", t.theirs.path, theirs_pin});
    const auto ours = cli(json ? std::vector<std::string>{"-j", "pin", "pinned", t.ours.path, ours_pin}
                               : std::vector<std::string>{"pin", "pinned", t.ours.path, ours_pin});
    check_same_output({theirs, ours}, json);
    auto again = map::open_pinned(ours_pin.c_str());
    REQUIRE(again.has_value());
    CHECK(again->info().id == t.ours.m.info().id);
    ::unlink(theirs_pin.c_str());
    ::unlink(ours_pin.c_str());
  }
}

TEST_CASE("pin onto an existing path fails as bpftool's does and leaves the file") {
  REQUIRE_BPFTOOL();
  for (bool json : {false, true}) {
    twins t(map_type::hash, 4, 8, 16, 2);
    both_runs r = run_both(t, json, "pin", {t.theirs.path});
    r.ours = cli(json ? std::vector<std::string>{"-j", "pin", "pinned", t.ours.path, t.theirs.path}
                      : std::vector<std::string>{"pin", "pinned", t.ours.path, t.theirs.path});
    check_same_output(r, json);
    CHECK(r.ours.err.find("a file is already there") != std::string::npos);
    auto still = map::open_pinned(t.theirs.path.c_str());
    REQUIRE(still.has_value());
    CHECK(still->info().id == t.theirs.m.info().id);
  }
}

TEST_CASE("pin outside a BPF filesystem, or at a path with control characters, fails with the path escaped") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 4, 4), "el_pin");
  const auto outside = cli({"pin", "pinned", p.path, "/tmp/bpfbatch-not-bpffs"});
  CHECK(outside.status == 1);
  CHECK(outside.err.find("BPF filesystem") != std::string::npos);
  const auto control = cli({"pin", "pinned", p.path, p.path + "_no_dir\n/x"});
  CHECK(control.status == 1);
  CHECK(control.err.find("_no_dir\\x0a/x: no such directory") != std::string::npos);
  CHECK(control.err.find('\n') == control.err.size() - 1);
}

TEST_CASE("freeze freezes the map as bpftool's freeze does") {
  REQUIRE_BPFTOOL();
  for (bool json : {false, true}) {
    twins t(map_type::hash, 4, 8, 16, 2);
    check_same_output(run_both(t, json, "freeze", {}), json);
    CHECK(t.ours.m.status()->frozen);
    CHECK(t.theirs.m.status()->frozen);
  }
}

TEST_CASE("freeze of a frozen map fails as bpftool's does") {
  REQUIRE_BPFTOOL();
  for (bool json : {false, true}) {
    twins t(map_type::hash, 4, 8, 16, 2);
    REQUIRE(run_both(t, json, "freeze", {}).ours.status == 0);
    const both_runs r = run_both(t, json, "freeze", {});
    check_same_output(r, json);
    CHECK(r.ours.status != 0);
  }
}

TEST_CASE("create makes the map bpftool's create makes") {
  REQUIRE_BPFTOOL();
  const std::string dir = support::bpffs_dir();
  for (bool json : {false, true}) {
    const std::string theirs = dir + "/el_create_theirs", ours = dir + "/el_create_ours";
    std::vector<std::string> words = {"type",    "lru_hash", "key",  "8",       "value", "16",
                                      "entries", "32",       "name", "el_made", "flags", "0x2"};
    std::vector<std::string> theirs_args = {"map", "create", theirs}, ours_args = {"create", ours};
    if (json) {
      theirs_args.insert(theirs_args.begin(), "-j");
      ours_args.insert(ours_args.begin(), "-j");
    }
    theirs_args.insert(theirs_args.end(), words.begin(), words.end());
    ours_args.insert(ours_args.end(), words.begin(), words.end());
    check_same_output({run_program(bpftool_path(), theirs_args), cli(ours_args)}, json);
    auto a = map::open_pinned(theirs.c_str());
    auto b = map::open_pinned(ours.c_str());
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(b->info().type == a->info().type);
    CHECK(b->info().key_size == a->info().key_size);
    CHECK(b->info().value_size == a->info().value_size);
    CHECK(b->info().max_entries == a->info().max_entries);
    CHECK(b->info().map_flags == a->info().map_flags);
    CHECK(b->info().name() == a->info().name());
    ::unlink(theirs.c_str());
    ::unlink(ours.c_str());
  }
}

TEST_CASE("create of a hash of maps takes its inner map as bpftool's create does") {
  REQUIRE_BPFTOOL();
  pinned_map inner(support::create(map_type::array, 4, 4, 2), "el_inner");
  const std::string dir = support::bpffs_dir();
  const std::string theirs = dir + "/el_outer_theirs", ours = dir + "/el_outer_ours";
  const std::vector<std::string> words = {"type",      "hash_of_maps", "key",     "4",    "value",
                                          "4",         "entries",      "8",       "name", "el_outer",
                                          "inner_map", "pinned",       inner.path};
  std::vector<std::string> theirs_args = {"map", "create", theirs}, ours_args = {"create", ours};
  theirs_args.insert(theirs_args.end(), words.begin(), words.end());
  ours_args.insert(ours_args.end(), words.begin(), words.end());
  check_same_output({run_program(bpftool_path(), theirs_args), cli(ours_args)}, false);
  auto b = map::open_pinned(ours.c_str());
  REQUIRE(b.has_value());
  CHECK(b->info().type == map_type::hash_of_maps);
  ::unlink(theirs.c_str());
  ::unlink(ours.c_str());
}

TEST_CASE("create refuses an unknown type, a missing name and a name too long, creating nothing") {
  REQUIRE_KERNEL();
  const std::string path = support::bpffs_dir() + "/el_refused";
  for (const std::vector<std::string>& words : std::vector<std::vector<std::string>>{
           {"create", path, "type", "hashish", "key", "4", "value", "4", "entries", "4", "name", "x"},
           {"create", path, "type", "hash", "key", "4", "value", "4", "entries", "4"},
           {"create", path, "type", "hash", "key", "4", "value", "4", "entries", "4", "name",
            "sixteen_chars_xx"},
           {"create", path, "type", "hash", "key", "four", "value", "4", "entries", "4", "name", "x"},
           {"create", path, "type", "hash", "key", "4", "value", "4", "entries", "4", "name"},
           {"create", path, "type", "hash", "key", "4", "value", "4", "entries", "4", "name", "x",
            "inner_map", "id", "x"}}) {
    const auto r = cli(words);
    CHECK(r.status == 2);
    CHECK(::access(path.c_str(), F_OK) != 0);
  }
  const auto kernel =
      cli({"create", path, "type", "hash", "key", "0", "value", "4", "entries", "4", "name", "x"});
  CHECK(kernel.status == 1);
  CHECK(::access(path.c_str(), F_OK) != 0);
}

TEST_CASE("create refuses a size, entries or flags given twice, as bpftool's create does, creating nothing") {
  REQUIRE_BPFTOOL();
  const std::string ours = support::bpffs_dir() + "/el_twice_ours";
  const std::string theirs = support::bpffs_dir() + "/el_twice_theirs";
  const std::vector<std::string> base = {"type", "hash",    "key", "4",    "value",
                                         "4",    "entries", "4",   "name", "x"};
  for (const std::vector<std::string>& again : std::vector<std::vector<std::string>>{
           {"key", "8"}, {"value", "8"}, {"entries", "8"}, {"flags", "1", "flags", "0"}}) {
    std::vector<std::string> o = {"create", ours}, t = {"map", "create", theirs};
    for (const auto* words : {&base, &again}) {
      o.insert(o.end(), words->begin(), words->end());
      t.insert(t.end(), words->begin(), words->end());
    }
    CAPTURE(again.front());
    const auto r = cli(o);
    const auto b = run_program(bpftool_path(), t);
    CHECK(b.status != 0);
    CHECK(r.status == 2);
    CHECK(r.err.find("already specified") != std::string::npos);
    CHECK(::access(ours.c_str(), F_OK) != 0);
    ::unlink(theirs.c_str());
  }
}

TEST_CASE("lookup of a map with BTF prints bpftool's formatted form") {
  REQUIRE_BPFTOOL();
  for (bool json : {false, true}) {
    CAPTURE(json);
    pinned_map theirs(support::create_spin_lock_map(map_type::hash, 8), "el_btf_theirs");
    pinned_map ours(support::create_spin_lock_map(map_type::hash, 8), "el_btf_ours");
    support::fill_spin_lock_map(theirs.m, 3);
    support::fill_spin_lock_map(ours.m, 3);
    std::vector<std::string> t = {"map", "lookup", "pinned", theirs.path, "key", "2", "0", "0", "0"};
    std::vector<std::string> o = {"lookup", "pinned", ours.path, "key", "2", "0", "0", "0"};
    if (json) {
      t.insert(t.begin(), "-j");
      o.insert(o.begin(), "-j");
    }
    const both_runs r{run_program(bpftool_path(), t), cli(o)};
    check_same_output(r, json);
    CHECK(r.ours.out.find("\"a\"") != std::string::npos);
  }
}

TEST_CASE("-p indents lookup, getnext and pop as bpftool -p does, byte for byte") {
  REQUIRE_BPFTOOL();
  twins t(map_type::percpu_array, 4, 8, 16, 4);  // an array: both walks start at key 0
  for (const auto& run :
       std::vector<std::pair<std::string, std::vector<std::string>>>{{"lookup", {"key", "1", "0", "0", "0"}},
                                                                     {"lookup", {"key", "20", "0", "0", "0"}},
                                                                     {"getnext", {}}}) {
    const auto& [verb, words] = run;
    CAPTURE(run.first);  // clang 14 captures no structured binding
    std::vector<std::string> theirs = {"-p", "map", verb, "pinned", t.theirs.path};
    std::vector<std::string> ours = {"-p", verb, "pinned", t.ours.path};
    theirs.insert(theirs.end(), words.begin(), words.end());
    ours.insert(ours.end(), words.begin(), words.end());
    const both_runs r{run_program(bpftool_path(), theirs), cli(ours)};
    CHECK((r.ours.status == 0) == (r.theirs.status == 0));
    CHECK(r.ours.out == r.theirs.out);
  }
  map queue = support::create(map_type::queue, 0, 4, 4);
  const std::uint32_t value = 7;
  REQUIRE(queue.push(std::as_bytes(std::span(&value, 1))));
  pinned_map q(std::move(queue), "el_pretty_queue");
  // bpftool -p map pop's output, as bpftool 7 prints it.
  CHECK(cli({"pop", "pinned", q.path, "-p"}).out ==
        "{\n    \"key\": [],\n    \"value\": [\"0x07\",\"0x00\",\"0x00\",\"0x00\"\n    ]\n}\n");
}

namespace {

// A queue of 7 then 8, or a stack with 8 on top of 7.
pinned_map seven_then_eight(map_type type, const std::string& name) {
  map m = support::create(type, 0, 4, 4);
  for (std::uint32_t v : {7u, 8u}) REQUIRE(m.push(std::as_bytes(std::span(&v, 1))));
  return pinned_map(std::move(m), name);
}

std::vector<std::uint32_t> popped_all(const bpfbatch::map& m) {
  std::vector<std::uint32_t> values;
  std::uint32_t v = 0;
  while (m.pop(std::as_writable_bytes(std::span(&v, 1)))) values.push_back(v);
  return values;
}

}  // namespace

TEST_CASE("pop whose value cannot be printed (a full disk) puts it back and fails") {
  REQUIRE_KERNEL();
  pinned_map stack = seven_then_eight(map_type::stack, "el_pop_full");
  const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  REQUIRE(full >= 0);
  const auto r = cli({"pop", "pinned", stack.path}, {.stdout_fd = full});
  ::close(full);
  CHECK(r.status == 1);
  CHECK(r.err.find("put back") != std::string::npos);
  CHECK(popped_all(stack.m) == std::vector<std::uint32_t>{8, 7});
}

TEST_CASE("dequeue into a pipe nobody reads puts the value back, at the queue's end") {
  REQUIRE_KERNEL();
  pinned_map queue = seven_then_eight(map_type::queue, "el_pop_pipe");
  const auto r = cli({"-j", "dequeue", "pinned", queue.path}, {.stdout_closed = true});
  CHECK(r.status == 1);
  CHECK(popped_all(queue.m) == std::vector<std::uint32_t>{8, 7});
}
