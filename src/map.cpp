#include <bpfbatch/map.hpp>

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string_view>

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

namespace bpfbatch {

namespace {

// The kernel refuses a non-NULL key on a map whose key_size is 0
// (__bpf_copy_key: EINVAL), and an empty span may still hold a pointer.
const void* key_pointer(std::span<const std::byte> key) noexcept {
  return key.empty() ? nullptr : key.data();
}

// The number after "NAME:" and spaces or tabs at the start of a line of
// fdinfo text, as bpftool's get_fdinfo() finds it.
std::optional<std::uint64_t> fdinfo_field(std::string_view text, std::string_view name) noexcept {
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (line.size() <= name.size() || line.substr(0, name.size()) != name || line[name.size()] != ':')
      continue;
    std::size_t i = name.size() + 1;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) return std::nullopt;
    std::uint64_t value = 0;
    for (; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
      const std::uint64_t digit = static_cast<std::uint64_t>(line[i] - '0');
      if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
      value = value * 10 + digit;
    }
    if (i != line.size()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

}  // namespace

result<void> map::delete_element(std::span<const std::byte> key) const noexcept {
  if (key.size() != info_.key_size) return make_error(EINVAL);
  return make_error(sys::map_delete_elem(fd(), key_pointer(key)));
}

result<void> map::next_key(std::span<const std::byte> key, std::span<std::byte> next) const noexcept {
  if ((!key.empty() && key.size() != info_.key_size) || next.size() != info_.key_size || info_.key_size == 0)
    return make_error(EINVAL);
  return make_error(sys::map_get_next_key(fd(), key_pointer(key), next.data()));
}

result<void> map::lookup_and_delete_element(std::span<const std::byte> key, std::span<std::byte> value,
                                            std::uint64_t flags) const noexcept {
  if (key.size() != info_.key_size || value.size() != info_.value_bytes()) return make_error(EINVAL);
  return make_error(sys::map_lookup_and_delete_elem(fd(), key_pointer(key), value.data(), flags));
}

result<void> map::push(std::span<const std::byte> value, std::uint64_t flags) const noexcept {
  if (info_.key_size != 0 || value.size() != info_.value_bytes()) return make_error(EINVAL);
  return make_error(sys::map_update_elem(fd(), nullptr, value.data(), flags));
}

result<void> map::peek(std::span<std::byte> value) const noexcept {
  if (info_.key_size != 0 || value.size() != info_.value_bytes()) return make_error(EINVAL);
  return make_error(sys::map_lookup_elem(fd(), nullptr, value.data(), 0));
}

result<void> map::pop(std::span<std::byte> value) const noexcept {
  if (info_.key_size != 0 || value.size() != info_.value_bytes()) return make_error(EINVAL);
  return make_error(sys::map_lookup_and_delete_elem(fd(), nullptr, value.data(), 0));
}

result<void> map::freeze() const noexcept { return make_error(sys::map_freeze(fd())); }

result<void> map::pin(const char* path) const noexcept {
  if (path == nullptr) return make_error(EINVAL);
  return make_error(sys::obj_pin(fd(), path));
}

result<map_status> map::status() const noexcept {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd());
  unique_fd file(::open(path, O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) return make_error(errno);
  // A map's fdinfo is a dozen short lines (bpf_map_show_fdinfo): 4 KiB holds
  // it with room for lines later kernels add.
  char text[4096];
  std::size_t length = 0;
  while (length < sizeof(text)) {
    const ssize_t n = ::read(file.get(), text + length, sizeof(text) - length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(errno);
    if (n == 0) break;
    length += static_cast<std::size_t>(n);
  }
  const std::string_view fdinfo(text, length);
  map_status status;
  status.frozen = fdinfo_field(fdinfo, "frozen").value_or(0) != 0;
  status.bytes_memlock = fdinfo_field(fdinfo, "memlock");
  return status;
}

}  // namespace bpfbatch
