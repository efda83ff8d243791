// The tool on maps with BTF: dump -j's "formatted" object and plain dump's
// BTF layout compared with bpftool's on the same maps, filled with varied
// values. Maps made two ways: from hand-built BTF (btf_builder: every kind
// the kernel takes in a map value, ENUM64 and signed enums included, which
// clang 14 does not emit) and from a real BPF object loaded by bpftool
// (bpf_objects.hpp).
#include <linux/capability.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <bpfbatch/bpfbatch.hpp>

#include "bpf_objects.hpp"
#include "btf_builder.hpp"
#include "cli_support.hpp"
#include "json.hpp"
#include "support.hpp"

using namespace cli_support;
using support::btf_builder;

namespace {

// bpftool's version as major * 100 + minor (7.1: 701).
int bpftool_version(const std::string& bpftool) {
  const auto r = run_program(bpftool, {"version"});
  const auto v = r.out.find(" v");
  if (v == std::string::npos) return 0;
  int major = 0, minor = 0;
  if (std::sscanf(r.out.c_str() + v + 2, "%d.%d", &major, &minor) != 2) return 0;
  return major * 100 + minor;
}

// What a bpftool after 7.1 prints where 7.1 printed otherwise, which the
// tool follows (README, "Differences from bpftool"): 7.1's jsonw_puts
// writes a backslash as \n (strings here hold no new line, so every \n is
// one) and escapes ' as \'.
std::string as_later_bpftool(const std::string& text, int version) {
  if (version >= 702) return text;
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 'n' || text[i + 1] == '\'')) {
      out += text[i + 1] == 'n' ? "\\\\" : "'";
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

// 7.1's plain layout prints a pointer bare ("%p"), later ones quoted: the
// members named here are the pointers.
std::string quote_pointers(std::string text, int version, const std::vector<std::string>& pointers) {
  if (version >= 702) return text;
  for (const std::string& name : pointers) {
    const std::string label = "\"" + name + "\": ";
    for (std::size_t at = text.find(label); at != std::string::npos; at = text.find(label, at + 1)) {
      const std::size_t start = at + label.size();
      const std::size_t end = text.find_first_of(",\n", start);
      if (end == std::string::npos) break;
      // Rebuilt rather than insert()ed: g++ 12 at -O3 on i686 warns
      // (-Wrestrict) inside libstdc++'s insert here, a bound it cannot prove.
      text = text.substr(0, start) + '"' + text.substr(start, end - start) + '"' + text.substr(end);
    }
  }
  return text;
}

// Parsed JSON equality: numbers by their digits (bpftool prints integers
// exactly), strings by their text, objects by their fields in any order.
bool same(const json::value& a, const json::value& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case json::value::kind::null:
      return true;
    case json::value::kind::boolean:
      return a.boolean == b.boolean;
    case json::value::kind::number:
    case json::value::kind::string:
      return a.text == b.text;
    case json::value::kind::array:
      return std::equal(a.items.begin(), a.items.end(), b.items.begin(), b.items.end(), same);
    case json::value::kind::object:
      return std::equal(
          a.fields.begin(), a.fields.end(), b.fields.begin(), b.fields.end(),
          [](const auto& x, const auto& y) { return x.first == y.first && same(x.second, y.second); });
  }
  return false;
}

struct both_dumps {
  std::string ours, theirs;
};

both_dumps dumps(const std::string& bpftool, const std::string& path, bool as_json) {
  std::vector<std::string> ours = {"dump", "pinned", path}, theirs = {"map", "dump", "pinned", path};
  if (as_json) {
    ours.push_back("-j");
    theirs.insert(theirs.begin(), "-j");
  }
  const auto a = cli(ours);
  REQUIRE_MESSAGE(a.status == 0, a.err);
  const auto b = run_program(bpftool, theirs);
  REQUIRE_MESSAGE(b.status == 0, b.err);
  return {a.out, b.out};
}

// Our dump -j parsed equals bpftool's (as a later bpftool prints it).
void check_json_equals_bpftool(const std::string& bpftool, const std::string& path) {
  const int version = bpftool_version(bpftool);
  const auto d = dumps(bpftool, path, true);
  const auto ours = json::parse(d.ours);
  const auto theirs = json::parse(as_later_bpftool(d.theirs, version));
  REQUIRE_MESSAGE(ours.has_value(), d.ours);
  REQUIRE_MESSAGE(theirs.has_value(), d.theirs);
  CHECK_MESSAGE(same(*ours, *theirs), "ours:\n", d.ours, "\nbpftool:\n", d.theirs);
  REQUIRE(ours->type == json::value::kind::array);
  REQUIRE(!ours->items.empty());
  CHECK(ours->items[0].find("formatted") != nullptr);
}

// Our plain dump equals bpftool's byte for byte (as a later one prints it).
void check_plain_equals_bpftool(const std::string& bpftool, const std::string& path,
                                const std::vector<std::string>& pointers = {}) {
  const int version = bpftool_version(bpftool);
  const auto d = dumps(bpftool, path, false);
  CHECK(d.ours == quote_pointers(as_later_bpftool(d.theirs, version), version, pointers));
}

template <class T>
void put(std::vector<std::byte>& out, std::size_t at, T v) {
  REQUIRE(at + sizeof(T) <= out.size());
  std::memcpy(out.data() + at, &v, sizeof(T));
}

// A value struct of every kind a map value may hold (offsets in bytes):
//   0 u8, 1 s8, 2 u16, 4 s16 (const volatile), 8 u32 typedef, 12 s32, 16 u64, 24 s64,
//   32 char name[8], 40 bitfields (kind_flag: low:3, cross:10, neg:7, rest:12),
//   44 enum color (4 bytes), 48 signed enum (kind_flag), 52 enum small (1 byte),
//   53 bool, 54 unsigned char raw[2], 56 ENUM64, 64 pointer (to a TYPE_TAG u32),
//   72 union { u32 word; u8 octets[4]; }, 76 struct pair { u16 x, y; } pairs[2],
//   84 u32 last; size 88.
struct kinds_map {
  btf_builder b;
  std::uint32_t u32 = 0, value = 0;
  kinds_map() {
    const auto u8 = b.add_int("unsigned char", 1), s8 = b.add_int("signed char", 1, btf_builder::int_signed);
    const auto u16 = b.add_int("unsigned short", 2), s16 = b.add_int("short", 2, btf_builder::int_signed);
    u32 = b.add_int("unsigned int", 4);
    const auto s32 = b.add_int("int", 4, btf_builder::int_signed);
    const auto u64 = b.add_int("unsigned long long", 8),
               s64 = b.add_int("long long", 8, btf_builder::int_signed);
    const auto chr = b.add_int("char", 1, btf_builder::int_signed);
    const auto boolean = b.add_int("_Bool", 1, btf_builder::int_bool);
    const auto cv_s16 = b.add_const(b.add_volatile(s16));
    const auto u32_alias = b.add_typedef("__u32", u32);
    const auto name = b.add_array(chr, u32, 8);
    const auto raw = b.add_array(u8, u32, 2);
    const auto color = b.add_enum("color", 4, {{"RED", 1}, {"GREEN", 2}, {"NEG", -5}});
    const auto dir = b.add_enum("dir", 4, {{"IN", -1}, {"OUT", 1}}, true);
    const auto small = b.add_enum("small", 1, {{"ONE", 1}, {"MINUS", -1}});
    const auto big = b.add_enum64("big", 8, {{"HUGE", 0x123456789aLL}, {"ALL", -1}});
    const auto tagged = b.add_type_tag("user", u32);
    const auto ptr = b.add_pointer(tagged);
    const auto octets = b.add_array(u8, u32, 4);
    const auto u = b.add_union("word_or_octets", 4, {{"word", u32, 0}, {"octets", octets, 0}});
    const auto pair = b.add_struct("pair", 4, {{"x", u16, 0}, {"y", u16, 16}});
    const auto pairs = b.add_array(pair, u32, 2);
    value = b.add_struct(
        "kinds", 88,
        {{"u8", u8, 0},          {"s8", s8, 8},         {"u16", u16, 16},        {"s16", cv_s16, 32},
         {"u32", u32_alias, 64}, {"s32", s32, 96},      {"u64", u64, 128},       {"s64", s64, 192},
         {"name", name, 256},    {"low", u32, 320, 3},  {"cross", u32, 323, 10}, {"neg", s32, 333, 7},
         {"rest", u32, 340, 12}, {"color", color, 352}, {"dir", dir, 384},       {"small", small, 416},
         {"ok", boolean, 424},   {"raw", raw, 432},     {"big", big, 448},       {"ptr", ptr, 512},
         {"u", u, 576},          {"pairs", pairs, 608}, {"last", u32, 672}});
    b.add_decl_tag("annotated", value, 0);
  }
};

// Value i: extremes, negatives, enum values that are no enumerator, a bool
// of 2, names full-length without NUL, with a backslash and quote, with a
// non-printable byte.
std::vector<std::byte> kinds_value(std::uint32_t i) {
  std::vector<std::byte> v(88);
  put(v, 0, static_cast<std::uint8_t>(255 - i));
  put(v, 1, static_cast<std::int8_t>(i % 2 ? -128 : 127));
  put(v, 2, static_cast<std::uint16_t>(65535 - i));
  put(v, 4, static_cast<std::int16_t>(-static_cast<int>(i) - 1));
  put(v, 8, 0xffffffffu - i);
  put(v, 12, std::numeric_limits<std::int32_t>::min() + static_cast<std::int32_t>(i));
  put(v, 16, ~std::uint64_t{0} - i);
  put(v, 24, std::numeric_limits<std::int64_t>::min() + i);
  static const char* names[] = {"flow", "abcdefgh", "a\\b\"c", "x\x01y", "", "tab\there", "it's", "\x80"};
  const char* name = names[i % 8];
  std::memcpy(v.data() + 32, name, std::min<std::size_t>(8, std::strlen(name)));
  put(v, 40,
      (i & 7u) | ((0x155u + i) & 0x3ffu) << 3 | ((i * 37u) & 0x7fu) << 13 | ((0xabcu ^ i) & 0xfffu) << 20);
  static const std::int32_t colors[] = {1, 2, -5, 0, 77, std::numeric_limits<std::int32_t>::min()};
  put(v, 44, colors[i % 6]);
  put(v, 48, static_cast<std::int32_t>(i % 3) - 1);  // -1 IN, 0 (none), 1 OUT
  put(v, 52, static_cast<std::uint8_t>(i % 2 ? 0xff : 0x80));
  put(v, 53, static_cast<std::uint8_t>(i % 3));
  put(v, 54, static_cast<std::uint16_t>(0x0102 * i));
  static const std::uint64_t bigs[] = {0x123456789a, ~std::uint64_t{0}, 3, 0x8000000000000000};
  put(v, 56, bigs[i % 4]);
  put(v, 64, i % 2 ? std::uint64_t{0} : std::uint64_t{0xffff888012345000} + i);
  put(v, 72, 0x01020304u * (i + 1));
  put(v, 76, static_cast<std::uint16_t>(i));
  put(v, 78, static_cast<std::uint16_t>(i + 1));
  put(v, 80, static_cast<std::uint16_t>(i + 2));
  put(v, 82, static_cast<std::uint16_t>(65535));
  put(v, 84, i * 1000u);
  return v;
}

pinned_map filled_kinds_map(bpfbatch::map_type type, const std::string& pin, std::uint32_t n) {
  kinds_map k;
  auto m = k.b.create_map(type, 4, 88, 64, k.u32, k.value);
  const auto cpus = type == bpfbatch::map_type::percpu_hash ? support::libc_possible_cpus() : 1u;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::vector<std::byte> value;
    for (std::uint32_t cpu = 0; cpu < cpus; ++cpu) {
      auto one = kinds_value(i + cpu * 3);
      value.insert(value.end(), one.begin(), one.end());
    }
    REQUIRE(m.update_element(support::key_bytes(4, i), value));
  }
  return pinned_map(std::move(m), pin);
}

}  // namespace

TEST_CASE("dump -j of a map with BTF adds bpftool's \"formatted\" object to each entry") {
  const std::string bpftool = bpftool_path();
  if (bpftool.empty()) return support::record_skip("bpftool not installed");
  auto pinned = filled_kinds_map(bpfbatch::map_type::hash, "btf_kinds_json", 24);
  check_json_equals_bpftool(bpftool, pinned.path);
}

TEST_CASE("plain dump of a map with BTF prints bpftool's BTF layout byte for byte") {
  const std::string bpftool = bpftool_path();
  if (bpftool.empty()) return support::record_skip("bpftool not installed");
  auto pinned = filled_kinds_map(bpfbatch::map_type::hash, "btf_kinds_plain", 24);
  check_plain_equals_bpftool(bpftool, pinned.path, {"ptr"});
}

TEST_CASE("a per-CPU map with BTF formats each CPU's value under \"values\", in JSON and plain") {
  const std::string bpftool = bpftool_path();
  if (bpftool.empty()) return support::record_skip("bpftool not installed");
  auto pinned = filled_kinds_map(bpfbatch::map_type::percpu_hash, "btf_kinds_percpu", 6);
  check_json_equals_bpftool(bpftool, pinned.path);
  check_plain_equals_bpftool(bpftool, pinned.path, {"ptr"});
}

TEST_CASE("an empty map with BTF prints [] in both layouts, as bpftool does") {
  const std::string bpftool = bpftool_path();
  if (bpftool.empty()) return support::record_skip("bpftool not installed");
  auto pinned = filled_kinds_map(bpfbatch::map_type::hash, "btf_kinds_empty", 0);
  const auto plain = dumps(bpftool, pinned.path, false);
  CHECK(plain.ours == plain.theirs);
  CHECK(plain.ours == "[]\n");
  const auto j = dumps(bpftool, pinned.path, true);
  const auto a = json::parse(j.ours), b = json::parse(j.theirs);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(same(*a, *b));
}

TEST_CASE("an array that names no key type formats a DATASEC value without \"key\", as .data maps print") {
  const std::string bpftool = bpftool_path();
  if (bpftool.empty()) return support::record_skip("bpftool not installed");
  btf_builder b;
  const auto s32 = b.add_int("int", 4, btf_builder::int_signed);
  const auto chr = b.add_int("char", 1, btf_builder::int_signed);
  const auto label = b.add_array(chr, s32, 8);
  const auto level = b.add_var("data_level", s32);
  const auto name = b.add_var("data_label", label);
  const auto sec = b.add_datasec(".data", 12, {{level, 0, 4}, {name, 4, 8}});
  auto m = b.create_map(bpfbatch::map_type::array, 4, 12, 1, 0, sec);
  std::vector<std::byte> v(12);
  put(v, 0, -42);
  std::memcpy(v.data() + 4, "hello", 5);
  REQUIRE(m.update_element(support::key_bytes(4, 0), v));
  pinned_map pinned(std::move(m), "btf_datasec");
  check_json_equals_bpftool(bpftool, pinned.path);
  check_plain_equals_bpftool(bpftool, pinned.path);
}

TEST_CASE("dump --no-btf of a map with BTF prints the hex form only") {
  auto pinned = filled_kinds_map(bpfbatch::map_type::hash, "btf_kinds_nobtf", 3);
  const auto j = cli({"dump", "pinned", pinned.path, "-j", "--no-btf"});
  REQUIRE(j.status == 0);
  const auto parsed = json::parse(j.out);
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->items.size() == 3);
  for (const auto& entry : parsed->items) CHECK(entry.find("formatted") == nullptr);
  const auto plain = cli({"dump", "pinned", pinned.path, "--no-btf"});
  REQUIRE(plain.status == 0);
  CHECK(plain.out.rfind("key:\n", 0) == 0);
  CHECK(plain.out.find("Found 3 elements\n") != std::string::npos);
}

TEST_CASE(
    "without CAP_SYS_ADMIN a map's BTF cannot be read: dump stops before any entry and names --no-btf") {
  auto pinned = filled_kinds_map(bpfbatch::map_type::hash, "btf_kinds_eperm", 3);
  run_options without_sys_admin;
  // CAP_BPF still opens the pin; BPF_BTF_GET_FD_BY_ID wants CAP_SYS_ADMIN.
  without_sys_admin.before_exec = [] {
    if (!support::drop_capabilities({CAP_SYS_ADMIN})) ::_exit(121);
  };
  const auto r = cli({"dump", "pinned", pinned.path, "-j"}, without_sys_admin);
  CHECK(r.status == 1);
  CHECK(r.out == error_object(r.err));  // no entry: only bpftool's error object
  CHECK(r.err.find("cannot read the map's BTF: Operation not permitted") != std::string::npos);
  CHECK(r.err.find("--no-btf") != std::string::npos);
  const auto hex = cli({"dump", "pinned", pinned.path, "-j", "--no-btf"}, without_sys_admin);
  CHECK(hex.status == 0);
  const auto parsed = json::parse(hex.out);
  REQUIRE(parsed.has_value());
  CHECK(parsed->items.size() == 3);
}

TEST_CASE("floats, which bpftool cannot print, are JSON numbers that read back to the same value") {
  btf_builder b;
  const auto u32 = b.add_int("unsigned int", 4);
  const auto f32 = b.add_float("float", 4), f64 = b.add_float("double", 8);
  const auto value =
      b.add_struct("with_float", 24, {{"id", u32, 0}, {"f", f32, 32}, {"d", f64, 64}, {"after", u32, 128}});
  auto m = b.create_map(bpfbatch::map_type::hash, 4, 24, 8, u32, value);
  const float fs[] = {0.1f, -0.0f, std::numeric_limits<float>::infinity(),
                      std::numeric_limits<float>::denorm_min()};
  const double ds[] = {1e-300, -2.5, std::numeric_limits<double>::quiet_NaN(), 123456789.125};
  for (std::uint32_t i = 0; i < 4; ++i) {
    std::vector<std::byte> v(24);
    put(v, 0, i);
    put(v, 4, fs[i]);
    put(v, 8, ds[i]);
    put(v, 16, 7u);
    REQUIRE(m.update_element(support::key_bytes(4, i), v));
  }
  pinned_map pinned(std::move(m), "btf_floats");
  // Not compared with bpftool: it prints "(unsupported-kind" and drops the
  // rest of the entry (README, "Differences from bpftool").
  const auto r = cli({"dump", "pinned", pinned.path, "-j"});
  REQUIRE(r.status == 0);
  const auto parsed = json::parse(r.out);
  REQUIRE_MESSAGE(parsed.has_value(), r.out);
  REQUIRE(parsed->items.size() == 4);
  for (const auto& entry : parsed->items) {
    const auto* v = entry.find("formatted")->find("value");
    REQUIRE(v != nullptr);
    const auto i = static_cast<std::uint32_t>(v->find("id")->number);
    REQUIRE(i < 4);
    CAPTURE(i);
    CHECK(v->find("after")->number == 7);
    const auto* f = v->find("f");
    const auto* d = v->find("d");
    if (i == 2) {
      CHECK(f->text == "inf");
      CHECK(d->type == json::value::kind::string);
      CHECK((d->text == "nan" || d->text == "-nan"));
    } else {
      CHECK(std::strtof(f->text.c_str(), nullptr) == fs[i]);
      CHECK(std::signbit(std::strtof(f->text.c_str(), nullptr)) == std::signbit(fs[i]));
      CHECK(std::strtod(d->text.c_str(), nullptr) == ds[i]);
    }
  }
  const auto plain = cli({"dump", "pinned", pinned.path});
  REQUIRE(plain.status == 0);
  CHECK(plain.out.find("\"f\": 0.1,\n") != std::string::npos);
  CHECK(plain.out.find("\"d\": 1e-300,\n") != std::string::npos);
}

TEST_CASE("dump --threads of a map with BTF formats every entry once, as bpftool in any order") {
  const std::string bpftool = bpftool_path();
  if (bpftool.empty()) return support::record_skip("bpftool not installed");
  auto pinned = filled_kinds_map(bpfbatch::map_type::hash, "btf_kinds_threads", 40);
  const auto ours = cli({"dump", "pinned", pinned.path, "-j", "--threads", "4"});
  REQUIRE(ours.status == 0);
  const auto theirs = run_program(bpftool, {"-j", "map", "dump", "pinned", pinned.path});
  auto a = json::parse(ours.out);
  auto b = json::parse(as_later_bpftool(theirs.out, bpftool_version(bpftool)));
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  auto by_key = [](const json::value& x, const json::value& y) {
    return x.find("formatted")->find("key")->number < y.find("formatted")->find("key")->number;
  };
  std::sort(a->items.begin(), a->items.end(), by_key);
  std::sort(b->items.begin(), b->items.end(), by_key);
  CHECK(a->items.size() == 40);
  CHECK(same(*a, *b));
}

TEST_CASE("drain -j of a map with BTF prints the formatted entries bpftool dumped before") {
  const std::string bpftool = bpftool_path();
  if (bpftool.empty()) return support::record_skip("bpftool not installed");
  auto pinned = filled_kinds_map(bpfbatch::map_type::hash, "btf_kinds_drain", 10);
  const auto theirs = run_program(bpftool, {"-j", "map", "dump", "pinned", pinned.path});
  const auto ours = cli({"drain", "pinned", pinned.path, "-j"});
  REQUIRE(ours.status == 0);
  auto a = json::parse(ours.out);
  auto b = json::parse(as_later_bpftool(theirs.out, bpftool_version(bpftool)));
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  auto by_key = [](const json::value& x, const json::value& y) {
    return x.find("formatted")->find("key")->number < y.find("formatted")->find("key")->number;
  };
  std::sort(a->items.begin(), a->items.end(), by_key);
  std::sort(b->items.begin(), b->items.end(), by_key);
  CHECK(same(*a, *b));
  CHECK(cli({"dump", "pinned", pinned.path}).out == "[]\n");
}

namespace {

// Maps of maps carry no BTF (libbpf creates them without); bpftool 7.1
// prints no "inner_map_id" beside their value bytes, later ones do, as ours.
void drop_inner_map_ids(json::value& dump) {
  for (auto& entry : dump.items) entry.fields.erase("inner_map_id");
}

}  // namespace

TEST_CASE("every map of a clang-built BPF object dumps as bpftool dumps it, in JSON and in plain") {
  REQUIRE_KERNEL();
  const bpf_objects::btf_maps object;
  if (!object.loaded()) return;
  bpf_objects::fill_btf_maps(object);
  const std::string bpftool = bpftool_path();
  const int version = bpftool_version(bpftool);
  std::size_t formatted = 0;
  for (const auto& pin : object.map_paths()) {
    // Named copies: clang 14's INFO lambda cannot capture structured bindings.
    const std::string name = pin.first, path = pin.second;
    INFO("map ", name);
    // bpftool cannot print floats (README, "Differences from bpftool"):
    // the next test checks ours.
    if (name == "floats") continue;
    const bool map_of_maps = name == "hash_of_maps" || name == "array_of_maps";
    const auto j = dumps(bpftool, path, true);
    auto ours = json::parse(j.ours);
    const auto theirs = json::parse(as_later_bpftool(j.theirs, version));
    REQUIRE_MESSAGE(ours.has_value(), j.ours);
    REQUIRE_MESSAGE(theirs.has_value(), j.theirs);
    if (map_of_maps && version < 702) drop_inner_map_ids(*ours);
    CHECK_MESSAGE(same(*ours, *theirs), "ours:\n", j.ours, "\nbpftool:\n", j.theirs);
    if (!ours->items.empty() && ours->items[0].find("formatted") != nullptr) ++formatted;
    if (map_of_maps && version < 702) continue;  // 7.1's plain layout has no inner_map_id
    const auto plain = dumps(bpftool, path, false);
    CHECK(plain.ours ==
          quote_pointers(as_later_bpftool(plain.theirs, version), version, {"opaque", "key_ptr"}));
  }
  CHECK(formatted == object.map_paths().size() - 3);  // not the float map and the maps of maps
}

TEST_CASE("the clang-built float map prints its floats as numbers and keeps the members after them") {
  REQUIRE_KERNEL();
  const bpf_objects::btf_maps object;
  if (!object.loaded()) return;
  bpf_objects::fill_btf_maps(object);
  // Checked against the map's own bytes, not bpftool, which prints
  // "(unsupported-kind" there (README, "Differences from bpftool").
  const auto r = cli({"dump", "pinned", object.map_path("floats"), "-j"});
  REQUIRE(r.status == 0);
  const auto parsed = json::parse(r.out);
  REQUIRE_MESSAGE(parsed.has_value(), r.out);
  REQUIRE(!parsed->items.empty());
  for (const auto& entry : parsed->items) {
    const auto bytes = bytes_of(*entry.find("value"));
    REQUIRE(bytes.size() == sizeof(bpf_objects::with_float));
    bpf_objects::with_float v;
    std::memcpy(&v, bytes.data(), sizeof(v));
    const auto* f = entry.find("formatted")->find("value");
    REQUIRE(f != nullptr);
    CAPTURE(r.out);
    CHECK(f->find("id")->number == v.id);
    CHECK(f->find("after")->number == v.after);
    const auto* ff = f->find("f");
    const auto* fd = f->find("d");
    if (std::isnan(v.f) || std::isinf(v.f)) {
      CHECK(ff->type == json::value::kind::string);
    } else {
      CHECK(std::strtof(ff->text.c_str(), nullptr) == v.f);
      CHECK(std::signbit(std::strtof(ff->text.c_str(), nullptr)) == std::signbit(v.f));
    }
    if (std::isnan(v.d) || std::isinf(v.d)) {
      CHECK(fd->type == json::value::kind::string);
      CHECK(fd->text ==
            (std::isnan(v.d) ? (std::signbit(v.d) ? "-nan" : "nan") : (v.d < 0 ? "-inf" : "inf")));
    } else {
      CHECK(std::strtod(fd->text.c_str(), nullptr) == v.d);
      CHECK(std::signbit(std::strtod(fd->text.c_str(), nullptr)) == std::signbit(v.d));
    }
  }
}
