#include <bpfbatch/map_info.hpp>

#include <cstring>

namespace bpfbatch {

std::string_view map_type_name(map_type type) noexcept {
  // bpftool's spellings (libbpf's map_type_name[]), so that our JSON and
  // messages match what users already read.
  static constexpr std::string_view names[] = {
      "unspec",
      "hash",
      "array",
      "prog_array",
      "perf_event_array",
      "percpu_hash",
      "percpu_array",
      "stack_trace",
      "cgroup_array",
      "lru_hash",
      "lru_percpu_hash",
      "lpm_trie",
      "array_of_maps",
      "hash_of_maps",
      "devmap",
      "sockmap",
      "cpumap",
      "xskmap",
      "sockhash",
      "cgroup_storage",
      "reuseport_sockarray",
      "percpu_cgroup_storage",
      "queue",
      "stack",
      "sk_storage",
      "devmap_hash",
      "struct_ops",
      "ringbuf",
      "inode_storage",
      "task_storage",
      "bloom_filter",
      "user_ringbuf",
      "cgrp_storage",
      "arena",
  };
  auto index = static_cast<std::uint32_t>(type);
  return index < std::size(names) ? names[index] : std::string_view("unknown");
}

bool has_per_cpu_values(map_type type) noexcept {
  switch (type) {
    case map_type::percpu_hash:
    case map_type::lru_percpu_hash:
    case map_type::percpu_array:
    case map_type::percpu_cgroup_storage:
      return true;
    default:
      return false;
  }
}

bool is_map_in_map(map_type type) noexcept {
  return type == map_type::array_of_maps || type == map_type::hash_of_maps;
}

std::string_view map_info::name() const noexcept {
  return {name_bytes.data(), strnlen(name_bytes.data(), name_bytes.size())};
}

}  // namespace bpfbatch
