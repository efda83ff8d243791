#include "bpf_objects.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <span>

#include "cli_support.hpp"

namespace bpf_objects {

namespace {

bool required() {
  const char* required = std::getenv("BPFBATCH_REQUIRE_BPFTOOL");
  return required != nullptr && *required != '\0' && std::strcmp(required, "0") != 0;
}

// Removes every pin in a directory of the BPF filesystem, then the directory.
void remove_pins(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        ::unlink((dir + "/" + e->d_name).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

template <class T>
std::span<const std::byte> bytes_of(const T& value) {
  return std::as_bytes(std::span<const T, 1>(&value, 1));
}

}  // namespace

std::string btf_maps_object() {
  const char* override_path = std::getenv("BPFBATCH_BTF_OBJECT");
#ifdef BPFBATCH_BTF_MAPS_OBJECT
  std::string path = override_path != nullptr ? override_path : BPFBATCH_BTF_MAPS_OBJECT;
#else
  std::string path = override_path != nullptr ? override_path : "";
#endif
  if (!path.empty() && ::access(path.c_str(), R_OK) == 0) return path;
  if (required())
    FAIL("BPFBATCH_REQUIRE_BPFTOOL is set but the BPF object '", path,
         "' was not built (clang with the BPF target is needed)");
  return {};
}

loaded_object::loaded_object(const std::string& object_path) {
  const std::string bpftool = cli_support::bpftool_path();
  if (object_path.empty() || bpftool.empty()) {
    MESSAGE("no bpftool or no BPF object: the BTF comparisons are skipped");
    return;
  }
  static int serial = 0;
  dir_ = support::bpffs_dir() + "/object-" + std::to_string(++serial);
  REQUIRE(::mkdir(dir_.c_str(), 0700) == 0);
  const auto r = cli_support::run_program(
      bpftool, {"prog", "loadall", object_path, dir_ + "/progs", "pinmaps", dir_ + "/maps"});
  INFO("bpftool prog loadall: ", r.err);
  REQUIRE(r.status == 0);
  DIR* d = ::opendir((dir_ + "/maps").c_str());
  REQUIRE(d != nullptr);
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') maps_.emplace(e->d_name, dir_ + "/maps/" + e->d_name);
  }
  ::closedir(d);
  loaded_ = true;
}

loaded_object::~loaded_object() {
  if (dir_.empty()) return;
  remove_pins(dir_ + "/maps");
  remove_pins(dir_ + "/progs");
  ::rmdir(dir_.c_str());
}

std::string loaded_object::map_path(std::string_view name) const {
  const auto it = maps_.find(std::string(name));
  REQUIRE_MESSAGE(it != maps_.end(), "no pinned map ", std::string(name));
  return it->second;
}

bpfbatch::map loaded_object::open(std::string_view name) const {
  auto m = bpfbatch::map::open_pinned(map_path(name).c_str());
  REQUIRE(m.has_value());
  return std::move(*m);
}

namespace {

template <class K, class V>
void put(const bpfbatch::map& m, const K& key, const V& value) {
  INFO("map ", std::string(m.info().name()));
  REQUIRE(m.info().key_size == sizeof(K));
  REQUIRE(m.info().value_size == sizeof(V));
  REQUIRE(m.update_element(bytes_of(key), bytes_of(value)).has_value());
}

// Copies text into a char array without a terminating NUL when it fills it.
template <std::size_t N>
void set_chars(char (&out)[N], std::string_view text) {
  std::memset(out, 0, N);
  std::memcpy(out, text.data(), std::min(N, text.size()));
}

// Six values that between them hold every edge bpftool's dumper meets.
all_types all_types_value(std::uint32_t i) {
  all_types v{};
  v.s8 = static_cast<std::int8_t>(i % 2 ? -128 : -1 - static_cast<int>(i));
  v.u8 = static_cast<std::uint8_t>(255 - i);
  v.s16 = static_cast<std::int16_t>(i % 2 ? -32768 : 1234 * static_cast<int>(i));
  v.u16 = static_cast<std::uint16_t>(65535 - i);
  v.s32 = i % 2 ? std::numeric_limits<std::int32_t>::min() : -7 * static_cast<std::int32_t>(i);
  v.u32 = std::numeric_limits<std::uint32_t>::max() - i;
  v.s64 = i % 2 ? std::numeric_limits<std::int64_t>::min() : -1'000'000'000'000 * std::int64_t(i);
  v.u64 = std::numeric_limits<std::uint64_t>::max() - i;
  v.flag = static_cast<std::uint8_t>(i % 3);  // 2 is a bool no C program stores
  static constexpr char chars[] = {'a', '\0', '\x01', '"', '\\', '\x7f'};
  v.c = chars[i % sizeof(chars)];
  v.sc = static_cast<signed char>(-100 + static_cast<int>(i));
  v.uc = static_cast<unsigned char>(200 + i);
  static constexpr std::string_view names[] = {
      "curl",                            // NUL-terminated
      "0123456789abcdef",                // full length, no NUL
      "\x01\x02\x7f\xff\xfe tab\there",  // non-printable bytes
      "quote\" back\\slash",             // cut at 16: no NUL
      "",                                // empty
      std::string_view("ab\0cd", 5),     // bytes after the NUL
  };
  set_chars(v.name, names[i % 6]);
  for (std::size_t b = 0; b < 4; ++b) v.raw[b] = static_cast<unsigned char>(0x7e + b + i);
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t c = 0; c < 3; ++c) v.matrix[r][c] = static_cast<std::uint16_t>(1000 * r + c + i);
  v.point_x = static_cast<std::int16_t>(-1 - static_cast<int>(i));
  v.point_y = static_cast<std::int16_t>(i * 300);
  const std::uint32_t word = 0xdeadbeef ^ i;
  std::memcpy(v.nested_as, &word, 4);
  v.anon_a = 42 + i;
  const std::array<std::uint8_t, 4> anon = {0x80, 0xff, static_cast<std::uint8_t>(i), 0x7f};
  std::memcpy(v.anon_union, anon.data(), 4);
  static constexpr std::uint32_t verdicts[] = {0, 1, 7, 3, 0xffffffff, 8};  // 3, 0xffffffff, 8: no enumerator
  v.verdict = verdicts[i % 6];
  static constexpr std::int32_t directions[] = {-1, 0, 1, 2, -7, 1000};  // 2, -7, 1000: no enumerator
  v.direction = directions[i % 6];
  static constexpr std::int32_t signed7[] = {-64, -1, 63, 0, 1, -33};
  v.bitfields = all_types::bits(i % 8, i % 2 ? 0x3ff : 0x155 + i, signed7[i % 6], 0xfff - i);
  v.cv = 0x80000000u + i;
  v.packets = 1ull << (i * 9 % 64);
  v.bytes = std::numeric_limits<std::uint64_t>::max() / (i + 1);
  static constexpr std::uint64_t pointers[] = {0, 0xffff888012345678, 1, 0xffffffffffffffff, 0x1000, 42};
  v.opaque = pointers[i % 6];
  v.key_ptr = pointers[(i + 1) % 6];
  v.tail = 0x0123456789abcdefull + i;
  return v;
}

void fill_all_types(const loaded_object& object) {
  const auto hash = object.open("hash_all");
  for (std::uint32_t i = 0; i < 6; ++i) {
    flow_key key{};
    key.saddr = 0x0a000001 + i;
    key.daddr = 0xc0a80001u * (i + 1);
    key.sport = static_cast<std::uint16_t>(1024 + i);
    key.dport = i % 2 ? 443 : 65535;
    key.proto = i % 2 ? 6 : 17;
    key.pad[0] = static_cast<std::uint8_t>(i);  // padding a program might leave dirty
    put(hash, key, all_types_value(i));
  }
  const auto array = object.open("array_all");
  for (std::uint32_t i = 0; i < 6; ++i) put(array, i, all_types_value(5 - i));
}

void fill_per_cpu(const loaded_object& object) {
  const std::uint32_t cpus = bpfbatch::possible_cpus().value_or(1);
  for (const char* name : {"percpu_hash", "percpu_array"}) {
    const auto m = object.open(name);
    REQUIRE(m.info().value_size == sizeof(stats));
    for (std::uint32_t key = 0; key < 4; ++key) {
      std::vector<stats> values(cpus);
      for (std::uint32_t cpu = 0; cpu < cpus; ++cpu) {
        auto& v = values[cpu];
        v.packets = 1000ull * cpu + key;
        v.delta = -static_cast<std::int64_t>(cpu) * 1'000'000'007 - key;
        set_chars(v.tag, key % 2 ? "cpu#" + std::to_string(cpu) + "!" : std::string("k") + char('0' + key));
        v.flags = static_cast<std::uint16_t>(0xffff - cpu);
      }
      REQUIRE(m.update_element(bytes_of(key), std::as_bytes(std::span(values))).has_value());
    }
  }
}

void fill_lpm(const loaded_object& object) {
  const auto lpm = object.open("lpm");
  struct prefix {
    std::uint32_t length;
    std::array<std::uint8_t, 16> data;
    std::uint32_t verdict;
  };
  const prefix prefixes[] = {
      {0, {}, verdict_pass},
      {8, {10}, verdict_drop},
      {24, {192, 168, 1}, verdict_redirect},
      {128, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 9},  // 9: no enumerator
      {33, {0xff, 0xff, 0xff, 0xff, 0x80}, 0xffffffff},
  };
  for (const auto& p : prefixes) {
    lpm_key key{};
    key.prefixlen = p.length;
    std::memcpy(key.data, p.data.data(), sizeof(key.data));
    put(lpm, key, p.verdict);
  }
}

void fill_floats(const loaded_object& object) {
  const auto m = object.open("floats");
  constexpr float nanf = std::numeric_limits<float>::quiet_NaN();
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  constexpr double inf = std::numeric_limits<double>::infinity();
  const std::pair<float, double> values[] = {
      {-0.0f, -0.0},
      {nanf, nan},
      {0.1f, 0.1},
      {1e-38f, 1e-300},
      {std::numeric_limits<float>::denorm_min(), std::numeric_limits<double>::denorm_min()},
      {-std::numeric_limits<float>::infinity(), inf},
      {3.4028235e38f, -1.7976931348623157e308},
      {-1.5f, 123456789.125},
  };
  std::uint32_t id = 0;
  for (const auto& [f, d] : values) {
    with_float v{};
    v.id = id;
    v.f = f;
    v.d = d;
    v.after = 0xa5a5a5a5 ^ id;
    put(m, id++, v);
  }
}

void fill_maps_of_maps(const loaded_object& object) {
  // The inner maps match btf_maps.bpf.c's `struct inner` template: the
  // kernel (bpf_map_meta_equal) takes only maps of its type and sizes.
  for (const char* name : {"hash_of_maps", "array_of_maps"}) {
    const auto outer = object.open(name);
    for (std::uint32_t key = 0; key < 3; ++key) {
      auto inner = support::create(bpfbatch::map_type::array, 4, 4, 4);
      const std::uint32_t value = 100 + key;
      REQUIRE(inner.update_element(bytes_of(std::uint32_t{0}), bytes_of(value)).has_value());
      const std::uint32_t fd = static_cast<std::uint32_t>(inner.fd());
      REQUIRE(outer.update_element(bytes_of(key), bytes_of(fd)).has_value());
    }
  }
}

void fill_global_data(const loaded_object& object) {
  bss_section bss{};
  bss.counter = std::numeric_limits<std::uint64_t>::max();
  bss.point_x = -32768;
  bss.point_y = 32767;
  const auto bss_map = object.open("btf_maps_bss");
  REQUIRE(bss_map.info().value_size == 12);  // 8 + 4: no tail padding in the section
  REQUIRE(bss_map.update_element(bytes_of(std::uint32_t{0}), bytes_of(bss).first(12)).has_value());

  data_section data{};
  data.level = -2147483647 - 1;
  set_chars(data.label, "8 chars!");  // full length, no NUL
  data.direction = 5;                 // no enumerator
  put(object.open("btf_maps_data"), std::uint32_t{0}, data);
}

}  // namespace

void fill_btf_maps(const loaded_object& object, std::uint32_t flows) {
  REQUIRE(object.loaded());
  fill_all_types(object);
  fill_per_cpu(object);
  fill_lpm(object);
  fill_floats(object);
  fill_maps_of_maps(object);
  fill_global_data(object);
  const auto m = object.open("flows");
  for (std::uint32_t i = 0; i < flows; ++i) put(m, i, flow_value(i));
}

}  // namespace bpf_objects
