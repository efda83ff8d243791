// The bpfbatch tool, run as a user runs it, on maps the tests create and pin.
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bpf_objects.hpp"
#include "cli_support.hpp"
#include "json.hpp"
#include "support.hpp"

using namespace bpfbatch;
using namespace cli_support;

namespace {

// The decimal digits of `digits` times `factor`, by hand: no 128-bit type
// on 32-bit targets, and independent of the tool's own arithmetic.
std::string decimal_times(const std::string& digits, std::uint32_t factor) {
  std::string out;
  std::uint64_t carry = 0;
  for (auto d = digits.rbegin(); d != digits.rend(); ++d) {
    carry += std::uint64_t(*d - '0') * factor;
    out.insert(out.begin(), static_cast<char>('0' + carry % 10));
    carry /= 10;
  }
  for (; carry != 0; carry /= 10) out.insert(out.begin(), static_cast<char>('0' + carry % 10));
  return out;
}

// A plain dump's entries (each from a "key:" line to the next), sorted, and
// its last line: the same for any order of the entries.
std::vector<std::string> plain_entries(const std::string& text) {
  std::vector<std::string> entries;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t next = text.find("\nkey:", at);
    next = next == std::string::npos ? text.size() : next + 1;
    entries.push_back(text.substr(at, next - at));
    at = next;
  }
  if (!entries.empty()) {  // the last entry holds the "Found" line: apart
    const std::size_t found = entries.back().rfind("Found ");
    if (found != std::string::npos) {
      entries.push_back(entries.back().substr(found));
      entries[entries.size() - 2].resize(found);
    }
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

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

TEST_CASE("dump --threads prints every entry once, in one document, as bpftool does in any order") {
  REQUIRE_KERNEL();
  const std::string bpftool = bpftool_path();
  for (map_type type : {map_type::hash, map_type::percpu_hash, map_type::array, map_type::lpm_trie}) {
    INFO(map_type_name(type));
    const bool lpm = type == map_type::lpm_trie;
    pinned_map p(support::create(type, lpm ? 8 : 4, 8, 20'000, lpm ? BPF_F_NO_PREALLOC : 0), "cli_threads");
    support::fill(p.m, 12'345);
    const support::contents truth = support::reference_walk(p.m.fd());
    const auto one = cli({"dump", "pinned", p.path});
    REQUIRE(one.status == 0);
    for (const char* threads : {"2", "5", "auto"}) {
      INFO("--threads ", threads);
      auto r = cli({"dump", "pinned", p.path, "-j", "--threads", threads, "--batch-size", "1000"});
      REQUIRE(r.status == 0);
      CHECK(entries_of(r.out) == truth);  // parsed as one JSON array, no key twice
      CHECK(plain_entries(cli({"dump", "pinned", p.path, "--threads", threads}).out) ==
            plain_entries(one.out));
      CHECK(cli({"dump", "pinned", p.path, "--count", "--threads", threads}).out ==
            std::to_string(truth.size()) + "\n");
    }
    if (!bpftool.empty())
      CHECK(entries_of(run_program(bpftool, {"-j", "map", "dump", "pinned", p.path}).out) == truth);
    if (type == map_type::array) continue;  // arrays cannot be drained
    auto drained = cli({"drain", "pinned", p.path, "-j", "--threads", "3"});
    REQUIRE(drained.status == 0);
    CHECK(entries_of(drained.out) == truth);
    CHECK(support::reference_walk(p.m.fd()).empty());
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
    CHECK(sum.items[1].text == decimal_times(std::to_string(~std::uint64_t{0}), cpus));
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

namespace {

// bpftool's plain map show line for BTF: "\tbtf_id N" (then "  frozen" for
// a frozen map), or nothing when the map has no BTF.
std::string plain_btf_id(const std::string& shown) {
  constexpr std::string_view label = "\n\tbtf_id ";
  const auto at = shown.find(label);
  if (at == std::string::npos) return {};
  const auto start = at + label.size();
  return shown.substr(start, shown.find_first_not_of("0123456789", start) - start);
}

}  // namespace

TEST_CASE("info shows a map's btf_id where bpftool's map show does, in JSON and plain") {
  REQUIRE_KERNEL();
  const bpf_objects::btf_maps object;
  if (!object.loaded()) return;
  const std::string bpftool = bpftool_path();
  std::size_t with_btf = 0;
  for (const auto& pinned : object.map_paths()) {
    // Named copies: clang 14 does not let INFO's lambda capture a binding.
    const std::string& name = pinned.first;
    const std::string& path = pinned.second;
    INFO("map ", name);
    const auto theirs = json::parse(run_program(bpftool, {"-j", "map", "show", "pinned", path}).out);
    const auto ours = json::parse(cli({"info", "pinned", path, "-j"}).out);
    REQUIRE(theirs.has_value());
    REQUIRE(ours.has_value());
    const auto* their_id = theirs->find("btf_id");
    const auto* our_id = ours->find("btf_id");
    REQUIRE((their_id == nullptr) == (our_id == nullptr));
    if (their_id != nullptr) CHECK(our_id->text == their_id->text);
    const std::string their_plain = plain_btf_id(run_program(bpftool, {"map", "show", "pinned", path}).out);
    const auto our_plain = cli({"info", "pinned", path}).out;
    CHECK(plain_btf_id(our_plain) == their_plain);
    if (!their_plain.empty()) {
      // "btf_id N" ends its line, or "  frozen" follows it (bpftool's layout).
      const auto at = our_plain.find("\n\tbtf_id " + their_plain);
      REQUIRE(at != std::string::npos);
      const std::string rest = our_plain.substr(at + 9 + their_plain.size());
      CHECK((rest.starts_with("\n") || rest.starts_with("  frozen\n")));
      ++with_btf;
    }
  }
  CHECK(with_btf == object.map_paths().size() - 2);  // all but the two maps of maps
}

TEST_CASE("info names the key and value types from the map's BTF, as btf_maps.bpf.c declares them") {
  REQUIRE_KERNEL();
  const bpf_objects::btf_maps object;
  if (!object.loaded()) return;
  const std::string bpftool = bpftool_path();
  struct expected {
    const char* map;
    const char* key;  // nullptr: the map names no key type (libbpf's global data)
    const char* value;
  };
  const expected maps[] = {{"hash_all", "struct flow_key", "struct all_types"},
                           {"array_all", "__u32", "struct all_types"},
                           {"percpu_hash", "__u32", "struct stats"},
                           {"lpm", "struct lpm_key", "enum verdict"},
                           {"flows", "__u32", "struct flow_record"},
                           {"btf_maps_bss", nullptr, ".bss"},
                           {"btf_maps_rodata", nullptr, ".rodata"}};
  for (const auto& e : maps) {
    INFO("map ", std::string(e.map));
    const auto m = object.open(e.map);
    const auto ours = json::parse(cli({"info", "pinned", object.map_path(e.map), "-j"}).out);
    REQUIRE(ours.has_value());
    CHECK(ours->find("btf_key_type_id")->number == m.info().btf_key_type_id);
    CHECK(ours->find("btf_value_type_id")->number == m.info().btf_value_type_id);
    if (e.key == nullptr)
      CHECK(ours->find("key_type")->type == json::value::kind::null);
    else
      CHECK(ours->find("key_type")->text == e.key);
    CHECK(ours->find("value_type")->text == e.value);
    // bpftool's own reading of the kernel's BTF: the ids name those types.
    const auto dumped =
        json::parse(run_program(bpftool, {"-j", "btf", "dump", "id", std::to_string(m.info().btf_id)}).out);
    REQUIRE(dumped.has_value());
    const auto& types = dumped->find("types")->items;
    REQUIRE(types.size() >= m.info().btf_value_type_id);
    const auto& value_record = types[m.info().btf_value_type_id - 1];
    CHECK(std::string(e.value).ends_with(value_record.find("name")->text));
    const auto plain = cli({"info", "pinned", object.map_path(e.map)}).out;
    CHECK(plain.find(std::string("\n\tkey type ") + (e.key ? e.key : "none") + "  value type " + e.value +
                     "\n") != std::string::npos);
  }
}

TEST_CASE("info of a map without BTF prints no BTF fields") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 4), "cli_no_btf_info");
  const auto ours = json::parse(cli({"info", "pinned", p.path, "-j"}).out);
  REQUIRE(ours.has_value());
  for (const char* field : {"btf_id", "btf_key_type_id", "btf_value_type_id", "key_type", "value_type"})
    CHECK(ours->find(field) == nullptr);
  const auto plain = cli({"info", "pinned", p.path}).out;
  CHECK(plain.find("btf_id") == std::string::npos);
  CHECK(plain.find("key type") == std::string::npos);
}

TEST_CASE("info without CAP_SYS_ADMIN shows the BTF ids but says the types are unknown") {
  REQUIRE_KERNEL();
  const bpf_objects::btf_maps object;
  if (!object.loaded()) return;
  const std::string path = object.map_path("hash_all");
  const auto r = cli({"info", "pinned", path, "-j"}, {.without_capabilities = true});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto ours = json::parse(r.out);
  REQUIRE(ours.has_value());
  CHECK(ours->find("btf_id")->number == object.open("hash_all").info().btf_id);
  CHECK(ours->find("key_type")->type == json::value::kind::null);
  CHECK(ours->find("value_type")->type == json::value::kind::null);
  const auto plain = cli({"info", "pinned", path}, {.without_capabilities = true});
  CHECK(plain.out.find("\tkey and value types: unknown (reading BTF needs CAP_SYS_ADMIN)\n") !=
        std::string::npos);
}

TEST_CASE("list shows each map's btf_id as bpftool's map show does") {
  REQUIRE_KERNEL();
  const bpf_objects::btf_maps object;
  if (!object.loaded()) return;
  const std::string bpftool = bpftool_path();
  const auto listed = json::parse(cli({"list", "-j"}).out);
  REQUIRE(listed.has_value());
  const auto plain = cli({"list"}).out;
  for (const auto& pinned : object.map_paths()) {
    // Named copies: clang 14 does not let INFO's lambda capture a binding.
    const std::string& name = pinned.first;
    const std::string& path = pinned.second;
    INFO("map ", name);
    const auto theirs = json::parse(run_program(bpftool, {"-j", "map", "show", "pinned", path}).out);
    REQUIRE(theirs.has_value());
    const json::value* ours = nullptr;
    for (const auto& entry : listed->items)
      if (entry.find("id")->text == theirs->find("id")->text) ours = &entry;
    REQUIRE(ours != nullptr);
    const auto* their_id = theirs->find("btf_id");
    REQUIRE((their_id == nullptr) == (ours->find("btf_id") == nullptr));
    if (their_id != nullptr) CHECK(ours->find("btf_id")->text == their_id->text);
    // The map's plain entry: its "ID: " line and the tab-indented ones after.
    const std::string lines = "\n" + plain;
    auto start = lines.find("\n" + theirs->find("id")->text + ": ");
    REQUIRE(start != std::string::npos);
    auto end = lines.find('\n', start + 1);
    while (end != std::string::npos && end + 1 < lines.size() && lines[end + 1] == '\t')
      end = lines.find('\n', end + 1);
    const std::string entry = lines.substr(start, end - start);
    CHECK(plain_btf_id(entry) == plain_btf_id(run_program(bpftool, {"map", "show", "pinned", path}).out));
  }
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
  CHECK(r.err ==
        "bpfbatch: id " + std::to_string(m.info().id) + ": permission denied (needs CAP_SYS_ADMIN)\n");
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
                                                                {"dump", "id", "1", "--threads", "0"},
                                                                {"dump", "id", "1", "--threads", "65"},
                                                                {"dump", "id", "1", "--threads", "many"},
                                                                {"info", "id", "1", "--threads", "2"},
                                                                {"dump", "name", "a_name_of_16_chr"},
                                                                {"dump", "id", "1", "--sum", "--count"},
                                                                {"info", "id", "1", "--sum"},
                                                                {"info", "id", "1", "--entries", "5"},
                                                                {"info", "id", "1", "--no-btf"},
                                                                {"list", "--no-btf"},
                                                                {"demo", "--no-btf"},
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

TEST_CASE("--no-btf is a dump and drain option: elsewhere a usage error that names it") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"info", "id", "1", "--no-btf"}, {"list", "--no-btf", "-j"}, {"demo", "--no-btf"}}) {
    auto r = cli(args);
    INFO("args: ", args[0]);
    CHECK(r.status == 2);
    CHECK(r.err == "bpfbatch: --no-btf applies to dump and drain\nTry 'bpfbatch --help'.\n");
  }
  CHECK(cli({"dump", "--help"}).out.find("--no-btf           print the hex form only") != std::string::npos);
}

TEST_CASE(
    "dump --no-btf of maps with BTF prints the hex form only: every entry's bytes, no formatted fields") {
  REQUIRE_KERNEL();
  const bpf_objects::btf_maps object;
  if (!object.loaded()) return;
  bpf_objects::fill_btf_maps(object);
  for (const char* name : {"hash_all", "percpu_hash", "lpm", "floats", "btf_maps_data"}) {
    INFO("map ", std::string(name));
    const auto m = object.open(name);
    const auto truth = support::reference_walk(m.fd());
    REQUIRE(!truth.empty());
    const auto json_dump = cli({"dump", "pinned", object.map_path(name), "-j", "--no-btf"});
    REQUIRE(json_dump.status == 0);
    CHECK(entries_of(json_dump.out) == truth);
    CHECK(json_dump.out.find("\"formatted\"") == std::string::npos);
    // Entries on one line, as complete_plain_entries reads them: bpftool's
    // print_entry_plain breaks longer ones, and per-CPU values, over lines.
    const auto& info = m.info();
    if (info.per_cpu_values() || info.key_size > 16 || info.value_size > 16 ||
        info.key_size + info.value_size > 24)
      continue;
    const auto plain = cli({"dump", "pinned", object.map_path(name), "--no-btf"});
    REQUIRE(plain.status == 0);
    CHECK(complete_plain_entries(plain.out) == truth);
  }
}

TEST_CASE("drain --no-btf takes the option and prints every entry's bytes") {
  REQUIRE_KERNEL();
  const bpf_objects::btf_maps object;
  if (!object.loaded()) return;
  bpf_objects::fill_btf_maps(object, 100);
  const auto m = object.open("flows");
  const auto truth = support::reference_walk(m.fd());
  REQUIRE(truth.size() == 100);
  const auto r = cli({"drain", "pinned", object.map_path("flows"), "-j", "--no-btf"});
  REQUIRE(r.status == 0);
  CHECK(entries_of(r.out) == truth);
  CHECK(support::reference_walk(m.fd()).empty());
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

TEST_CASE("info says how a drain removes the map's entries") {
  REQUIRE_KERNEL();
  const bool hash_batches = support::kernel_has_batch(map_type::hash, command::map_lookup_and_delete_batch);
  struct expectation {
    map_type type;
    std::uint32_t key_size, flags;
    const char* plain;
    const char* json;
  };
  for (const expectation& e :
       {expectation{
            map_type::hash, 4, 0,
            hash_batches ? "drain: atomic (BPF_MAP_LOOKUP_AND_DELETE_BATCH)" : "drain: lookup then delete",
            hash_batches ? "batch_command" : "lookup_then_delete"},
        expectation{map_type::lpm_trie, 8, BPF_F_NO_PREALLOC, "drain: lookup then delete (not atomic",
                    "lookup_then_delete"},
        expectation{map_type::queue, 0, 0, "drain: atomic (pops)", "pop"},
        expectation{map_type::array, 4, 0, "drain: not possible for this map type", "impossible"}}) {
    INFO(map_type_name(e.type));
    pinned_map p(support::create(e.type, e.key_size, 8, 16, e.flags), "cli_info_drain");
    auto plain = cli({"info", "pinned", p.path});
    CHECK(plain.status == 0);
    CHECK(plain.out.find(e.plain) != std::string::npos);
    auto json = cli({"info", "pinned", p.path, "-j"});
    REQUIRE(json.status == 0);
    auto v = json::parse(json.out);
    REQUIRE(v);
    REQUIRE(v->find("drain") != nullptr);
    CHECK(v->find("drain")->text == e.json);
  }
}

namespace {

// A pin its owner may only read (0444), and a tool that runs as that owner
// without CAP_DAC_OVERRIDE: file permissions apply.
run_options as_reader_of_0444_pin() {
  return {.before_exec = [] {
    if (!support::drop_capabilities({CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER})) ::_exit(121);
  }};
}

}  // namespace

TEST_CASE("a pin the user may read but not write dumps, and the drain alone is refused") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 100), "cli_read_only_pin");
  support::fill(p.m, 50);
  REQUIRE(::chmod(p.path.c_str(), 0444) == 0);
  const auto before = support::reference_walk(p.m.fd());
  auto dump = cli({"dump", "pinned", p.path, "-j"}, as_reader_of_0444_pin());
  INFO(dump.err);
  CHECK(dump.status == 0);
  CHECK(entries_of(dump.out) == before);
  auto info = cli({"info", "pinned", p.path}, as_reader_of_0444_pin());
  CHECK(info.status == 0);
  CHECK(info.out.find("update unknown") != std::string::npos);  // no writable descriptor to probe with
  auto drain = cli({"drain", "pinned", p.path}, as_reader_of_0444_pin());
  CHECK(drain.status == 1);
  CHECK(drain.out.empty());
  CHECK(drain.err.find("permission denied") != std::string::npos);
  CHECK(support::reference_walk(p.m.fd()) == before);
}

TEST_CASE("dumping a map that has no entries to list fails before printing anything") {
  REQUIRE_KERNEL();
  for (map_type type : {map_type::queue, map_type::stack, map_type::ringbuf}) {
    const bool ringbuf = type == map_type::ringbuf;
    pinned_map p(support::create(type, 0, ringbuf ? 0 : 8, ringbuf ? 4096 : 8), "cli_keyless");
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{}, std::vector<std::string>{"-j"}, std::vector<std::string>{"--count"}}) {
      std::vector<std::string> args{"dump", "pinned", p.path};
      args.insert(args.end(), extra.begin(), extra.end());
      auto r = cli(args);
      INFO(map_type_name(type), " ", extra.empty() ? "" : extra[0], ": ", r.err);
      CHECK(r.status == 1);
      // With -j, only bpftool's error object, for the scripts that read stdout.
      CHECK(r.out == (extra.empty() || extra[0] != "-j" ? "" : error_object(r.err)));
      CHECK(r.err.find("operation not supported for map type " + std::string(map_type_name(type))) !=
            std::string::npos);
    }
  }
  // A drain of a bloom filter, which cannot remove anything, too.
  pinned_map bloom(support::create(map_type::bloom_filter, 0, 8, 8), "cli_bloom");
  auto r = cli({"drain", "pinned", bloom.path, "-j"});
  CHECK(r.status == 1);
  CHECK(r.out == error_object(r.err));
}

TEST_CASE("EPERM from a frozen map as root names the frozen map, not a missing capability") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 10), "cli_frozen");
  support::fill(p.m, 5);
  REQUIRE(support::freeze(p.m.fd()) == 0);
  auto r = cli({"drain", "pinned", p.path});
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK(r.err.find("operation not permitted: the map is frozen") != std::string::npos);
  CHECK(r.err.find("CAP_") == std::string::npos);
  CHECK(support::reference_walk(p.m.fd()).size() == 5);
}

TEST_CASE("looking maps up by name or listing them without CAP_SYS_ADMIN says so, in one clean line") {
  REQUIRE_KERNEL();
  auto named = cli({"dump", "name", "any_name"}, {.without_capabilities = true});
  CHECK(named.status == 1);
  CHECK(named.err ==
        "bpfbatch: name any_name: BPF_MAP_GET_NEXT_ID: permission denied (needs CAP_SYS_ADMIN)\n");
  auto listed = cli({"list"}, {.without_capabilities = true});
  CHECK(listed.status == 1);
  CHECK(listed.out.empty());
  CHECK(listed.err == "bpfbatch: list: BPF_MAP_GET_NEXT_ID: permission denied (needs CAP_SYS_ADMIN)\n");
}

TEST_CASE("control characters in a path are escaped in runtime errors too") {
  REQUIRE_KERNEL();
  const std::string path = support::bpffs_dir() + "/no\nsuch\x1b[2Jpin";
  auto r = cli({"dump", "pinned", path});
  CHECK(r.status == 1);
  CHECK(r.err == "bpfbatch: pinned " + support::bpffs_dir() + "/no\\x0asuch\\x1b[2Jpin: no such file\n");
}

TEST_CASE(
    "without a readable CPU list, per-CPU maps fail with an error naming the file, and list fails whole") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::percpu_hash, 4, 8, 10), "cli_no_cpus");
  // A mount namespace of its own where /sys/devices/system/cpu is empty.
  auto hide_cpu_list = [] {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", "/sys/devices/system/cpu", "tmpfs", 0, nullptr) != 0)
      ::_exit(122);
  };
  auto dump = cli({"dump", "pinned", p.path}, {.before_exec = hide_cpu_list});
  CHECK(dump.status == 1);
  CHECK(dump.out.empty());
  CHECK(dump.err == "bpfbatch: pinned " + p.path +
                        ": cannot count the possible CPUs: /sys/devices/system/cpu/possible: No such file or "
                        "directory\n");
  auto list = cli({"list"}, {.before_exec = hide_cpu_list});
  CHECK(list.status == 1);
  CHECK(list.out.empty());
  CHECK(list.err.find("/sys/devices/system/cpu/possible: No such file or directory") != std::string::npos);
}

TEST_CASE("under a small address-space limit the demo fails with a message, never an abort") {
  REQUIRE_KERNEL();
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The tool is built with the same sanitizer, whose shadow memory cannot be
  // mapped under a 7 MB limit: this case runs in the other builds.
  MESSAGE("left out under a sanitizer");
  return;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  MESSAGE("left out under a sanitizer");
  return;
#endif
#endif
  // A million entries need 12 MB of keys and values in any build: a static
  // 32-bit tool starts in under 4 MB, and 100,000 entries fit there.
  auto r = cli({"demo", "--entries", "1000000"}, {.before_exec = [] {
                 struct rlimit limit {
                   7000 << 10, 7000 << 10
                 };
                 ::setrlimit(RLIMIT_AS, &limit);
               }});
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("bpfbatch: ") != std::string::npos);
}

TEST_CASE("the progress counter stays off when stdout and stderr are the same terminal") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 400'000), "cli_progress");
  support::fill(p.m, 400'000);
  int master = -1, slave = -1;
  REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  int err_fd = -1;
  const pid_t pid =
      start_cli({"dump", "pinned", p.path, "--method", "walk"}, slave, err_fd, [slave] { ::dup2(slave, 2); });
  ::close(slave);
  ::close(err_fd);
  std::string text;
  char buffer[65536];
  ssize_t n;
  while ((n = ::read(master, buffer, sizeof(buffer))) > 0) text.append(buffer, static_cast<std::size_t>(n));
  ::close(master);
  CHECK(wait_status(pid) == 0);
  CHECK(text.find("Found 400000 elements") != std::string::npos);
  CHECK(text.find("bpfbatch: read") == std::string::npos);
}
