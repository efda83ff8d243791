#include "syscall.hpp"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace bpfbatch::sys {

namespace {

// The size of union bpf_attr up to and including `member`: what the kernel
// reads for a command. bpf_check_uarg_tail_zero() accepts any size up to its
// own union's, so passing exactly the bytes a command uses works on kernels
// older and newer than these headers.
#define BPFBATCH_ATTR_SIZE(member) \
  static_cast<unsigned>(offsetof(union bpf_attr, member) + sizeof(((union bpf_attr*)nullptr)->member))

std::uint64_t pointer(const void* p) noexcept { return reinterpret_cast<std::uintptr_t>(p); }

// The one bpf(2) call site: the descriptor or other non-negative result, or
// -errno.
long bpf(int cmd, union bpf_attr& attr, unsigned size) noexcept {
  const long ret = ::syscall(__NR_bpf, cmd, &attr, size);
  return ret < 0 ? -errno : ret;
}

int call(int cmd, union bpf_attr& attr, unsigned size) noexcept {
  const long ret = bpf(cmd, attr, size);
  return ret < 0 ? static_cast<int>(-ret) : 0;
}

int call_for_fd(int cmd, union bpf_attr& attr, unsigned size, int& fd) noexcept {
  const long ret = bpf(cmd, attr, size);
  if (ret < 0) return static_cast<int>(-ret);
  fd = static_cast<int>(ret);
  return 0;
}

static_assert(static_cast<int>(command::map_create) == BPF_MAP_CREATE);
static_assert(static_cast<int>(command::map_lookup_elem) == BPF_MAP_LOOKUP_ELEM);
static_assert(static_cast<int>(command::map_update_elem) == BPF_MAP_UPDATE_ELEM);
static_assert(static_cast<int>(command::map_delete_elem) == BPF_MAP_DELETE_ELEM);
static_assert(static_cast<int>(command::map_get_next_key) == BPF_MAP_GET_NEXT_KEY);
static_assert(static_cast<int>(command::obj_get) == BPF_OBJ_GET);
static_assert(static_cast<int>(command::map_get_next_id) == BPF_MAP_GET_NEXT_ID);
static_assert(static_cast<int>(command::map_get_fd_by_id) == BPF_MAP_GET_FD_BY_ID);
static_assert(static_cast<int>(command::obj_get_info_by_fd) == BPF_OBJ_GET_INFO_BY_FD);
static_assert(static_cast<int>(command::btf_load) == BPF_BTF_LOAD);
static_assert(static_cast<int>(command::btf_get_fd_by_id) == BPF_BTF_GET_FD_BY_ID);
static_assert(static_cast<int>(command::map_lookup_and_delete_elem) == BPF_MAP_LOOKUP_AND_DELETE_ELEM);
static_assert(static_cast<int>(command::map_freeze) == BPF_MAP_FREEZE);
static_assert(static_cast<int>(command::map_lookup_batch) == BPF_MAP_LOOKUP_BATCH);
static_assert(static_cast<int>(command::map_lookup_and_delete_batch) == BPF_MAP_LOOKUP_AND_DELETE_BATCH);
static_assert(static_cast<int>(command::map_update_batch) == BPF_MAP_UPDATE_BATCH);
static_assert(static_cast<int>(command::map_delete_batch) == BPF_MAP_DELETE_BATCH);

static_assert(static_cast<std::uint32_t>(map_type::hash) == BPF_MAP_TYPE_HASH);
static_assert(static_cast<std::uint32_t>(map_type::percpu_cgroup_storage) ==
              BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE);
static_assert(static_cast<std::uint32_t>(map_type::devmap_hash) == BPF_MAP_TYPE_DEVMAP_HASH);
static_assert(static_cast<std::uint32_t>(map_type::user_ringbuf) == BPF_MAP_TYPE_USER_RINGBUF);

}  // namespace

std::uint32_t access_flags(access rights) noexcept {
  switch (rights) {
    case access::read_only:
      return BPF_F_RDONLY;
    case access::write_only:
      return BPF_F_WRONLY;
    case access::read_write:
      break;
  }
  return 0;
}

int map_create(const map_spec& spec, int& fd) noexcept {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_type = static_cast<std::uint32_t>(spec.type);
  attr.key_size = spec.key_size;
  attr.value_size = spec.value_size;
  attr.max_entries = spec.max_entries;
  attr.map_flags = spec.map_flags;
  if (spec.inner_map_fd >= 0) attr.inner_map_fd = static_cast<std::uint32_t>(spec.inner_map_fd);
  // map::create() has checked that the name fits with its NUL; the kernel
  // judges its characters (bpf_obj_name_cpy).
  if (!spec.name.empty())
    std::memcpy(attr.map_name, spec.name.data(), std::min(spec.name.size(), sizeof(attr.map_name) - 1));
  if (spec.btf_fd >= 0) {
    attr.btf_fd = static_cast<std::uint32_t>(spec.btf_fd);
    attr.btf_key_type_id = spec.btf_key_type_id;
    attr.btf_value_type_id = spec.btf_value_type_id;
  }
  return call_for_fd(BPF_MAP_CREATE, attr, BPFBATCH_ATTR_SIZE(btf_value_type_id), fd);
}

int obj_get(const char* path, std::uint32_t file_flags, int& fd) noexcept {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.pathname = pointer(path);
  attr.file_flags = file_flags;
  return call_for_fd(BPF_OBJ_GET, attr, BPFBATCH_ATTR_SIZE(file_flags), fd);
}

int map_get_next_id(std::uint32_t start_id, std::uint32_t& next_id) noexcept {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.start_id = start_id;
  // BPF_OBJ_GET_NEXT_ID_LAST_FIELD is next_id (kernel/bpf/syscall.c).
  int err = call(BPF_MAP_GET_NEXT_ID, attr, BPFBATCH_ATTR_SIZE(next_id));
  if (err == 0) next_id = attr.next_id;
  return err;
}

int map_get_fd_by_id(std::uint32_t id, std::uint32_t open_flags, int& fd) noexcept {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_id = id;
  attr.open_flags = open_flags;
  return call_for_fd(BPF_MAP_GET_FD_BY_ID, attr, BPFBATCH_ATTR_SIZE(open_flags), fd);
}

// BPF_BTF_GET_FD_BY_ID reads btf_id only up to 6.0 (open_flags and the
// token came later and must stay zero here).
int btf_get_fd_by_id(std::uint32_t id, int& fd) noexcept {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.btf_id = id;
  return call_for_fd(BPF_BTF_GET_FD_BY_ID, attr, BPFBATCH_ATTR_SIZE(btf_id), fd);
}

int obj_get_info_by_fd(int fd, void* info, std::uint32_t& info_len) noexcept {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.info.bpf_fd = static_cast<std::uint32_t>(fd);
  attr.info.info_len = info_len;
  attr.info.info = pointer(info);
  int err = call(BPF_OBJ_GET_INFO_BY_FD, attr, BPFBATCH_ATTR_SIZE(info));
  if (err == 0) info_len = attr.info.info_len;
  return err;
}

namespace {

// LOOKUP_ELEM, UPDATE_ELEM and LOOKUP_AND_DELETE_ELEM share one layout:
// map_fd, key, value, flags.
int element_command(int cmd, int fd, const void* key, const void* value, std::uint64_t flags) noexcept {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_fd = static_cast<std::uint32_t>(fd);
  attr.key = pointer(key);
  attr.value = pointer(value);
  attr.flags = flags;
  return call(cmd, attr, BPFBATCH_ATTR_SIZE(flags));
}

}  // namespace

int map_lookup_elem(int fd, const void* key, void* value, std::uint64_t flags) noexcept {
  return element_command(BPF_MAP_LOOKUP_ELEM, fd, key, value, flags);
}

int map_update_elem(int fd, const void* key, const void* value, std::uint64_t flags) noexcept {
  return element_command(BPF_MAP_UPDATE_ELEM, fd, key, value, flags);
}

int map_delete_elem(int fd, const void* key) noexcept {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_fd = static_cast<std::uint32_t>(fd);
  attr.key = pointer(key);
  // BPF_MAP_DELETE_ELEM_LAST_FIELD is key: the command has no flags, and a
  // non-zero byte past key is EINVAL (CHECK_ATTR).
  return call(BPF_MAP_DELETE_ELEM, attr, BPFBATCH_ATTR_SIZE(key));
}

int map_lookup_and_delete_elem(int fd, const void* key, void* value, std::uint64_t flags) noexcept {
  // flags (BPF_F_LOCK) arrived in 5.14; a zero flags word is accepted by
  // older kernels, whose CHECK_ATTR only demands that it be zero.
  return element_command(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, key, value, flags);
}

int prog_load_ktime_coarse_probe(int& fd) noexcept {
  // r0 = bpf_ktime_get_coarse_ns(); r0 = 0; exit. The helper and memory
  // cgroup accounting of BPF memory both arrived in 5.11 (libbpf's
  // probe_memcg_account).
  const struct bpf_insn program[] = {
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ktime_get_coarse_ns},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  static const char license[] = "GPL";
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insn_cnt = sizeof(program) / sizeof(program[0]);
  attr.insns = pointer(program);
  attr.license = pointer(license);
  return call_for_fd(BPF_PROG_LOAD, attr, BPFBATCH_ATTR_SIZE(license), fd);
}

int map_get_next_key(int fd, const void* key, void* next_key) noexcept {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_fd = static_cast<std::uint32_t>(fd);
  attr.key = pointer(key);
  attr.next_key = pointer(next_key);
  return call(BPF_MAP_GET_NEXT_KEY, attr, BPFBATCH_ATTR_SIZE(next_key));
}

int map_batch(command batch_command, int fd, const void* in_batch, void* out_batch, void* keys, void* values,
              std::uint32_t& count, std::uint64_t elem_flags) noexcept {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.batch.in_batch = pointer(in_batch);
  attr.batch.out_batch = pointer(out_batch);
  attr.batch.keys = pointer(keys);
  attr.batch.values = pointer(values);
  attr.batch.count = count;
  attr.batch.map_fd = static_cast<std::uint32_t>(fd);
  attr.batch.elem_flags = elem_flags;
  attr.batch.flags = 0;  // the hash paths reject anything else
  int err = call(static_cast<int>(batch_command), attr, BPFBATCH_ATTR_SIZE(batch));
  // The kernel writes count back on success, ENOENT, ENOSPC and the
  // per-element failures; on early errors it leaves our input, which callers
  // must not trust (they look at count only after those codes).
  count = attr.batch.count;
  return err;
}

}  // namespace bpfbatch::sys
