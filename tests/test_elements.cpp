// Single-element operations beside the batches: delete, get-next-key,
// lookup-and-delete, a queue's or stack's push, peek and pop, freeze, pin and
// the fdinfo status, each checked against the kernel through raw calls.
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "support.hpp"

using namespace bpfbatch;

namespace {

template <class T>
std::span<const std::byte> bytes_of(const T& v) {
  return std::as_bytes(std::span(&v, 1));
}
template <class T>
std::span<std::byte> writable_bytes_of(T& v) {
  return std::as_writable_bytes(std::span(&v, 1));
}

// The number on a "name:" line of the map's fdinfo, read with iostreams: a
// second reading of what map::status() parses.
std::string fdinfo_line(int fd, const std::string& name) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ":", 0) == 0) {
      std::istringstream rest(line.substr(name.size() + 1));
      std::string value;
      rest >> value;
      return value;
    }
  return "";
}

}  // namespace

TEST_CASE("delete_element removes that key alone, and a missing key is ENOENT") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 8, 12, 64);
  support::fill(m, 20);
  support::contents before = support::reference_walk(m.fd());
  const support::bytes key = support::key_bytes(8, 7);
  REQUIRE(m.delete_element(key));
  support::contents after = support::reference_walk(m.fd());
  before.erase(key);
  CHECK(after == before);
  auto again = m.delete_element(key);
  CHECK(again.error().value() == ENOENT);
}

TEST_CASE("next_key from no key visits every key once, then ENOENT") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 128);
  support::fill(m, 100);
  std::set<support::bytes> seen;
  support::bytes key;  // empty: from the start
  support::bytes next(4);
  for (;;) {
    auto r = m.next_key(key, next);
    if (!r) {
      CHECK(r.error().value() == ENOENT);
      break;
    }
    CHECK(seen.insert(next).second);
    key = next;
  }
  std::set<support::bytes> truth;
  for (const auto& [k, v] : support::reference_walk(m.fd())) truth.insert(k);
  CHECK(seen == truth);
  CHECK(seen.size() == 100);
}

TEST_CASE("next_key on an empty map is ENOENT at once") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 8);
  support::bytes next(4);
  CHECK(m.next_key({}, next).error().value() == ENOENT);
}

TEST_CASE("lookup_and_delete_element returns the value, every CPU's for a per-CPU hash, and removes it") {
  REQUIRE_KERNEL();
  for (map_type type : {map_type::hash, map_type::percpu_hash}) {
    INFO(map_type_name(type));
    map m = support::create(type, 4, 12, 16);
    support::fill(m, 5);
    support::contents before = support::reference_walk(m.fd());
    const support::bytes key = support::key_bytes(4, 3);
    support::bytes value(m.info().value_bytes());
    if (!support::kernel_at_least(5, 14)) {
      // map_lookup_and_delete_elem() took only queues and stacks before
      // 5.14: the call fails and the element stays.
      CHECK_FALSE(m.lookup_and_delete_element(key, value));
      CHECK(support::reference_walk(m.fd()) == before);
      continue;
    }
    REQUIRE(m.lookup_and_delete_element(key, value));
    const auto& expected = before.find(key)->second;
    REQUIRE(expected.size() == m.info().value_copies);
    for (std::uint32_t cpu = 0; cpu < m.info().value_copies; ++cpu)
      CHECK(support::bytes(value.begin() + cpu * m.info().per_cpu_stride(),
                           value.begin() + cpu * m.info().per_cpu_stride() + 12) == expected[cpu]);
    before.erase(key);
    CHECK(support::reference_walk(m.fd()) == before);
    CHECK(m.lookup_and_delete_element(key, value).error().value() == ENOENT);
  }
}

TEST_CASE("keys and values of the wrong size are EINVAL and change nothing") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::percpu_hash, 4, 8, 16);
  support::fill(m, 4);
  const support::contents before = support::reference_walk(m.fd());
  const support::bytes short_key(3), key = support::key_bytes(4, 1);
  support::bytes one_cpu_value(8), next(4), long_next(5);
  CHECK(m.delete_element(short_key).error().value() == EINVAL);
  CHECK(m.next_key(short_key, next).error().value() == EINVAL);
  CHECK(m.next_key(key, long_next).error().value() == EINVAL);
  if (m.info().value_copies > 1)
    CHECK(m.lookup_and_delete_element(key, one_cpu_value).error().value() == EINVAL);
  CHECK(m.lookup_and_delete_element(short_key, next).error().value() == EINVAL);
  // A map with keys has no push, peek or pop.
  support::bytes value(m.info().value_bytes());
  CHECK(m.push(value).error().value() == EINVAL);
  CHECK(m.peek(value).error().value() == EINVAL);
  CHECK(m.pop(value).error().value() == EINVAL);
  CHECK(support::reference_walk(m.fd()) == before);
}

TEST_CASE("a queue gives its values back first in, first out; a stack last in, first out") {
  REQUIRE_KERNEL();
  for (map_type type : {map_type::queue, map_type::stack}) {
    INFO(map_type_name(type));
    map m = support::create(type, 0, 8, 4);
    for (std::uint64_t v = 1; v <= 3; ++v) REQUIRE(m.push(bytes_of(v)));
    std::uint64_t peeked = 0, popped = 0;
    REQUIRE(m.peek(writable_bytes_of(peeked)));
    CHECK(peeked == (type == map_type::queue ? 1 : 3));
    for (std::uint64_t expected : type == map_type::queue ? std::vector<std::uint64_t>{1, 2, 3}
                                                          : std::vector<std::uint64_t>{3, 2, 1}) {
      REQUIRE(m.pop(writable_bytes_of(popped)));
      CHECK(popped == expected);
    }
    CHECK(m.pop(writable_bytes_of(popped)).error().value() == ENOENT);
    CHECK(m.peek(writable_bytes_of(peeked)).error().value() == ENOENT);
  }
}

TEST_CASE("a full queue refuses a push with E2BIG, and BPF_EXIST pushes out the oldest value") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::queue, 0, 4, 2);
  for (std::uint32_t v : {10u, 20u}) REQUIRE(m.push(bytes_of(v)));
  const std::uint32_t thirty = 30;
  CHECK(m.push(bytes_of(thirty)).error().value() == E2BIG);
  REQUIRE(m.push(bytes_of(thirty), BPF_EXIST));
  std::uint32_t v = 0;
  REQUIRE(m.pop(writable_bytes_of(v)));
  CHECK(v == 20);
  REQUIRE(m.pop(writable_bytes_of(v)));
  CHECK(v == 30);
}

TEST_CASE("a frozen map refuses writes with EPERM, keeps its elements, and its status says frozen") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 8);
  support::fill(m, 3);
  const support::contents before = support::reference_walk(m.fd());
  auto unfrozen = m.status();
  REQUIRE(unfrozen);
  CHECK_FALSE(unfrozen->frozen);
  REQUIRE(m.freeze());
  auto frozen = m.status();
  REQUIRE(frozen);
  CHECK(frozen->frozen);
  CHECK(fdinfo_line(m.fd(), "frozen") == "1");
  const std::uint32_t key = 1;
  const std::uint64_t value = 99;
  CHECK(m.update_element(bytes_of(key), bytes_of(value)).error().value() == EPERM);
  CHECK(m.delete_element(support::key_bytes(4, 0)).error().value() == EPERM);
  CHECK(support::reference_walk(m.fd()) == before);
  // Freezing twice fails. 6.18 says EPERM (map_freeze() wants write access,
  // which a frozen map no longer has); 5.10 under qemu another errno.
  const int again = m.freeze().error().value();
  INFO("a second freeze: errno ", again);
  CHECK(again != 0);
  if (support::kernel_at_least(6, 18)) CHECK(again == EPERM);
}

TEST_CASE("status reports the memlock bytes the kernel prints in fdinfo") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 64, 1000);
  auto status = m.status();
  REQUIRE(status);
  REQUIRE(status->bytes_memlock);
  CHECK(*status->bytes_memlock > 64 * 1000);
  CHECK(std::to_string(*status->bytes_memlock) == fdinfo_line(m.fd(), "memlock"));
}

TEST_CASE("pin makes the map reachable by its path, and a taken path is EEXIST") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::array, 4, 4, 2);
  const std::string path = support::bpffs_dir() + "/elements_pin_" + std::to_string(::getpid());
  REQUIRE(m.pin(path.c_str()));
  auto opened = map::open_pinned(path.c_str());
  REQUIRE(opened);
  CHECK(opened->info().id == m.info().id);
  CHECK(m.pin(path.c_str()).error().value() == EEXIST);
  CHECK(::unlink(path.c_str()) == 0);
  CHECK(m.pin(nullptr).error().value() == EINVAL);
}
