// The bpf(2) commands bpfbatch issues, named for error messages and probes.
#pragma once

#include <bpfbatch/config.hpp>

#include <cstdint>
#include <string_view>

namespace bpfbatch {

// Values are the kernel's enum bpf_cmd (include/uapi/linux/bpf.h).
enum class command : std::uint32_t {
  none = 0xffffffff,  // no command failed
  map_create = 0,
  map_lookup_elem = 1,
  map_update_elem = 2,
  map_delete_elem = 3,
  map_get_next_key = 4,
  obj_get = 7,
  map_get_next_id = 12,
  map_get_fd_by_id = 14,
  obj_get_info_by_fd = 15,
  btf_load = 18,
  btf_get_fd_by_id = 19,
  map_lookup_and_delete_elem = 21,
  map_freeze = 22,
  map_lookup_batch = 24,
  map_lookup_and_delete_batch = 25,
  map_update_batch = 26,
  map_delete_batch = 27,
};

// The kernel's name for a command, such as "BPF_MAP_LOOKUP_BATCH".
BPFBATCH_API std::string_view command_name(command c) noexcept;

}  // namespace bpfbatch
