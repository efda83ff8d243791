// The one place that builds union bpf_attr and calls bpf(2). Internal: not
// installed. Every function zeroes the attr, sets only its command's fields,
// passes the size up to the command's last field, and returns 0 or the errno
// (a positive value), never -1.
#pragma once

#include <cstdint>

#include <bpfbatch/command.hpp>
#include <bpfbatch/map.hpp>

namespace bpfbatch::sys {

int map_create(const map_spec& spec, int& fd) noexcept;
int obj_get(const char* path, std::uint32_t file_flags, int& fd) noexcept;
// The first map id above start_id (ENOENT after the last).
int map_get_next_id(std::uint32_t start_id, std::uint32_t& next_id) noexcept;
int map_get_fd_by_id(std::uint32_t id, std::uint32_t open_flags, int& fd) noexcept;
// The kernel's BTF object with this id (needs CAP_SYS_ADMIN: EPERM without).
int btf_get_fd_by_id(std::uint32_t id, int& fd) noexcept;
// info_len: in, the buffer's size; out, the bytes the kernel filled.
int obj_get_info_by_fd(int fd, void* info, std::uint32_t& info_len) noexcept;

int map_lookup_elem(int fd, const void* key, void* value, std::uint64_t flags) noexcept;
int map_update_elem(int fd, const void* key, const void* value, std::uint64_t flags) noexcept;
// BPF_MAP_DELETE_ELEM takes no flags (its last field is key).
int map_delete_elem(int fd, const void* key) noexcept;
// Hash maps (5.14 on) and queues/stacks (key == nullptr: a pop).
int map_lookup_and_delete_elem(int fd, const void* key, void* value, std::uint64_t flags) noexcept;
// key == nullptr asks for the first key.
int map_get_next_key(int fd, const void* key, void* next_key) noexcept;

// The four batch commands share one attr layout. count: in, the capacity; out,
// what the kernel wrote back (meaningful after 0, ENOENT, ENOSPC and the
// per-element errors of update/delete; see kernel-facts.md).
// in_batch == nullptr starts from the beginning.
int map_batch(command batch_command, int fd, const void* in_batch, void* out_batch, void* keys, void* values,
              std::uint32_t& count, std::uint64_t elem_flags) noexcept;

// Loads a socket filter that calls bpf_ktime_get_coarse_ns (5.11 on): a
// descriptor where the kernel accounts BPF memory to memory cgroups.
int prog_load_ktime_coarse_probe(int& fd) noexcept;

// BPF_F_RDONLY / BPF_F_WRONLY for an access mode.
std::uint32_t access_flags(access rights) noexcept;

}  // namespace bpfbatch::sys
