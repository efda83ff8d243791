#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "faults.hpp"
#include "support.hpp"

using namespace bpfbatch;

TEST_CASE("a created map's info matches its spec") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 8, 16, 100, BPF_F_NO_PREALLOC);
  const map_info& info = m.info();
  CHECK(info.type == map_type::hash);
  CHECK(info.key_size == 8);
  CHECK(info.value_size == 16);
  CHECK(info.max_entries == 100);
  CHECK(info.map_flags == BPF_F_NO_PREALLOC);
  CHECK(info.name() == "bpfbatch_test");
  CHECK(info.id != 0);
  CHECK_FALSE(info.per_cpu_values());
  CHECK(info.value_copies == 1);
  CHECK(info.value_bytes() == 16);
  CHECK(m.fd() >= 0);
  CHECK((::fcntl(m.fd(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("per-CPU values are value_size rounded up to 8, once per possible CPU") {
  REQUIRE_KERNEL();
  const std::uint32_t cpus = support::libc_possible_cpus();
  for (std::uint32_t value_size : {1u, 4u, 8u, 12u, 13u, 64u}) {
    for (map_type type : {map_type::percpu_hash, map_type::lru_percpu_hash, map_type::percpu_array}) {
      map m = support::create(type, 4, value_size, 16);
      INFO(map_type_name(type), " value_size ", value_size);
      CHECK(m.info().per_cpu_values());
      CHECK(m.info().value_copies == cpus);
      CHECK(m.info().per_cpu_stride() == (value_size + 7) / 8 * 8);
      CHECK(m.info().value_bytes() == std::size_t{(value_size + 7) / 8 * 8} * cpus);
    }
  }
}

TEST_CASE("maps of maps have 4-byte values (inner map ids)") {
  REQUIRE_KERNEL();
  map inner = support::create(map_type::array, 4, 4, 1);
  map outer = support::create(map_type::hash_of_maps, 4, 4, 8, 0, inner.fd());
  CHECK(outer.info().value_bytes() == 4);
  CHECK(is_map_in_map(outer.info().type));
}

TEST_CASE("open_id opens the same map, and read-only access is honoured") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::array, 4, 8, 4);
  auto same = map::open_id(m.info().id);
  REQUIRE(same);
  CHECK(same->info().id == m.info().id);
  CHECK(same->fd() != m.fd());

  auto read_only = map::open_id(m.info().id, {access::read_only});
  REQUIRE(read_only);
  std::uint32_t key = 0;
  std::uint64_t value = 1;
  auto refused =
      read_only->update_element(std::as_bytes(std::span(&key, 1)), std::as_bytes(std::span(&value, 1)));
  CHECK(refused.error().value() == EPERM);
  std::uint64_t read_back = 0;
  CHECK(read_only->lookup_element(std::as_bytes(std::span(&key, 1)),
                                  std::as_writable_bytes(std::span(&read_back, 1))));
}

TEST_CASE("an id with no map is ENOENT") {
  REQUIRE_KERNEL();
  auto m = map::open_id(0xfffffff0u);
  CHECK_FALSE(m);
  CHECK(m.error().value() == ENOENT);
}

TEST_CASE("open_pinned opens a pinned map") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 4, 4);
  std::string path = support::bpffs_dir() + "/pinned_map";
  ::unlink(path.c_str());
  REQUIRE(support::pin(m.fd(), path) == 0);
  auto opened = map::open_pinned(path.c_str());
  ::unlink(path.c_str());
  REQUIRE(opened);
  CHECK(opened->info().id == m.info().id);
}

TEST_CASE("a pinned path that does not exist is ENOENT") {
  REQUIRE_KERNEL();
  std::string path = support::bpffs_dir() + "/no_such_map";
  auto m = map::open_pinned(path.c_str());
  CHECK_FALSE(m);
  CHECK(m.error().value() == ENOENT);
  CHECK(map::open_pinned(nullptr).error().value() == EINVAL);
}

TEST_CASE("a path outside a BPF filesystem is EACCES") {
  REQUIRE_KERNEL();
  // bpf_obj_do_get() -> bpf_inode_type() answers EACCES for any inode that is
  // not a BPF object.
  auto m = map::open_pinned("/proc/self/status");
  CHECK_FALSE(m);
  CHECK(m.error().value() == EACCES);
}

TEST_CASE("a pinned program is not a map") {
  REQUIRE_KERNEL();
  int prog = support::load_trivial_program();
  REQUIRE(prog >= 0);
  std::string path = support::bpffs_dir() + "/pinned_prog";
  ::unlink(path.c_str());
  REQUIRE(support::pin(prog, path) == 0);
  auto m = map::open_pinned(path.c_str());
  ::unlink(path.c_str());
  ::close(prog);
  CHECK_FALSE(m);
  CHECK(m.error().value() == EINVAL);
}

TEST_CASE("from_fd duplicates the descriptor and leaves the caller's open") {
  REQUIRE_KERNEL();
  map original = support::create(map_type::array, 4, 4, 2);
  int fd = original.fd();
  {
    auto copy = map::from_fd(fd);
    REQUIRE(copy);
    CHECK(copy->fd() != fd);
    CHECK(copy->info().id == original.info().id);
    CHECK((::fcntl(copy->fd(), F_GETFD) & FD_CLOEXEC) != 0);
  }
  CHECK(::fcntl(fd, F_GETFD) >= 0);  // still open after the copy is gone
}

TEST_CASE("from_fd on a closed descriptor is EBADF") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  ::close(fds[0]);
  ::close(fds[1]);
  auto m = map::from_fd(fds[0]);
  CHECK_FALSE(m);
  CHECK(m.error().value() == EBADF);
  CHECK(map::from_fd(-1).error().value() == EBADF);
}

TEST_CASE("from_fd on a descriptor that is not BPF is EINVAL") {
  REQUIRE_KERNEL();
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto m = map::from_fd(fd);
  ::close(fd);
  CHECK_FALSE(m);
  CHECK(m.error().value() == EINVAL);
}

TEST_CASE("from_fd on a program descriptor is EINVAL") {
  REQUIRE_KERNEL();
  int prog = support::load_trivial_program();
  REQUIRE(prog >= 0);
  auto m = map::from_fd(prog);
  ::close(prog);
  CHECK_FALSE(m);
  CHECK(m.error().value() == EINVAL);
}

TEST_CASE("queues and stacks, whose keys are empty, open as maps") {
  REQUIRE_KERNEL();
  for (map_type type : {map_type::queue, map_type::stack}) {
    map_spec spec;
    spec.type = type;
    spec.key_size = 0;
    spec.value_size = 8;
    spec.max_entries = 4;
    auto m = map::create(spec);
    INFO(map_type_name(type), ": ", m.error().message());
    REQUIRE(m);
    CHECK(m->info().type == type);
  }
}

TEST_CASE("a create the kernel rejects returns its errno") {
  REQUIRE_KERNEL();
  map_spec spec;
  spec.type = map_type::hash;
  spec.key_size = 0;  // hash maps need a key
  spec.value_size = 4;
  spec.max_entries = 4;
  auto m = map::create(spec);
  CHECK_FALSE(m);
  CHECK(m.error().value() == EINVAL);
}

TEST_CASE("element operations refuse buffers of the wrong size before the kernel sees them") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::percpu_array, 4, 12, 2);
  std::uint32_t key = 0;
  std::vector<std::byte> too_small(12);  // one CPU's value, but the kernel writes them all
  auto r = m.lookup_element(std::as_bytes(std::span(&key, 1)), too_small);
  CHECK(r.error().value() == EINVAL);
  std::vector<std::byte> right(m.info().value_bytes());
  CHECK(m.lookup_element(std::as_bytes(std::span(&key, 1)), right));
}

TEST_CASE("a map's descriptor is closed when the map is destroyed") {
  REQUIRE_KERNEL();
  int fd = -1;
  {
    map m = support::create(map_type::array, 4, 4, 1);
    fd = m.fd();
  }
  CHECK(::fcntl(fd, F_GETFD) == -1);
  CHECK(errno == EBADF);
}

TEST_CASE("unique_fd is a move-only owner") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  unique_fd a(fds[0]);
  unique_fd b(std::move(a));
  CHECK_FALSE(a);  // NOLINT(bugprone-use-after-move)
  CHECK(b.get() == fds[0]);
  int raw = b.release();
  CHECK_FALSE(b);
  CHECK(::fcntl(raw, F_GETFD) >= 0);  // release did not close
  unique_fd c(raw);
  c.reset(fds[1]);
  CHECK(::fcntl(raw, F_GETFD) == -1);  // reset closed the old one
  static_assert(!std::is_copy_constructible_v<unique_fd>);
}

TEST_CASE("next_map_id walks every map id in ascending order") {
  REQUIRE_KERNEL();
  map a = support::create(map_type::array, 4, 4, 1);
  map b = support::create(map_type::array, 4, 4, 1);
  bool seen_a = false, seen_b = false;
  std::uint32_t previous = 0;
  auto id = next_map_id(0);
  for (; id; id = next_map_id(*id)) {
    CHECK(*id > previous);
    previous = *id;
    seen_a = seen_a || *id == a.info().id;
    seen_b = seen_b || *id == b.info().id;
  }
  CHECK(id.error().value() == ENOENT);  // the end of the ids
  CHECK(seen_a);
  CHECK(seen_b);
}

TEST_CASE("a map name the kernel would cut short is EINVAL, not truncated") {
  REQUIRE_KERNEL();
  map_spec spec;
  spec.type = map_type::hash;
  spec.key_size = 4;
  spec.value_size = 4;
  spec.max_entries = 1;
  spec.name = "fifteen_chars__";
  auto fits = map::create(spec);
  REQUIRE(fits);
  CHECK(fits->info().name() == "fifteen_chars__");
  spec.name = "sixteen_chars___";
  CHECK(map::create(spec).error().value() == EINVAL);
  const char with_nul[] = "before\0after";
  spec.name = std::string_view(with_nul, sizeof(with_nul) - 1);
  CHECK(map::create(spec).error().value() == EINVAL);
}

TEST_CASE("map::create raises only the soft RLIMIT_MEMLOCK, and only where the kernel charges it") {
  REQUIRE_KERNEL();
  const bool charged = !support::kernel_at_least(5, 11);
  CHECK(support::in_child([&] {
          struct rlimit limit {
            64 << 10, 4 << 20
          };
          if (::setrlimit(RLIMIT_MEMLOCK, &limit) != 0) return std::string("setrlimit");
          map_spec spec;
          spec.type = map_type::array;
          spec.key_size = 4;
          spec.value_size = 1024;
          spec.max_entries = 512;  // half a MiB, preallocated: past the soft limit where it is charged
          auto m = map::create(spec);
          if (!m) return "create: " + m.error().message();
          ::getrlimit(RLIMIT_MEMLOCK, &limit);
          if (limit.rlim_max != (4u << 20)) return std::string("the hard limit changed");
          if (limit.rlim_cur != (charged ? (4u << 20) : (64u << 10)))
            return "the soft limit is " + std::to_string(limit.rlim_cur);
          return std::string();
        }) == "");
}

TEST_CASE("an EPERM for want of CAP_BPF leaves the hard RLIMIT_MEMLOCK alone") {
  REQUIRE_KERNEL();
  CHECK(support::in_child([&] {
          struct rlimit limit {
            1 << 20, 1 << 20
          };
          if (::setrlimit(RLIMIT_MEMLOCK, &limit) != 0) return std::string("setrlimit");
          // CAP_SYS_RESOURCE stays: it would let a library raise the hard limit.
          if (!support::drop_capabilities({CAP_BPF, CAP_SYS_ADMIN, CAP_PERFMON, CAP_NET_ADMIN}))
            return std::string("dropping capabilities");
          map_spec spec;
          spec.type = map_type::hash;
          spec.key_size = 4;
          spec.value_size = 8;
          spec.max_entries = 4;
          auto m = map::create(spec);
          if (m || m.error().value() != EPERM) return std::string("create was not EPERM");
          ::getrlimit(RLIMIT_MEMLOCK, &limit);
          if (limit.rlim_max != (1u << 20) || limit.rlim_cur != (1u << 20))
            return "the limit became " + std::to_string(limit.rlim_cur) + "/" +
                   std::to_string(limit.rlim_max);
          return std::string();
        }) == "");
}
