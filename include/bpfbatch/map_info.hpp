// map_info: what BPF_OBJ_GET_INFO_BY_FD says about a map, and the buffer
// sizes that follow from it.
#pragma once

#include <bpfbatch/config.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bpfbatch {

// Values are the kernel's enum bpf_map_type (include/uapi/linux/bpf.h).
enum class map_type : std::uint32_t {
  unspec = 0,
  hash = 1,
  array = 2,
  prog_array = 3,
  perf_event_array = 4,
  percpu_hash = 5,
  percpu_array = 6,
  stack_trace = 7,
  cgroup_array = 8,
  lru_hash = 9,
  lru_percpu_hash = 10,
  lpm_trie = 11,
  array_of_maps = 12,
  hash_of_maps = 13,
  devmap = 14,
  sockmap = 15,
  cpumap = 16,
  xskmap = 17,
  sockhash = 18,
  cgroup_storage = 19,
  reuseport_sockarray = 20,
  percpu_cgroup_storage = 21,
  queue = 22,
  stack = 23,
  sk_storage = 24,
  devmap_hash = 25,
  struct_ops = 26,
  ringbuf = 27,
  inode_storage = 28,
  task_storage = 29,
  bloom_filter = 30,
  user_ringbuf = 31,
  cgrp_storage = 32,
  arena = 33,
};

// bpftool's name for a map type ("percpu_hash", "lpm_trie"), or "unknown".
BPFBATCH_API std::string_view map_type_name(map_type type) noexcept;

// Whether the kernel copies one value per possible CPU for each element
// (bpf_map_value_size() in kernel/bpf/syscall.c).
BPFBATCH_API bool has_per_cpu_values(map_type type) noexcept;

// Whether values are other maps (lookups return the inner map's id, updates
// take an inner map's descriptor).
BPFBATCH_API bool is_map_in_map(map_type type) noexcept;

struct BPFBATCH_API map_info {
  map_type type = map_type::unspec;
  std::uint32_t id = 0;
  std::uint32_t key_size = 0;
  std::uint32_t value_size = 0;
  std::uint32_t max_entries = 0;
  std::uint32_t map_flags = 0;
  // The BTF object that describes keys and values, and their type ids in it;
  // 0 when the map was created without BTF (see btf.hpp).
  std::uint32_t btf_id = 0;
  std::uint32_t btf_key_type_id = 0;
  std::uint32_t btf_value_type_id = 0;
  // The map's name as the kernel holds it (BPF_OBJ_NAME_LEN bytes, NUL-padded).
  std::array<char, 16> name_bytes{};
  // How many values each element has in a lookup: the possible CPUs for
  // per-CPU maps, 1 for every other map.
  std::uint32_t value_copies = 1;

  // The name without its NUL padding.
  std::string_view name() const noexcept;

  bool per_cpu_values() const noexcept { return has_per_cpu_values(type); }

  // The bytes between two CPUs' values of one element: value_size rounded up
  // to 8 for per-CPU maps (the kernel copies each CPU's value with
  // bpf_long_memcpy into a round_up(value_size, 8) slot), value_size otherwise.
  // Sizes are 64-bit so that no product can wrap where size_t has 32 bits.
  std::uint64_t per_cpu_stride() const noexcept {
    return per_cpu_values() ? (std::uint64_t{value_size} + 7) & ~std::uint64_t{7} : value_size;
  }

  // The bytes one element's value occupies in a lookup buffer:
  // per_cpu_stride() * value_copies.
  std::uint64_t value_bytes() const noexcept { return per_cpu_stride() * value_copies; }
};

}  // namespace bpfbatch
