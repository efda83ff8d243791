#include "support.hpp"

#include "btf_builder.hpp"

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace support {

namespace {

long raw_bpf(int cmd, union bpf_attr& attr) { return ::syscall(__NR_bpf, cmd, &attr, sizeof(attr)); }

int skips = 0;

bool is_per_cpu(std::uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
         type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

}  // namespace

bool kernel_available() {
  static const bool available = [] {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    long fd = raw_bpf(BPF_MAP_CREATE, attr);
    if (fd >= 0) {
      ::close(static_cast<int>(fd));
      return true;
    }
    std::fprintf(stderr, "[bpfbatch-tests] BPF_MAP_CREATE refused: %s\n", std::strerror(errno));
    return errno != EPERM;  // anything but a permission refusal must fail the tests, not skip them
  }();
  return available;
}

void record_skip(const char* where) {
  ++skips;
  std::fprintf(stderr, "[bpfbatch-tests] SKIPPED (no permission for bpf): %s\n", where);
}

int skipped_count() { return skips; }

std::uint32_t libc_possible_cpus() { return static_cast<std::uint32_t>(::get_nprocs_conf()); }

bpfbatch::map create(bpfbatch::map_type type, std::uint32_t key_size, std::uint32_t value_size,
                     std::uint32_t max_entries, std::uint32_t flags, int inner_map_fd) {
  bpfbatch::map_spec spec;
  spec.type = type;
  spec.key_size = key_size;
  spec.value_size = value_size;
  spec.max_entries = max_entries;
  spec.map_flags = flags;
  spec.inner_map_fd = inner_map_fd;
  spec.name = "bpfbatch_test";
  auto m = bpfbatch::map::create(spec);
  INFO("creating a ", bpfbatch::map_type_name(type), " map: ", m.error().message());
  REQUIRE(m);
  return std::move(*m);
}

bool kernel_has_batch(bpfbatch::map_type type, bpfbatch::command c) {
  static std::map<std::pair<bpfbatch::map_type, bpfbatch::command>, bool> known;
  auto found = known.find({type, c});
  if (found != known.end()) return found->second;
  const bool lpm = type == bpfbatch::map_type::lpm_trie;
  bpfbatch::unique_fd inner;
  if (bpfbatch::is_map_in_map(type)) inner = create(bpfbatch::map_type::array, 4, 4, 1).release();
  bpfbatch::map m = create(type, lpm ? 8 : 4, bpfbatch::is_map_in_map(type) ? 4 : 8, 4,
                           lpm ? BPF_F_NO_PREALLOC : 0, inner.get());
  auto supported = bpfbatch::supports_batch(m, c);
  const int err = supported.error().value();
  INFO("probing ", bpfbatch::command_name(c), " on ", bpfbatch::map_type_name(type), ": ",
       supported.error().message());
  REQUIRE((supported || err == bpfbatch::errno_not_supported || err == EINVAL));
  return known[{type, c}] = static_cast<bool>(supported);
}

bool kernel_has_map_type(bpfbatch::map_type type) {
  static std::map<bpfbatch::map_type, bool> known;
  if (auto found = known.find(type); found != known.end()) return found->second;
  const bool keyless = type == bpfbatch::map_type::bloom_filter || type == bpfbatch::map_type::queue ||
                       type == bpfbatch::map_type::stack;
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_type = static_cast<std::uint32_t>(type);
  const bool ringbuf = type == bpfbatch::map_type::ringbuf;
  attr.key_size = keyless || ringbuf ? 0 : 4;
  attr.value_size = ringbuf ? 0 : 8;
  attr.max_entries = ringbuf ? 4096 : 4;
  const long fd = raw_bpf(BPF_MAP_CREATE, attr);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return known[type] = fd >= 0;
}

bytes key_bytes(std::uint32_t key_size, std::uint64_t i) {
  bytes key(key_size);
  // Little-endian index, then a byte pattern, so every byte of a key matters.
  for (std::uint32_t b = 0; b < key_size; ++b)
    key[b] = static_cast<std::byte>(b < 8 ? (i >> (8 * b)) & 0xff : (i * 31 + b) & 0xff);
  return key;
}

bytes value_bytes(std::uint32_t value_size, std::uint64_t i, std::uint32_t cpu) {
  bytes value(value_size);
  for (std::uint32_t b = 0; b < value_size; ++b)
    value[b] = static_cast<std::byte>((i * 7 + cpu * 101 + b * 13 + 1) & 0xff);
  return value;
}

void fill(const bpfbatch::map& m, std::uint64_t count) {
  const auto& info = m.info();
  const std::uint32_t cpus = is_per_cpu(static_cast<std::uint32_t>(info.type)) ? libc_possible_cpus() : 1;
  const std::uint32_t stride =
      is_per_cpu(static_cast<std::uint32_t>(info.type)) ? (info.value_size + 7) / 8 * 8 : info.value_size;
  bpfbatch::map_spec inner_spec;
  inner_spec.type = bpfbatch::map_type::array;
  inner_spec.key_size = 4;
  inner_spec.value_size = 4;
  inner_spec.max_entries = 1;
  for (std::uint64_t i = 0; i < count; ++i) {
    bytes key = key_bytes(info.key_size, i);
    if (info.type == bpfbatch::map_type::lpm_trie) {
      // struct bpf_lpm_trie_key: u32 prefixlen, then data; full-length
      // prefixes keep every key distinct.
      std::uint32_t prefix = (info.key_size - 4) * 8;
      std::memcpy(key.data(), &prefix, 4);
      for (std::uint32_t b = 4; b < info.key_size; ++b)
        key[b] = static_cast<std::byte>((i >> (8 * (b - 4))) & 0xff);
    }
    bytes value(std::size_t{stride} * cpus);
    bpfbatch::unique_fd inner;
    if (bpfbatch::is_map_in_map(info.type)) {
      auto inner_map = bpfbatch::map::create(inner_spec);
      REQUIRE(inner_map);
      inner = inner_map->release();
      std::int32_t fd = inner.get();
      std::memcpy(value.data(), &fd, 4);
    } else if (info.type == bpfbatch::map_type::devmap_hash || info.type == bpfbatch::map_type::devmap) {
      std::uint32_t loopback = 1;
      std::memcpy(value.data(), &loopback, 4);
    } else {
      for (std::uint32_t cpu = 0; cpu < cpus; ++cpu) {
        bytes v = value_bytes(info.value_size, i, cpu);
        std::memcpy(value.data() + std::size_t{cpu} * stride, v.data(), v.size());
      }
    }
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.map_fd = static_cast<std::uint32_t>(m.fd());
    attr.key = reinterpret_cast<std::uintptr_t>(key.data());
    attr.value = reinterpret_cast<std::uintptr_t>(value.data());
    if (raw_bpf(BPF_MAP_UPDATE_ELEM, attr) != 0) {
      INFO("updating element ", i, ": ", std::strerror(errno));
      REQUIRE(false);
    }
  }
}

contents reference_walk(int fd) {
  struct bpf_map_info info;
  std::memset(&info, 0, sizeof(info));
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.info.bpf_fd = static_cast<std::uint32_t>(fd);
  attr.info.info_len = sizeof(info);
  attr.info.info = reinterpret_cast<std::uintptr_t>(&info);
  REQUIRE(raw_bpf(BPF_OBJ_GET_INFO_BY_FD, attr) == 0);

  const bool per_cpu = is_per_cpu(info.type);
  const std::uint32_t cpus = per_cpu ? libc_possible_cpus() : 1;
  const std::uint32_t stride = per_cpu ? (info.value_size + 7) / 8 * 8 : info.value_size;
  contents out;
  bytes key(info.key_size);
  bytes next(info.key_size);
  bytes value(std::size_t{stride} * cpus);
  bool first = true;
  while (true) {
    std::memset(&attr, 0, sizeof(attr));
    attr.map_fd = static_cast<std::uint32_t>(fd);
    attr.key = first ? 0 : reinterpret_cast<std::uintptr_t>(key.data());
    attr.next_key = reinterpret_cast<std::uintptr_t>(next.data());
    if (raw_bpf(BPF_MAP_GET_NEXT_KEY, attr) != 0) {
      REQUIRE(errno == ENOENT);
      break;
    }
    first = false;
    key = next;
    std::memset(&attr, 0, sizeof(attr));
    attr.map_fd = static_cast<std::uint32_t>(fd);
    attr.key = reinterpret_cast<std::uintptr_t>(key.data());
    attr.value = reinterpret_cast<std::uintptr_t>(value.data());
    if (raw_bpf(BPF_MAP_LOOKUP_ELEM, attr) != 0) {
      REQUIRE(errno == ENOENT);
      continue;
    }
    std::vector<bytes> per_cpu_values;
    for (std::uint32_t cpu = 0; cpu < cpus; ++cpu) {
      const std::byte* slot = value.data() + std::size_t{cpu} * stride;
      per_cpu_values.emplace_back(slot, slot + info.value_size);
    }
    REQUIRE(out.emplace(key, std::move(per_cpu_values)).second);
  }
  return out;
}

contents collect(bpfbatch::batch_generator& gen, std::vector<std::size_t>* batch_sizes) {
  contents out;
  for (const bpfbatch::batch& b : gen) {
    if (batch_sizes != nullptr) batch_sizes->push_back(b.size());
    for (std::size_t i = 0; i < b.size(); ++i) {
      auto k = b.key(i);
      std::vector<bytes> values;
      for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu) {
        auto v = b.value(i, cpu);
        values.emplace_back(v.begin(), v.end());
      }
      bool inserted = out.emplace(bytes(k.begin(), k.end()), std::move(values)).second;
      if (!inserted) FAIL_CHECK("a key was yielded twice");
    }
  }
  return out;
}

int load_trivial_program() {
  // r0 = 0; exit
  struct bpf_insn insns[2];
  std::memset(insns, 0, sizeof(insns));
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  insns[0].dst_reg = BPF_REG_0;
  insns[1].code = BPF_JMP | BPF_EXIT;
  static const char license[] = "GPL";
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = reinterpret_cast<std::uintptr_t>(insns);
  attr.insn_cnt = 2;
  attr.license = reinterpret_cast<std::uintptr_t>(license);
  return static_cast<int>(raw_bpf(BPF_PROG_LOAD, attr));
}

int pin(int fd, const std::string& path) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.pathname = reinterpret_cast<std::uintptr_t>(path.c_str());
  attr.bpf_fd = static_cast<std::uint32_t>(fd);
  return raw_bpf(BPF_OBJ_PIN, attr) == 0 ? 0 : errno;
}

namespace {

// The BPF filesystem the tests pin into, and what to undo at exit: the
// directory of this process, and the mount when the tests made it.
struct bpffs_place {
  std::string base;
  std::string dir;
  bool mounted = false;
  bpffs_place() = default;
  bpffs_place(bpffs_place&& other) noexcept
      : base(std::move(other.base)), dir(std::exchange(other.dir, {})), mounted(other.mounted) {}
  ~bpffs_place() {
    if (dir.empty()) return;
    ::rmdir(dir.c_str());
    if (mounted) {
      ::umount2(base.c_str(), MNT_DETACH);
      ::rmdir(base.c_str());
    }
  }
};

}  // namespace

std::string bpffs_dir() {
  static const bpffs_place place = [] {
    constexpr long bpf_fs_magic = 0xcafe4a11;
    struct statfs fs {};
    bpffs_place p;
    p.base = "/sys/fs/bpf";
    if (::statfs(p.base.c_str(), &fs) != 0 || fs.f_type != bpf_fs_magic) {
      char tmpl[] = "/tmp/bpfbatch-bpffs-XXXXXX";
      REQUIRE(::mkdtemp(tmpl) != nullptr);
      p.base = tmpl;
      REQUIRE(::mount("bpf", p.base.c_str(), "bpf", 0, nullptr) == 0);
      p.mounted = true;
    }
    p.dir = p.base + "/bpfbatch-test-" + std::to_string(::getpid());
    REQUIRE((::mkdir(p.dir.c_str(), 0700) == 0 || errno == EEXIST));
    return p;
  }();
  return place.dir;
}

int load_spin_lock_btf() {
  // Type ids 1 (u32), 2 (struct bpf_spin_lock), 3 (struct spin_value), as
  // btf_u32_type and btf_spin_value_type say.
  btf_builder b;
  const std::uint32_t u32 = b.add_int("u32", 4);
  const std::uint32_t lock = b.add_struct("bpf_spin_lock", 4, {{"val", u32, 0}});
  b.add_struct("spin_value", 16, {{"a", u32, 0}, {"lock", lock, 32}, {"b", u32, 64}, {"c", u32, 96}});
  return b.load().release();
}

bpfbatch::map create_spin_lock_map(bpfbatch::map_type type, std::uint32_t max_entries) {
  bpfbatch::unique_fd btf(load_spin_lock_btf());
  bpfbatch::map_spec spec;
  spec.type = type;
  spec.key_size = 4;
  spec.value_size = sizeof(spin_value);
  spec.max_entries = max_entries;
  spec.name = "spin_lock_test";
  spec.btf_fd = btf.get();
  spec.btf_key_type_id = btf_u32_type;
  spec.btf_value_type_id = btf_spin_value_type;
  auto m = bpfbatch::map::create(spec);
  INFO("creating a spin-lock map: ", m.error().message());
  REQUIRE(m);
  return std::move(*m);  // the map keeps its own reference to the BTF
}

bpfbatch::map create_inode_storage() {
  bpfbatch::unique_fd btf(load_spin_lock_btf());
  bpfbatch::map_spec spec;
  spec.type = bpfbatch::map_type::inode_storage;
  spec.key_size = 4;
  spec.value_size = sizeof(spin_value);
  spec.map_flags = BPF_F_NO_PREALLOC;  // local storages take no other
  spec.name = "inode_storage";
  spec.btf_fd = btf.get();
  spec.btf_key_type_id = btf_u32_type;
  spec.btf_value_type_id = btf_spin_value_type;
  auto m = bpfbatch::map::create(spec);
  INFO("creating an inode storage: ", m.error().message());
  REQUIRE(m);
  return std::move(*m);
}

std::vector<std::uint32_t> fill_spin_lock_map(const bpfbatch::map& m, std::uint32_t n) {
  std::vector<std::uint32_t> keys;
  std::vector<spin_value> values;
  for (std::uint32_t k = 0; k < n; ++k) {
    keys.push_back(k);
    values.push_back({k, 0, k * 2, k * 3});
  }
  auto written = bpfbatch::update_batch(m, keys, values);
  INFO(written.error.message());
  REQUIRE(written.applied == n);
  return keys;
}

int freeze(int fd) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.map_fd = static_cast<std::uint32_t>(fd);
  return raw_bpf(BPF_MAP_FREEZE, attr) == 0 ? 0 : errno;
}

bool drop_all_capabilities() {
  for (int cap = 0; cap <= 63; ++cap)
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return false;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  return ::syscall(SYS_capset, &header, data) == 0;
}

bool drop_capabilities(std::initializer_list<int> capabilities) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  for (int cap : capabilities) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return false;
    const std::uint32_t bit = 1u << (cap % 32);
    data[cap / 32].effective &= ~bit;
    data[cap / 32].permitted &= ~bit;
    data[cap / 32].inheritable &= ~bit;
  }
  return ::syscall(SYS_capset, &header, data) == 0;
}

// operator new replacement that counts.
std::atomic<std::uint64_t> allocation_count{0};
std::uint64_t allocations() { return allocation_count.load(); }

bool kernel_at_least(int major, int minor) {
  struct utsname u {};
  if (::uname(&u) != 0) return false;
  int ma = 0, mi = 0;
  if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

}  // namespace support

// ThreadSanitizer's runtime defines operator new itself; under it the
// allocation count stays 0 (only the concurrency cases run under TSan).
#if defined(__SANITIZE_THREAD__)
#define BPFBATCH_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BPFBATCH_TEST_TSAN 1
#endif
#endif

#if !defined(BPFBATCH_TEST_TSAN)
void* operator new(std::size_t size) {
  support::allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  std::abort();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  support::allocation_count.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size ? size : 1);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return ::operator new(size, tag);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif
