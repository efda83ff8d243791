// Real BPF objects with BTF for the CLI tests: tests/bpf/btf_maps.bpf.c,
// compiled by clang's BPF target at build time and loaded with bpftool, so
// that our output is compared with bpftool's on maps made by libbpf's
// loader, as users meet them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <bpfbatch/bpfbatch.hpp>

#include "bpf/flow_record.hpp"
#include "support.hpp"

namespace bpf_objects {

// The compiled tests/bpf/btf_maps.bpf.o (BPFBATCH_BTF_OBJECT overrides the
// build's path); empty when the build had no clang for BPF. Fails the test
// instead when BPFBATCH_REQUIRE_BPFTOOL is set (CI): there the comparisons
// with bpftool may not be skipped.
std::string btf_maps_object();

// An object loaded with `bpftool prog loadall OBJ DIR/progs pinmaps
// DIR/maps` into a fresh directory of the tests' BPF filesystem; the pins
// (and with them the maps and the program) go when it does.
class loaded_object {
 public:
  // Loads the object; loaded() is false when bpftool or the object is
  // missing and the run does not require them (see btf_maps_object).
  explicit loaded_object(const std::string& object_path);
  ~loaded_object();
  loaded_object(const loaded_object&) = delete;
  loaded_object& operator=(const loaded_object&) = delete;

  bool loaded() const noexcept { return loaded_; }
  // The pinned maps by libbpf's pin name: the map's name, and for global
  // data "<object>_bss", "<object>_data", "<object>_rodata".
  const std::map<std::string, std::string>& map_paths() const noexcept { return maps_; }
  // The pin of one map; fails the test when there is none.
  std::string map_path(std::string_view name) const;
  // Opens one pinned map; fails the test when it cannot.
  bpfbatch::map open(std::string_view name) const;

 private:
  std::string dir_;
  std::map<std::string, std::string> maps_;
  bool loaded_ = false;
};

// The btf_maps object, loaded; as loaded_object.
struct btf_maps : loaded_object {
  btf_maps() : loaded_object(btf_maps_object()) {}
};

// C++ mirrors of btf_maps.bpf.c's layouts (checked against its BTF by
// offset below). 64-bit members are aligned to 8 as on the BPF target, also
// in a 32-bit test build; pointers are 64-bit there, so std::uint64_t here.
enum verdict : std::uint32_t { verdict_pass = 0, verdict_drop = 1, verdict_redirect = 7 };

struct flow_key {
  std::uint32_t saddr, daddr;
  std::uint16_t sport, dport;
  std::uint8_t proto;
  std::uint8_t pad[3];
};
static_assert(sizeof(flow_key) == 16);

struct all_types {
  std::int8_t s8;
  std::uint8_t u8;
  std::int16_t s16;
  std::uint16_t u16;
  std::int32_t s32;
  std::uint32_t u32;
  alignas(8) std::int64_t s64;
  alignas(8) std::uint64_t u64;
  std::uint8_t flag;  // C's bool: any byte may be written from user space
  char c;
  signed char sc;
  unsigned char uc;
  char name[16];
  unsigned char raw[4];
  std::uint16_t matrix[2][3];
  std::int16_t point_x, point_y;  // nested.point
  std::uint8_t nested_as[4];      // nested.as: union { __u32 word; __u8 octets[4]; }
  std::uint32_t anon_a;
  std::uint8_t anon_union[4];  // union { __u32 anon_word; __s8 anon_bytes[4]; }
  std::uint32_t verdict;       // enum verdict: any 32 bits
  std::int32_t direction;      // enum direction
  std::uint32_t bitfields;     // bf_low:3, bf_cross:10, bf_signed:7, bf_rest:12 (see bits())
  std::uint32_t cv;
  alignas(8) std::uint64_t packets;
  alignas(8) std::uint64_t bytes;
  alignas(8) std::uint64_t opaque;   // void *
  alignas(8) std::uint64_t key_ptr;  // struct flow_key *
  alignas(8) std::uint64_t tail;

  // The bitfield word as clang lays it out for little-endian BPF: fields
  // from the lowest bit up (BTF: bit offsets 736, 739, 749, 756).
  static std::uint32_t bits(std::uint32_t low, std::uint32_t cross, std::int32_t signed7,
                            std::uint32_t rest) {
    return (low & 0x7u) | (cross & 0x3ffu) << 3 | (static_cast<std::uint32_t>(signed7) & 0x7fu) << 13 |
           (rest & 0xfffu) << 20;
  }
};
static_assert(sizeof(all_types) == 144);
static_assert(offsetof(all_types, name) == 36 && offsetof(all_types, matrix) == 56);
static_assert(offsetof(all_types, point_x) == 68 && offsetof(all_types, anon_a) == 76);
static_assert(offsetof(all_types, verdict) == 84 && offsetof(all_types, bitfields) == 92);
static_assert(offsetof(all_types, packets) == 104 && offsetof(all_types, tail) == 136);

struct stats {
  alignas(8) std::uint64_t packets;
  alignas(8) std::int64_t delta;
  char tag[6];
  std::uint16_t flags;
};
static_assert(sizeof(stats) == 24);

struct lpm_key {
  std::uint32_t prefixlen;
  std::uint8_t data[16];
};
static_assert(sizeof(lpm_key) == 20);

struct with_float {
  std::uint32_t id;
  float f;
  alignas(8) double d;
  std::uint32_t after;
};
static_assert(sizeof(with_float) == 24 && offsetof(with_float, d) == 8 && offsetof(with_float, after) == 16);

// The global-data maps' one value (libbpf lays the variables out in the
// order of the section, each at its alignment).
struct bss_section {
  std::uint64_t counter;  // bss_counter
  std::int16_t point_x, point_y;
};
struct data_section {
  std::int32_t level;      // data_level
  char label[8];           // data_label
  std::int32_t direction;  // data_direction
};

// Fills every writable map of a loaded btf_maps with varied values:
// extreme and negative numbers, enum values that are no enumerator, bools
// other than 0 and 1, full-length strings without NUL, non-printable bytes,
// quotes and backslashes, bitfields set across bytes, floats (negative zero,
// NaN, infinities, 1e-300, 0.1, subnormals), pointers, per-CPU values that
// differ per CPU, LPM prefixes, inner maps in both maps of maps. `flows`
// gets that many entries (keys 0..flows-1). .rodata is frozen by libbpf and
// keeps its initial values.
void fill_btf_maps(const loaded_object& object, std::uint32_t flows = 16);

}  // namespace bpf_objects
