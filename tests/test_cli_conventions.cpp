// bpftool's conventions around the commands, compared with bpftool on the
// same maps: -p's indentation, {"error": ...} on stdout with -j, and
// map show's bytes_memlock, frozen and (-f) pinned.
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <string>
#include <vector>

#include "bpf_objects.hpp"
#include "cli_support.hpp"
#include "json.hpp"
#include "support.hpp"

using namespace bpfbatch;
using namespace cli_support;

namespace {

run_result bpftool(const std::vector<std::string>& args) {
  const std::string path = bpftool_path();
  REQUIRE(!path.empty());
  return run_program(path, args);
}

// bpftool -p map show's object without its closing "\n}\n": the fields
// ours must begin with, ours going on after them.
std::string open_object(const std::string& shown) {
  REQUIRE(shown.ends_with("\n}\n"));
  return shown.substr(0, shown.size() - 3);
}

// The lines of `text` each with `prefix` in front.
std::string indented(const std::string& text, const std::string& prefix) {
  std::string out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    out += prefix + text.substr(at, end - at);
    if (end < text.size()) out += '\n';
    at = end + 1;
  }
  return out;
}

// A map's entry in a plain list: its "ID: " line and the tab-indented ones.
std::string plain_entry(const std::string& listed, std::uint32_t id) {
  // Built by appending: g++ 12 at -O3 warns (-Wrestrict, a false positive)
  // on "literal" + std::string temporaries.
  std::string lines = "\n";
  lines += listed;
  std::string heading = "\n";
  heading += std::to_string(id);
  heading += ": ";
  const auto start = lines.find(heading);
  REQUIRE(start != std::string::npos);
  auto end = lines.find('\n', start + 1);
  while (end != std::string::npos && end + 1 < lines.size() && lines[end + 1] == '\t')
    end = lines.find('\n', end + 1);
  return lines.substr(start + 1, end - start);
}

}  // namespace

TEST_CASE("dump -p prints what bpftool -p map dump prints, byte for byte") {
  REQUIRE_KERNEL();
  if (bpftool_path().empty()) return;
  struct kind {
    map_type type;
    std::uint32_t key_size, value_size, max_entries, fill;
  };
  for (const kind& k : {kind{map_type::hash, 4, 8, 500, 300}, kind{map_type::percpu_hash, 4, 12, 64, 30},
                        kind{map_type::array, 4, 13, 20, 20}, kind{map_type::hash, 8, 8, 16, 0}}) {
    INFO(map_type_name(k.type), " with ", k.fill, " entries");
    pinned_map p(support::create(k.type, k.key_size, k.value_size, k.max_entries), "cli_pretty");
    support::fill(p.m, k.fill);
    const auto ours = cli({"-p", "map", "dump", "pinned", p.path});
    const auto theirs = bpftool({"-p", "map", "dump", "pinned", p.path});
    REQUIRE(ours.status == 0);
    REQUIRE(theirs.status == 0);
    CHECK(ours.out == theirs.out);
  }
}

TEST_CASE("dump -p of maps with BTF prints bpftool -p's formatted values, byte for byte") {
  REQUIRE_KERNEL();
  const bpf_objects::btf_maps object;
  if (!object.loaded()) return;
  bpf_objects::fill_btf_maps(object);
  // Not the float map: bpftool 7 prints "(unsupported-kind" for floats
  // (README: differences from bpftool).
  for (const char* name : {"hash_all", "percpu_hash", "lpm", "btf_maps_data"}) {
    INFO("map ", std::string(name));
    const auto ours = cli({"dump", "pinned", object.map_path(name), "-p"});
    REQUIRE(ours.status == 0);
    CHECK(ours.out == bpftool({"-p", "map", "dump", "pinned", object.map_path(name)}).out);
  }
}

TEST_CASE("drain -p prints the indented document bpftool -p dumps of the map before") {
  REQUIRE_KERNEL();
  if (bpftool_path().empty()) return;
  pinned_map p(support::create(map_type::hash, 4, 8, 2000), "cli_pretty_drain");
  support::fill(p.m, 1500);
  const auto before = bpftool({"-p", "map", "dump", "pinned", p.path});
  REQUIRE(before.status == 0);
  const auto drained = cli({"drain", "pinned", p.path, "--pretty", "--batch-size=7"});
  CHECK(drained.status == 0);
  CHECK(drained.out == before.out);
  CHECK(support::reference_walk(p.m.fd()).empty());
}

TEST_CASE("info -p begins with bpftool -p map show's fields, indented the same, frozen and pins included") {
  REQUIRE_KERNEL();
  if (bpftool_path().empty()) return;
  pinned_map p(support::create(map_type::hash, 4, 8, 16), "cli_pretty_info");
  for (bool frozen : {false, true}) {
    INFO("frozen: ", frozen);
    if (frozen) REQUIRE(support::freeze(p.m.fd()) == 0);
    for (const char* flags : {"-p", "-pf"}) {
      INFO(flags);
      const auto theirs = bpftool({flags, "map", "show", "pinned", p.path});
      REQUIRE(theirs.status == 0);
      const auto ours = cli({flags, "info", "pinned", p.path});
      REQUIRE(ours.status == 0);
      CHECK(ours.out.starts_with(open_object(theirs.out) + ",\n"));
      CHECK(ours.out.ends_with("\n}\n"));
    }
  }
}

TEST_CASE("list -p holds each map's bpftool -p map show fields, one level deeper, in one array") {
  REQUIRE_KERNEL();
  if (bpftool_path().empty()) return;
  pinned_map p(support::create(map_type::array, 4, 8, 4), "cli_pretty_list");
  const auto theirs = bpftool({"-p", "map", "show", "pinned", p.path});
  REQUIRE(theirs.status == 0);
  const auto ours = cli({"list", "-p"});
  REQUIRE(ours.status == 0);
  CHECK(ours.out.starts_with("[{\n        \"id\": "));
  CHECK(ours.out.ends_with("\n    }\n]\n"));
  const std::string body = open_object(theirs.out).substr(2);  // past "{\n"
  std::string object = "{\n";
  object += indented(body, "    ");
  object += ",\n";
  CHECK(ours.out.find(object) != std::string::npos);
  const auto compact = json::parse(cli({"list", "-j"}).out);
  const auto pretty = json::parse(ours.out);
  REQUIRE(compact.has_value());
  REQUIRE(pretty.has_value());
}

TEST_CASE("info and list print bytes_memlock and frozen with bpftool's names and values") {
  REQUIRE_KERNEL();
  if (bpftool_path().empty()) return;
  pinned_map p(support::create(map_type::hash, 4, 8, 64), "cli_memlock");
  REQUIRE(support::freeze(p.m.fd()) == 0);
  const auto theirs = json::parse(bpftool({"-j", "map", "show", "pinned", p.path}).out);
  const auto ours = json::parse(cli({"info", "-j", "pinned", p.path}).out);
  REQUIRE(theirs.has_value());
  REQUIRE(ours.has_value());
  REQUIRE(theirs->find("bytes_memlock") != nullptr);
  CHECK(ours->find("bytes_memlock")->text == theirs->find("bytes_memlock")->text);
  CHECK(ours->find("frozen")->text == "1");
  CHECK(theirs->find("frozen")->text == "1");
  const auto listed = json::parse(cli({"list", "-j"}).out);
  REQUIRE(listed.has_value());
  bool found = false;
  for (const auto& entry : listed->items) {
    if (entry.find("id")->number != p.m.info().id) continue;
    found = true;
    CHECK(entry.find("bytes_memlock")->text == theirs->find("bytes_memlock")->text);
    CHECK(entry.find("frozen")->text == "1");
  }
  CHECK(found);
  // Plain: bpftool's lines ("memlock NB" and "frozen"), in list and info.
  const std::string shown = bpftool({"map", "show", "pinned", p.path}).out;
  CHECK(shown.find("\tfrozen\n") != std::string::npos);
  CHECK(plain_entry(cli({"list"}).out, p.m.info().id) == shown);
  CHECK(cli({"info", "pinned", p.path}).out.starts_with(shown));
}

TEST_CASE("a map that is not frozen says frozen 0 in JSON and nothing in plain, as bpftool") {
  REQUIRE_KERNEL();
  if (bpftool_path().empty()) return;
  pinned_map p(support::create(map_type::array, 4, 4, 4), "cli_not_frozen");
  const auto ours = json::parse(cli({"info", "-j", "pinned", p.path}).out);
  REQUIRE(ours.has_value());
  CHECK(ours->find("frozen")->text == "0");
  const std::string shown = bpftool({"map", "show", "pinned", p.path}).out;
  CHECK(cli({"info", "pinned", p.path}).out.starts_with(shown));
}

TEST_CASE("-f lists a map's pins in bpftool -f's order, however many maps are pinned on the system") {
  REQUIRE_KERNEL();
  if (bpftool_path().empty()) return;
  // bpftool keeps the pins in a libbpf hashmap: each pin goes first in its
  // bucket and each growth of the table reverses a bucket, so its order
  // depends on how many pins the walk found: 12 pins cross a growth.
  pinned_map p(support::create(map_type::hash, 4, 8, 16), "cli_order_0");
  std::vector<std::string> more;
  auto pins = [](const run_result& r) {
    std::vector<std::string> paths;
    const auto parsed = json::parse(r.out);
    if (const json::value* pinned = parsed ? parsed->find("pinned") : nullptr)
      for (const auto& item : pinned->items) paths.push_back(item.text);
    return paths;
  };
  for (int n = 1; n <= 12; ++n) {
    more.push_back(support::bpffs_dir() + "/cli_order_" + std::to_string(n));
    ::unlink(more.back().c_str());
    REQUIRE(support::pin(p.m.fd(), more.back()) == 0);
    CAPTURE(n);
    CHECK(pins(cli({"info", "-jf", "pinned", p.path})) ==
          pins(bpftool({"-jf", "map", "show", "pinned", p.path})));
  }
  for (const std::string& path : more) ::unlink(path.c_str());
}

TEST_CASE("-f adds each map's pinned paths to info and list, as bpftool -f does") {
  REQUIRE_KERNEL();
  if (bpftool_path().empty()) return;
  pinned_map p(support::create(map_type::hash, 4, 8, 16), "cli_pins_a");
  const std::string second = support::bpffs_dir() + "/cli_pins_b";
  ::unlink(second.c_str());
  REQUIRE(support::pin(p.m.fd(), second) == 0);
  const auto theirs = json::parse(bpftool({"-jf", "map", "show", "pinned", p.path}).out);
  const auto ours = json::parse(cli({"info", "-jf", "pinned", p.path}).out);
  REQUIRE(theirs.has_value());
  REQUIRE(ours.has_value());
  const auto* their_pins = theirs->find("pinned");
  const auto* our_pins = ours->find("pinned");
  REQUIRE(their_pins != nullptr);
  REQUIRE(our_pins != nullptr);
  REQUIRE(their_pins->items.size() == 2);
  REQUIRE(our_pins->items.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) CHECK(our_pins->items[i].text == their_pins->items[i].text);
  const std::string shown = bpftool({"-f", "map", "show", "pinned", p.path}).out;
  CHECK(cli({"-f", "info", "pinned", p.path}).out.starts_with(shown));
  CHECK(plain_entry(cli({"list", "--bpffs"}).out, p.m.info().id) == shown);
  CHECK(json::parse(cli({"info", "-j", "pinned", p.path}).out)->find("pinned") == nullptr);
  ::unlink(second.c_str());
}

TEST_CASE("with -j, a runtime error prints bpftool's {\"error\": ...} on stdout and exits non-zero") {
  REQUIRE_KERNEL();
  const auto ours = cli({"-j", "map", "info", "id", "4294967295"});
  CHECK(ours.status == 1);
  const auto parsed = json::parse(ours.out);
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->fields.size() == 1);
  REQUIRE(parsed->find("error") != nullptr);
  CHECK(parsed->find("error")->text == "id 4294967295: no such map");
  CHECK(ours.err == "bpfbatch: id 4294967295: no such map\n");
  if (bpftool_path().empty()) return;
  const auto theirs = bpftool({"-j", "map", "show", "id", "4294967295"});
  CHECK(theirs.status != 0);
  const auto their_parsed = json::parse(theirs.out);
  REQUIRE(their_parsed.has_value());
  CHECK(their_parsed->fields.size() == 1);
  CHECK(their_parsed->find("error") != nullptr);
}

TEST_CASE("with -p, the error object is indented as bpftool -p indents it") {
  REQUIRE_KERNEL();
  const auto ours = cli({"dump", "pinned", "/nonexistent/map", "-p"});
  CHECK(ours.status == 1);
  CHECK(ours.out == "{\n    \"error\": \"pinned /nonexistent/map: no such file\"\n}\n");
  if (bpftool_path().empty()) return;
  const auto theirs = bpftool({"-p", "map", "dump", "pinned", "/nonexistent/map"});
  CHECK(theirs.out.starts_with("{\n    \"error\": \""));
  CHECK(theirs.out.ends_with("\"\n}\n"));
}

TEST_CASE("without -j a runtime error leaves stdout empty, and a usage error never prints JSON") {
  REQUIRE_KERNEL();
  const auto plain = cli({"info", "id", "4294967295"});
  CHECK(plain.status == 1);
  CHECK(plain.out.empty());
  const auto usage = cli({"-j", "dump", "id", "x"});
  CHECK(usage.status == 2);
  CHECK(usage.out.empty());
}

TEST_CASE("the error object escapes control characters of the message as JSON") {
  REQUIRE_KERNEL();
  const auto r = cli({"-j", "dump", "pinned", "/nonexistent/a\tb"});
  CHECK(r.status == 1);
  const auto parsed = json::parse(r.out);
  REQUIRE(parsed.has_value());
  CHECK(parsed->find("error")->text == "pinned /nonexistent/a\\x09b: no such file");
}

TEST_CASE(
    "a message escapes bytes that are not UTF-8, so that the error object is valid JSON, and keeps UTF-8") {
  REQUIRE_KERNEL();
  const auto r = cli({"-j", "dump", "pinned", "/nonexistent/\xff\xc3(\xc3\xa9\xed\xa0\x80"});
  CHECK(r.status == 1);
  CHECK(r.out ==
        "{\"error\":\"pinned /nonexistent/\\\\xff\\\\xc3(\xc3\xa9\\\\xed\\\\xa0\\\\x80: no such file\"}\n");
  CHECK(r.err == "bpfbatch: pinned /nonexistent/\\xff\\xc3(\xc3\xa9\\xed\\xa0\\x80: no such file\n");
}

TEST_CASE("map show MAP prints bpftool's plain lines, and with -j an object holding bpftool's fields") {
  REQUIRE_KERNEL();
  if (bpftool_path().empty()) return;
  pinned_map p(support::create(map_type::percpu_hash, 8, 12, 64), "cli_show");
  REQUIRE(support::freeze(p.m.fd()) == 0);
  CHECK(cli({"map", "show", "pinned", p.path}).out == bpftool({"map", "show", "pinned", p.path}).out);
  const auto theirs = json::parse(bpftool({"-j", "map", "show", "pinned", p.path}).out);
  const auto ours = json::parse(cli({"-j", "map", "show", "pinned", p.path}).out);
  REQUIRE(theirs.has_value());
  REQUIRE(ours.has_value());
  REQUIRE(theirs->fields.size() >= 8);
  for (const auto& field : theirs->fields) {
    const std::string& name = field.first;  // clang 14 captures no structured binding (INFO)
    INFO(name);
    REQUIRE(ours->find(name) != nullptr);
    CHECK(ours->find(name)->text == field.second.text);
  }
  // -p: bpftool's fields first, indented the same.
  const std::string pretty = cli({"-p", "map", "show", "pinned", p.path}).out;
  CHECK(pretty.starts_with(open_object(bpftool({"-p", "map", "show", "pinned", p.path}).out)));
}

TEST_CASE("map show without a map lists every map, as list does") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 4, 4), "cli_show_all");
  const std::string shown = cli({"map", "show"}).out;
  std::string listed = "\n";  // appended to: see plain_entry on g++ 12's -Wrestrict
  listed += shown;
  std::string heading = "\n";
  heading += std::to_string(p.m.info().id);
  heading += ": hash";
  CHECK(listed.find(heading) != std::string::npos);
  const auto all = json::parse(cli({"show", "-j"}).out);
  REQUIRE(all.has_value());
  CHECK(!all->items.empty());
}

TEST_CASE("-f finds pins under a BPF file system mounted at a path with a space, in bpftool -f's order") {
  REQUIRE_KERNEL();
  if (bpftool_path().empty()) return;
  // /proc/self/mounts writes the space as \040: the tool reads it back.
  char pattern[] = "/tmp/bpfbatch mount XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  const std::string point = pattern;
  REQUIRE(::mount("bpf", point.c_str(), "bpf", 0, nullptr) == 0);
  {
    pinned_map p(support::create(map_type::hash, 4, 8, 16), "cli_pins_space");
    const std::string elsewhere = point + "/pinned here";
    REQUIRE(support::pin(p.m.fd(), elsewhere) == 0);
    const auto theirs = json::parse(bpftool({"-jf", "map", "show", "pinned", p.path}).out);
    const auto ours = json::parse(cli({"-jf", "show", "pinned", p.path}).out);
    REQUIRE(theirs.has_value());
    REQUIRE(ours.has_value());
    REQUIRE(ours->find("pinned") != nullptr);
    std::vector<std::string> their_pins, our_pins;
    for (const auto& item : theirs->find("pinned")->items) their_pins.push_back(item.text);
    for (const auto& item : ours->find("pinned")->items) our_pins.push_back(item.text);
    CHECK(our_pins == their_pins);
    CHECK(std::find(our_pins.begin(), our_pins.end(), elsewhere) != our_pins.end());
    ::unlink(elsewhere.c_str());
  }
  CHECK(::umount(point.c_str()) == 0);
  ::rmdir(point.c_str());
}
