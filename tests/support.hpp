// Test support: kernel access checks, map factories, and an independent
// reference reader written with raw bpf(2) calls (not the library's layer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <bpfbatch/bpfbatch.hpp>

namespace support {

using bytes = std::vector<std::byte>;
// key -> one value per CPU (value_size bytes each, padding dropped)
using contents = std::map<bytes, std::vector<bytes>>;

// Whether this process may use bpf(2). The first call probes by creating a
// map; EPERM means the kernel refuses permission, which is the one reason a
// kernel test may skip (and BPFBATCH_REQUIRE_KERNEL=1 turns that into a failure).
bool kernel_available();
void record_skip(const char* where);
int skipped_count();

#define REQUIRE_KERNEL()                                            \
  do {                                                              \
    if (!::support::kernel_available()) {                           \
      ::support::record_skip(__FILE__ ":" DOCTEST_TOSTR(__LINE__)); \
      return;                                                       \
    }                                                               \
  } while (0)

// The number of possible CPUs as glibc counts them (get_nprocs_conf reads
// /sys/devices/system/cpu/possible): a second opinion on possible_cpus().
std::uint32_t libc_possible_cpus();

// Creates a map or fails the test.
bpfbatch::map create(bpfbatch::map_type type, std::uint32_t key_size, std::uint32_t value_size,
                     std::uint32_t max_entries, std::uint32_t flags = 0, int inner_map_fd = -1);

// Whether this kernel has batch command `c` for maps of `type`, probed once
// with count = 0 on a small map of that type (per-CPU arrays, LPM tries and
// maps of maps gained batch lookup after 5.10). Tests expect batches where
// this says yes and the fallback walk where it says no: they never skip.
bool kernel_has_batch(bpfbatch::map_type type, bpfbatch::command c = bpfbatch::command::map_lookup_batch);

// Whether this kernel has the map type (bloom filters arrived in 5.16),
// probed once by creating a small one.
bool kernel_has_map_type(bpfbatch::map_type type);

// Whether the running kernel's release (uname -r) is major.minor or later.
bool kernel_at_least(int major, int minor);

// Deterministic test data: key i, and the value of key i on one CPU.
bytes key_bytes(std::uint32_t key_size, std::uint64_t i);
bytes value_bytes(std::uint32_t value_size, std::uint64_t i, std::uint32_t cpu);

// Fills keys 0..count-1 (for arrays: updates indexes 0..count-1) with
// key_bytes/value_bytes, per-CPU values laid out as the kernel expects.
// Maps of maps get a new inner array each; DEVMAP_HASH gets ifindex 1.
void fill(const bpfbatch::map& m, std::uint64_t count);

// Everything in the map by GET_NEXT_KEY + LOOKUP_ELEM, with raw syscalls and
// value sizes computed independently of the library.
contents reference_walk(int fd);

// Everything an iteration yields; fails the test on a key yielded twice.
// batch_sizes, when given, receives each batch's size in order.
contents collect(bpfbatch::batch_generator& gen, std::vector<std::size_t>* batch_sizes = nullptr);

// Raw helpers for bad-input tests.
int load_trivial_program();  // a socket filter "r0 = 0; exit"
int pin(int fd, const std::string& path);
// A directory on a BPF filesystem for pins (mounted privately if needed).
std::string bpffs_dir();

// A BTF object describing u32 (type 1), struct bpf_spin_lock (type 2) and
// struct spin_value { u32 a; struct bpf_spin_lock lock; u32 b; u32 c; }
// (type 3, 16 bytes), built by hand and loaded with BPF_BTF_LOAD. Returns
// the BTF descriptor (owned by the caller).
int load_spin_lock_btf();
inline constexpr std::uint32_t btf_u32_type = 1;
inline constexpr std::uint32_t btf_spin_value_type = 3;
struct spin_value {
  std::uint32_t a;
  std::uint32_t lock;
  std::uint32_t b;
  std::uint32_t c;
};
// A HASH or ARRAY map with u32 keys and spin_value values (BTF-described).
bpfbatch::map create_spin_lock_map(bpfbatch::map_type type, std::uint32_t max_entries);
// An inode storage with u32 keys (descriptors of the writing process) and
// spin_value values: a map keyed by descriptors.
bpfbatch::map create_inode_storage();

// Writes keys 0..n-1 with values {k, 0, 2k, 3k} (update_batch) and returns the keys.
std::vector<std::uint32_t> fill_spin_lock_map(const bpfbatch::map& m, std::uint32_t n);

// BPF_MAP_FREEZE: the map becomes read-only for user space.
int freeze(int fd);

// Drops every capability for good while staying uid 0 (the bounding set, so
// that execve cannot restore them, then every capability set).
bool drop_all_capabilities();

// Drops these capabilities for good (bounding set, then every set), keeping
// the others.
bool drop_capabilities(std::initializer_list<int> capabilities);

// Counts operator new calls in this test binary.
std::uint64_t allocations();

}  // namespace support
