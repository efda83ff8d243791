// Exact buffer sizes, proven: every buffer the kernel writes or reads ends at
// a PROT_NONE page (or starts right after one). A single byte too few makes
// the kernel answer EFAULT instead of writing past the buffer, so a clean
// pass over every map type, value size and batch command proves the sizes.
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "guarded.hpp"
#include "support.hpp"

using namespace bpfbatch;
using support::guarded_buffer;

namespace {

struct kind {
  map_type type;
  std::uint32_t key_size;
  std::uint32_t flags;
};

bool is_array(map_type t) {
  return t == map_type::array || t == map_type::percpu_array || t == map_type::array_of_maps;
}
bool can_delete(map_type t) {
  return t != map_type::array && t != map_type::percpu_array && t != map_type::array_of_maps;
}

constexpr std::uint32_t elements = 300;
constexpr std::uint32_t batch_elements = 64;

// The keys, values and tokens of `n` elements, each in its own guarded buffer.
struct guarded_set {
  guarded_buffer keys, values, token;
  guarded_set(const map_info& info, std::uint32_t n, guarded_buffer::guard where)
      : keys(std::size_t{n} * info.key_size, where),
        values(std::size_t{n} * info.value_bytes(), where),
        token(2 * std::max<std::size_t>(info.key_size, 4), where) {}
};

int combinations = 0;

}  // namespace

TEST_CASE("every batch command on every map type stays within buffers that end at a guard page") {
  REQUIRE_KERNEL();
  map inner = support::create(map_type::array, 4, 4, 1);
  std::vector<std::pair<kind, std::uint32_t>> cases;  // kind and value size
  for (std::uint32_t value_size : {1u, 4u, 8u, 12u, 13u, 64u}) {
    for (map_type t : {map_type::hash, map_type::percpu_hash, map_type::lru_hash, map_type::lru_percpu_hash,
                       map_type::array, map_type::percpu_array})
      cases.push_back({{t, 4, 0}, value_size});
    cases.push_back({{map_type::lpm_trie, 8, BPF_F_NO_PREALLOC}, value_size});
    // Read through mmap: the library's own copy must stay in bounds too.
    cases.push_back({{map_type::array, 4, BPF_F_MMAPABLE}, value_size});
  }
  cases.push_back({{map_type::hash_of_maps, 4, 0}, 4});
  cases.push_back({{map_type::array_of_maps, 4, 0}, 4});

  for (auto where : {guarded_buffer::guard::after, guarded_buffer::guard::before}) {
    for (const auto& one_case : cases) {
      const kind& k = one_case.first;  // not a structured binding: clang 14 cannot capture those
      const std::uint32_t value_size = one_case.second;
      const std::string side = where == guarded_buffer::guard::after ? "guard after" : "guard before";
      INFO(map_type_name(k.type), (k.flags & BPF_F_MMAPABLE) ? " (mmapable)" : "", " value_size ", value_size,
           ", ", side);
      // Room to spare for LRU maps (no eviction while filling) and LPM tries:
      // before the fix for in-place updates of a full trie (late 2024, not in
      // 5.10), trie_update_elem() answered ENOSPC to any update of a full
      // trie, even of a key it holds.
      const bool spare =
          k.type == map_type::lru_hash || k.type == map_type::lru_percpu_hash || k.type == map_type::lpm_trie;
      const std::uint32_t max_entries = spare ? 2 * elements + 256 : elements;
      const int inner_fd = is_map_in_map(k.type) ? inner.fd() : -1;
      map m = support::create(k.type, k.key_size, value_size, max_entries, k.flags, inner_fd);
      support::fill(m, elements);
      const auto before = support::reference_walk(m.fd());
      const map_info& info = m.info();

      // Lookup, through borrowed buffers sized for exactly batch_elements.
      {
        guarded_set set(info, batch_elements, where);
        REQUIRE(set.keys.ok());
        auto buffers = batch_buffers::borrow(set.keys.span(), set.values.span(), set.token.span());
        iteration_stats stats;
        auto gen = lookup_batches(m, buffers, {.method = iteration::automatic, .stats = &stats});
        auto got = support::collect(gen);
        CHECK_FALSE(gen.error());
        CHECK(got == before);
        CHECK(stats.memory_mapped == ((k.flags & BPF_F_MMAPABLE) != 0));
        ++combinations;
      }

      // Update: the kernel reads exactly n keys and n values.
      if (!is_map_in_map(k.type)) {
        guarded_set set(info, elements, where);
        auto walk = support::reference_walk(m.fd());
        std::size_t i = 0;
        for (const auto& [key, values] : walk) {
          std::memcpy(set.keys.data() + i * info.key_size, key.data(), info.key_size);
          for (std::uint32_t cpu = 0; cpu < values.size(); ++cpu)
            std::memcpy(set.values.data() + i * info.value_bytes() + cpu * info.per_cpu_stride(),
                        values[cpu].data(), value_size);
          ++i;
        }
        auto written = update_batch(m, set.keys.span().first(i * info.key_size),
                                    set.values.span().first(i * info.value_bytes()));
        INFO(describe_error(info, written.failed_command, written.error));
        CHECK(written);
        CHECK(written.applied == i);
        CHECK(support::reference_walk(m.fd()) == before);
        ++combinations;
      }

      // Lookup-and-delete (by batch or by the walk, as automatic chooses).
      if (can_delete(k.type)) {
        guarded_set set(info, batch_elements, where);
        auto buffers = batch_buffers::borrow(set.keys.span(), set.values.span(), set.token.span());
        auto gen = lookup_and_delete_batches(m, buffers);
        auto got = support::collect(gen);
        CHECK_FALSE(gen.error());
        CHECK(got == before);
        CHECK(support::reference_walk(m.fd()).empty());
        ++combinations;
      }

      // Delete: refill, then delete every key from a guarded key buffer.
      if (can_delete(k.type) && !is_map_in_map(k.type)) {
        support::fill(m, elements);
        guarded_set set(info, elements, where);
        std::size_t i = 0;
        for (const auto& [key, values] : support::reference_walk(m.fd()))
          std::memcpy(set.keys.data() + i++ * info.key_size, key.data(), info.key_size);
        auto deleted = delete_batch(m, set.keys.span().first(i * info.key_size));
        CHECK(deleted);
        CHECK(deleted.applied == i);
        CHECK(support::reference_walk(m.fd()).empty());
        ++combinations;
      }
      (void)is_array;
    }
  }
  MESSAGE("guard-page combinations passed (map type x value size x command x guard side): ", combinations);
}

TEST_CASE("the guard pages catch a buffer one byte short: the kernel answers EFAULT") {
  REQUIRE_KERNEL();
  // The classic per-CPU bug: values sized value_size * CPUs without the
  // padding to 8, here one byte short of the truth. (A per-CPU hash: it has
  // batch lookup on every kernel since 5.6.)
  map m = support::create(map_type::percpu_hash, 4, 13, 4);
  support::fill(m, 4);
  const std::size_t exact = 4 * m.info().value_bytes();
  guarded_buffer keys(4 * 4, guarded_buffer::guard::after);
  guarded_buffer short_values(exact - 1, guarded_buffer::guard::after);
  guarded_buffer exact_values(exact, guarded_buffer::guard::after);
  std::uint32_t token[2] = {};
  auto raw_lookup = [&](std::byte* values) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.batch.out_batch = reinterpret_cast<std::uintptr_t>(token);
    attr.batch.keys = reinterpret_cast<std::uintptr_t>(keys.data());
    attr.batch.values = reinterpret_cast<std::uintptr_t>(values);
    attr.batch.count = 4;
    attr.batch.map_fd = static_cast<std::uint32_t>(m.fd());
    long r = ::syscall(__NR_bpf, BPF_MAP_LOOKUP_BATCH, &attr, sizeof(attr));
    return r < 0 ? errno : 0;
  };
  CHECK(raw_lookup(short_values.data()) == EFAULT);
  const int exact_result = raw_lookup(exact_values.data());
  CHECK((exact_result == 0 || exact_result == ENOENT));
}
