#include <bpfbatch/map.hpp>

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include <bpfbatch/error.hpp>
#include <bpfbatch/possible_cpus.hpp>

#include "syscall.hpp"

namespace bpfbatch {

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);  // close() always frees the descriptor on Linux, even on EINTR
  fd_ = fd < 0 ? -1 : fd;
}

namespace {

// The fields map_info needs end with `name`; every kernel since 4.15 fills
// them. A shorter answer means the descriptor is some other BPF object
// (BTF info is 32 bytes), not a map.
constexpr std::uint32_t info_bytes_needed = offsetof(bpf_map_info, name) + sizeof(bpf_map_info::name);

// BPF_OBJ_GET_INFO_BY_FD answers for programs, links and BTF as well as maps,
// each with its own struct, so its answer alone cannot tell a map. A map
// command can: __bpf_map_get() answers EINVAL for any descriptor that is not
// a map. BPF_MAP_LOOKUP_ELEM with a NULL key fails before it touches an
// element on every map whose key_size is non-zero (__bpf_copy_key() faults
// with EFAULT), and on key-less maps (queue, stack, bloom filter) it only
// peeks and faults on the NULL value. An arena answers EINVAL to every lookup
// (arena_map_lookup_elem), so it is taken at its info's word.
bool is_map(int fd, const map_info& info) noexcept {
  if (info.type == map_type::arena) return true;
  return sys::map_lookup_elem(fd, nullptr, nullptr, 0) != EINVAL;
}

// Whether the kernel charges BPF memory to RLIMIT_MEMLOCK (before 5.11),
// probed once as libbpf's probe_memcg_account does: a program calling
// bpf_ktime_get_coarse_ns, which arrived in the same release as memory
// cgroup accounting, loads only on kernels that have it. A load refused for
// any reason counts as "charged", as for libbpf: raising a soft limit costs
// nothing where it was not needed.
bool kernel_charges_memlock() noexcept {
  // 0: not probed yet; 1: charged; 2: memory cgroups.
  static std::atomic<int> answer{0};
  int known = answer.load(std::memory_order_relaxed);
  if (known == 0) {
    int fd = -1;
    known = sys::prog_load_ktime_coarse_probe(fd) == 0 ? 2 : 1;
    unique_fd close_it(fd);
    answer.store(known, std::memory_order_relaxed);
  }
  return known == 1;
}

// Raises the soft RLIMIT_MEMLOCK to the hard one, and no further: the hard
// limit belongs to whoever runs the process. False when that changes nothing.
bool raise_soft_memlock_limit() noexcept {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_MEMLOCK, &limit) != 0 || limit.rlim_cur == limit.rlim_max) return false;
  limit.rlim_cur = limit.rlim_max;
  return ::setrlimit(RLIMIT_MEMLOCK, &limit) == 0;
}

}  // namespace

result<map> map::adopt(unique_fd fd) noexcept {
  // Zeroed: 6.18 rejects non-zero input in fields it reads back (the hash
  // fields), and kernels shorter than our struct check that our tail is zero
  // (bpf_check_uarg_tail_zero). Fields past the returned info_len are absent.
  bpf_map_info raw;
  std::memset(&raw, 0, sizeof(raw));
  std::uint32_t length = sizeof(raw);
  if (int err = sys::obj_get_info_by_fd(fd.get(), &raw, length)) return make_error(err);
  if (length < info_bytes_needed) return make_error(EINVAL);

  map_info info;
  info.type = static_cast<map_type>(raw.type);
  info.id = raw.id;
  info.key_size = raw.key_size;
  info.value_size = raw.value_size;
  info.max_entries = raw.max_entries;
  info.map_flags = raw.map_flags;
  info.btf_id = raw.btf_id;
  info.btf_key_type_id = raw.btf_key_type_id;
  info.btf_value_type_id = raw.btf_value_type_id;
  static_assert(sizeof(raw.name) == std::tuple_size_v<decltype(info.name_bytes)>);
  std::memcpy(info.name_bytes.data(), raw.name, sizeof(raw.name));
  if (!is_map(fd.get(), info)) return make_error(EINVAL);

  if (info.per_cpu_values()) {
    auto cpus = possible_cpus();
    if (!cpus) return cpus.error();
    info.value_copies = *cpus;
  }
  return map(std::move(fd), info);
}

result<map> map::open_pinned(const char* path, open_options options) noexcept {
  if (path == nullptr) return make_error(EINVAL);
  int fd = -1;
  if (int err = sys::obj_get(path, sys::access_flags(options.rights), fd)) return make_error(err);
  return adopt(unique_fd(fd));
}

result<map> map::open_id(std::uint32_t id, open_options options) noexcept {
  int fd = -1;
  if (int err = sys::map_get_fd_by_id(id, sys::access_flags(options.rights), fd)) return make_error(err);
  return adopt(unique_fd(fd));
}

result<std::uint32_t> next_map_id(std::uint32_t after) noexcept {
  std::uint32_t next = 0;
  if (int err = sys::map_get_next_id(after, next)) return make_error(err);
  return next;
}

result<map> map::from_fd(int fd) noexcept {
  if (fd < 0) return make_error(EBADF);
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return make_error(errno);
  return adopt(unique_fd(copy));
}

result<map> map::create(const map_spec& spec) noexcept {
  // The kernel takes at most BPF_OBJ_NAME_LEN - 1 characters and stops at a
  // NUL: refuse what it would silently cut short.
  if (spec.name.size() >= BPF_OBJ_NAME_LEN || spec.name.find('\0') != std::string_view::npos)
    return make_error(EINVAL);
  int fd = -1;
  int err = sys::map_create(spec, fd);
  // Before 5.11 map memory is charged to RLIMIT_MEMLOCK (64 KiB by default on
  // those kernels), and exceeding it reads as EPERM even for root.
  if (err == EPERM && kernel_charges_memlock() && raise_soft_memlock_limit()) err = sys::map_create(spec, fd);
  if (err) return make_error(err);
  return adopt(unique_fd(fd));
}

result<void> map::lookup_element(std::span<const std::byte> key, std::span<std::byte> value,
                                 std::uint64_t flags) const noexcept {
  if (key.size() != info_.key_size || value.size() != info_.value_bytes()) return make_error(EINVAL);
  return make_error(sys::map_lookup_elem(fd(), key.data(), value.data(), flags));
}

result<void> map::update_element(std::span<const std::byte> key, std::span<const std::byte> value,
                                 std::uint64_t flags) const noexcept {
  if (key.size() != info_.key_size || value.size() != info_.value_bytes()) return make_error(EINVAL);
  return make_error(sys::map_update_elem(fd(), key.data(), value.data(), flags));
}

}  // namespace bpfbatch
