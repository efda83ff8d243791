// map: an owned descriptor of a BPF map, with the map's info read once.
#pragma once

#include <bpfbatch/config.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <bpfbatch/map_info.hpp>
#include <bpfbatch/result.hpp>
#include <bpfbatch/unique_fd.hpp>

namespace bpfbatch {

// The rights a descriptor is opened with (BPF_F_RDONLY / BPF_F_WRONLY). The
// kernel checks them per command: lookups need read, updates and deletes
// write, lookup-and-delete both.
enum class access { read_write, read_only, write_only };

struct open_options {
  access rights = access::read_write;
};

// What BPF_MAP_CREATE needs. Sizes as for the kernel: value_size is one CPU's
// value for per-CPU maps, and 4 for maps of maps.
// What the kernel tells of a map in /proc/self/fdinfo/FD and not in its
// info (bpftool's map show reads the same lines: get_fdinfo() in
// tools/bpf/bpftool/common.c).
struct map_status {
  // "frozen:": BPF_MAP_FREEZE was called (5.2 on; absent before: false).
  bool frozen = false;
  // "memlock:": the bytes the kernel charges for the map (bpftool's
  // bytes_memlock); empty where the kernel does not print the line.
  std::optional<std::uint64_t> bytes_memlock;
};

struct map_spec {
  map_type type = map_type::hash;
  std::uint32_t key_size = 0;
  std::uint32_t value_size = 0;
  std::uint32_t max_entries = 0;
  std::uint32_t map_flags = 0;
  std::string_view name;  // at most 15 characters: [A-Za-z0-9_.], no NUL
  int inner_map_fd = -1;  // the template for array_of_maps / hash_of_maps
  int btf_fd = -1;        // BTF describing key and value (for BPF_F_LOCK)
  std::uint32_t btf_key_type_id = 0;
  std::uint32_t btf_value_type_id = 0;
};

// The id of the first map whose id is above `after` (BPF_MAP_GET_NEXT_ID,
// which needs CAP_SYS_ADMIN): start from 0, and ENOENT says there is no more.
BPFBATCH_API result<std::uint32_t> next_map_id(std::uint32_t after) noexcept;

class BPFBATCH_API map {
 public:
  // Opens a map pinned in a BPF filesystem (BPF_OBJ_GET).
  static result<map> open_pinned(const char* path, open_options options = {}) noexcept;
  // Opens a map by its id (BPF_MAP_GET_FD_BY_ID; needs CAP_SYS_ADMIN).
  static result<map> open_id(std::uint32_t id, open_options options = {}) noexcept;
  // Duplicates fd (close-on-exec) and owns the duplicate; the caller keeps
  // and still owns fd. Fails with EINVAL when fd is not a BPF map.
  static result<map> from_fd(int fd) noexcept;
  // Creates a map. A name longer than 15 characters or holding a NUL is
  // EINVAL (the kernel would cut it short); other characters than
  // [A-Za-z0-9_.] are the kernel's EINVAL. Kernels before 5.11 charge map
  // memory to RLIMIT_MEMLOCK (64 KiB by default on 5.10) and refuse with
  // EPERM past it: on such a kernel only (probed once, as libbpf does, by
  // loading a program that calls bpf_ktime_get_coarse_ns, which arrived with
  // memory-cgroup accounting in 5.11), an EPERM raises the soft limit to the
  // hard limit and creation is tried once more. The hard limit is the
  // process's to raise (ulimit -l, LimitMEMLOCK=).
  static result<map> create(const map_spec& spec) noexcept;

  map(map&&) noexcept = default;
  map& operator=(map&&) noexcept = default;

  int fd() const noexcept { return fd_.get(); }
  const map_info& info() const noexcept { return info_; }

  // Single-element operations (BPF_MAP_LOOKUP_ELEM / BPF_MAP_UPDATE_ELEM).
  // key must be info().key_size bytes and value info().value_bytes(), or the
  // call fails with EINVAL before reaching the kernel.
  result<void> lookup_element(std::span<const std::byte> key, std::span<std::byte> value,
                              std::uint64_t flags = 0) const noexcept;
  result<void> update_element(std::span<const std::byte> key, std::span<const std::byte> value,
                              std::uint64_t flags = 0) const noexcept;

  // BPF_MAP_DELETE_ELEM. ENOENT when the key is not in the map.
  result<void> delete_element(std::span<const std::byte> key) const noexcept;

  // BPF_MAP_GET_NEXT_KEY: writes into next the key that follows key, or the
  // first key when key is empty; ENOENT after the last. A key that is not in
  // the map gives the first key on hash maps (htab_map_get_next_key), and
  // the walk restarts: see kernel-facts.md before walking a changing map.
  // next must be info().key_size bytes, key that or empty (EINVAL).
  result<void> next_key(std::span<const std::byte> key, std::span<std::byte> next) const noexcept;

  // BPF_MAP_LOOKUP_AND_DELETE_ELEM: the element's value, and the element
  // removed. Hash maps from 5.14 (per-CPU values: value_bytes() of them),
  // queues and stacks (see pop()); others answer ENOTSUPP (524) or EINVAL.
  result<void> lookup_and_delete_element(std::span<const std::byte> key, std::span<std::byte> value,
                                         std::uint64_t flags = 0) const noexcept;

  // Key-less maps (queue, stack, bloom filter: key_size 0, else EINVAL
  // before the kernel). push: BPF_MAP_UPDATE_ELEM without a key; flags 0
  // (BPF_ANY) or BPF_EXIST, which on a full queue or stack drops the oldest
  // element instead of failing with E2BIG (queue_stack_map_push_elem).
  // peek: BPF_MAP_LOOKUP_ELEM without a key, the next value without removing
  // it (ENOENT when empty); on a bloom filter value is read, not written:
  // 0 means maybe present, ENOENT certainly absent. pop: the next value,
  // removed (BPF_MAP_LOOKUP_AND_DELETE_ELEM without a key; not on a bloom
  // filter). value must be info().value_bytes() bytes.
  result<void> push(std::span<const std::byte> value, std::uint64_t flags = 0) const noexcept;
  result<void> peek(std::span<std::byte> value) const noexcept;
  result<void> pop(std::span<std::byte> value) const noexcept;

  // BPF_MAP_FREEZE (5.2 on): from now on user space can no longer write the
  // map (EPERM), through any descriptor; BPF programs still can. EBUSY when
  // the map is mapped writable (mmap). Freezing twice fails: EPERM on recent
  // kernels (6.18: map_freeze() first wants a writable map, and
  // map_get_sys_perms() drops write from a frozen one), another errno on
  // 5.10.
  result<void> freeze() const noexcept;

  // BPF_OBJ_PIN: the map stays while the path exists in a BPF filesystem
  // (EEXIST when it does already; EPERM outside a BPF filesystem).
  result<void> pin(const char* path) const noexcept;

  // frozen and bytes_memlock, read from /proc/self/fdinfo (procfs needed).
  result<map_status> status() const noexcept;

  // Gives up the descriptor; the map object is left without one.
  [[nodiscard]] unique_fd release() noexcept { return std::move(fd_); }

 private:
  map(unique_fd fd, const map_info& info) noexcept : fd_(std::move(fd)), info_(info) {}
  static result<map> adopt(unique_fd fd) noexcept;

  unique_fd fd_;
  map_info info_;
};

}  // namespace bpfbatch
