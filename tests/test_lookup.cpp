#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "support.hpp"

using namespace bpfbatch;

namespace {

struct map_kind {
  map_type type;
  std::uint32_t key_size;
  std::uint32_t value_size;
  std::uint32_t flags;
};

constexpr map_kind batchable_kinds[] = {
    {map_type::hash, 4, 8, 0},
    {map_type::hash, 12, 13, BPF_F_NO_PREALLOC},
    {map_type::percpu_hash, 4, 8, 0},
    {map_type::lru_hash, 8, 8, 0},
    {map_type::lru_percpu_hash, 4, 12, 0},
    {map_type::array, 4, 8, 0},
    {map_type::percpu_array, 4, 13, 0},
    {map_type::lpm_trie, 8, 8, BPF_F_NO_PREALLOC},
};

bool is_array(map_type t) { return t == map_type::array || t == map_type::percpu_array; }
bool is_lru(map_type t) { return t == map_type::lru_hash || t == map_type::lru_percpu_hash; }

// An array holds max_entries elements from the start; other maps are filled.
// LRU maps get room to spare so that filling them evicts nothing.
map make_filled(const map_kind& kind, std::uint32_t elements, int inner_fd = -1) {
  std::uint32_t max_entries = std::max(elements, 1u);
  if (is_lru(kind.type)) max_entries = max_entries * 2 + 256;
  map m = support::create(kind.type, kind.key_size, kind.value_size, max_entries, kind.flags, inner_fd);
  support::fill(m, is_array(kind.type) ? max_entries : elements);
  return m;
}

// Every element's value is what fill() wrote for its key.
void check_values_are_the_test_data(const map_info& info, const support::contents& got) {
  if (is_map_in_map(info.type) || info.type == map_type::devmap_hash) return;
  for (const auto& [key, values] : got) {
    std::uint64_t index = 0;
    const std::size_t offset = info.type == map_type::lpm_trie ? 4 : 0;
    std::memcpy(&index, key.data() + offset, std::min<std::size_t>(key.size() - offset, 8));
    if (info.type == map_type::lpm_trie) index &= 0xffffffffu;
    if (info.key_size < 8 && info.type != map_type::lpm_trie)
      index &= (std::uint64_t{1} << (8 * info.key_size)) - 1;
    for (std::uint32_t cpu = 0; cpu < values.size(); ++cpu) {
      // Arrays' untouched tail would be zero; fill() writes every index.
      CHECK(values[cpu] == support::value_bytes(info.value_size, index, cpu));
    }
  }
}

support::contents read_all(const map& m, batch_options options, iteration_stats* stats = nullptr) {
  options.stats = stats;
  auto gen = lookup_batches(m, options);
  auto got = support::collect(gen);
  INFO(describe_error(m.info(), gen.failed_command(), gen.error()));
  CHECK_FALSE(gen.error());
  return got;
}

long raw_lookup_batch(int fd, const void* in, void* out, void* keys, void* values, std::uint32_t& count) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.batch.in_batch = reinterpret_cast<std::uintptr_t>(in);
  attr.batch.out_batch = reinterpret_cast<std::uintptr_t>(out);
  attr.batch.keys = reinterpret_cast<std::uintptr_t>(keys);
  attr.batch.values = reinterpret_cast<std::uintptr_t>(values);
  attr.batch.count = count;
  attr.batch.map_fd = static_cast<std::uint32_t>(fd);
  long ret = ::syscall(__NR_bpf, BPF_MAP_LOOKUP_BATCH, &attr, sizeof(attr));
  count = attr.batch.count;
  return ret < 0 ? errno : 0;
}

}  // namespace

TEST_CASE("every batchable map type read around the batch size equals a GET_NEXT_KEY walk") {
  REQUIRE_KERNEL();
  constexpr std::uint32_t batch_size = 64;
  for (const map_kind& kind : batchable_kinds) {
    for (std::uint32_t elements : {0u, 1u, batch_size - 1, batch_size, batch_size + 1}) {
      if (is_array(kind.type) && elements == 0) continue;  // arrays are never empty
      INFO(map_type_name(kind.type), " key ", kind.key_size, " value ", kind.value_size, ", ", elements,
           " elements");
      map m = make_filled(kind, elements);
      iteration_stats stats;
      const bool batches = support::kernel_has_batch(kind.type);
      auto got = read_all(
          m, {.batch_size = batch_size, .method = batches ? iteration::batch : iteration::automatic}, &stats);
      CHECK(got == support::reference_walk(m.fd()));
      CHECK(got.size() == elements);
      CHECK(stats.elements == elements);
      CHECK(stats.walked == !batches);
      check_values_are_the_test_data(m.info(), got);
    }
  }
}

TEST_CASE("100,000 elements of every batchable map type are read exactly") {
  REQUIRE_KERNEL();
  for (const map_kind& kind : batchable_kinds) {
    INFO(map_type_name(kind.type));
    map m = make_filled(kind, 100'000);
    iteration_stats stats;
    auto got = read_all(m, {}, &stats);
    CHECK(got.size() == 100'000);
    CHECK(got == support::reference_walk(m.fd()));
    CHECK(stats.walked == !support::kernel_has_batch(kind.type));
    CHECK(stats.batches >= 100'000 / default_batch_size(m.info()));
    check_values_are_the_test_data(m.info(), got);
  }
}

TEST_CASE("per-CPU values of 1 to 64 bytes come back per CPU without their padding") {
  REQUIRE_KERNEL();
  for (map_type type : {map_type::percpu_hash, map_type::lru_percpu_hash, map_type::percpu_array}) {
    for (std::uint32_t value_size : {1u, 4u, 8u, 12u, 13u, 64u}) {
      INFO(map_type_name(type), " value_size ", value_size);
      map m = make_filled({type, 4, value_size, 0}, 200);
      auto got = read_all(m, {.batch_size = 64});
      CHECK(got.size() == 200);
      CHECK(got == support::reference_walk(m.fd()));
      check_values_are_the_test_data(m.info(), got);
    }
  }
}

TEST_CASE("a hash of maps yields the inner maps' ids") {
  REQUIRE_KERNEL();
  map inner = support::create(map_type::array, 4, 4, 1);
  for (std::uint32_t elements : {0u, 1u, 63u, 64u, 65u, 1000u}) {
    INFO(elements, " elements");
    map m = make_filled({map_type::hash_of_maps, 4, 4, 0}, elements, inner.fd());
    auto got = read_all(m, {.batch_size = 64});
    CHECK(got.size() == elements);
    CHECK(got == support::reference_walk(m.fd()));
    for (const auto& [key, values] : got) {
      std::uint32_t id = 0;
      std::memcpy(&id, values.at(0).data(), 4);
      CHECK(map::open_id(id).has_value());  // a live map's id, not a descriptor
    }
  }
}

TEST_CASE("an empty map yields nothing and ends without error") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 4, 16);
  auto gen = lookup_batches(m);
  int batches = 0;
  for (const batch& b : gen) {
    (void)b;
    ++batches;
  }
  CHECK(batches == 0);
  CHECK(gen.finished());
  CHECK_FALSE(gen.error());
}

TEST_CASE("a hash bucket larger than the batch (ENOSPC) is read by growing that one call") {
  REQUIRE_KERNEL();
  map m = make_filled({map_type::hash, 4, 8, 0}, 1000);
  // Independent check that batch size 1 really meets a bucket of two or more:
  // walk with raw calls until the kernel says ENOSPC.
  bool kernel_said_enospc = false;
  std::uint32_t token = 0;
  std::uint32_t key = 0;
  std::uint64_t value = 0;
  for (bool first = true;; first = false) {
    std::uint32_t count = 1;
    long err = raw_lookup_batch(m.fd(), first ? nullptr : &token, &token, &key, &value, count);
    if (err == ENOSPC) {
      kernel_said_enospc = true;
      break;
    }
    if (err != 0) break;
  }
  REQUIRE(kernel_said_enospc);

  iteration_stats stats;
  auto got = read_all(m, {.batch_size = 1, .method = iteration::batch}, &stats);
  CHECK(stats.no_space_retries > 0);
  CHECK(got.size() == 1000);
  CHECK(got == support::reference_walk(m.fd()));
}

TEST_CASE("after an ENOSPC retry the batch goes back to the requested size") {
  REQUIRE_KERNEL();
  map m = make_filled({map_type::hash, 4, 8, 0}, 1000);
  auto gen = lookup_batches(m, {.batch_size = 1});
  std::size_t larger = 0;
  std::size_t total = 0;
  for (const batch& b : gen) {
    total += b.size();
    if (b.size() > 1) ++larger;
  }
  CHECK_FALSE(gen.error());
  CHECK(total == 1000);
  CHECK(larger > 0);      // the grown calls, one per large bucket
  CHECK(larger < total);  // and the rest at the requested size
}

TEST_CASE("the last call's elements that come with ENOENT are yielded") {
  REQUIRE_KERNEL();
  SUBCASE("hash") {
    map m = make_filled({map_type::hash, 4, 8, 0}, 10);
    iteration_stats stats;
    auto got = read_all(m, {.batch_size = 100}, &stats);
    CHECK(stats.syscalls == 1);  // one call: 10 elements and ENOENT
    CHECK(got.size() == 10);
  }
  SUBCASE("array") {
    // An array call ends at its count, not at the end: the second call asks
    // for 15 and gets the last 5 with ENOENT.
    map m = make_filled({map_type::array, 4, 8, 0}, 20);
    iteration_stats stats;
    std::vector<std::size_t> sizes;
    auto gen = lookup_batches(m, {.batch_size = 15, .method = iteration::batch, .stats = &stats});
    auto got = support::collect(gen, &sizes);
    CHECK_FALSE(gen.error());
    CHECK(stats.syscalls == 2);
    CHECK(sizes == std::vector<std::size_t>{15, 5});
    CHECK(got.size() == 20);
  }
}

TEST_CASE("a forced key walk reads the same elements as batches") {
  REQUIRE_KERNEL();
  for (const map_kind& kind : batchable_kinds) {
    INFO(map_type_name(kind.type));
    map m = make_filled(kind, 5000);
    iteration_stats walk_stats;
    auto walked = read_all(m, {.batch_size = 256, .method = iteration::key_walk}, &walk_stats);
    iteration_stats batch_stats;
    auto batched = read_all(m, {.batch_size = 256}, &batch_stats);
    CHECK(batch_stats.walked == !support::kernel_has_batch(kind.type));
    CHECK(walk_stats.walked);
    CHECK(walk_stats.batches == (5000 + 255) / 256);
    CHECK(walked == batched);
    CHECK(walked.size() == 5000);
  }
}

TEST_CASE("a map type without batch lookup is walked under automatic and is errno 524 under batch") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::devmap_hash, 4, 4, 300);
  support::fill(m, 150);

  iteration_stats stats;
  auto got = read_all(m, {.batch_size = 64}, &stats);
  CHECK(stats.walked);
  CHECK(got.size() == 150);
  CHECK(got == support::reference_walk(m.fd()));

  auto gen = lookup_batches(m, {.method = iteration::batch});
  for (const batch& b : gen) (void)b;
  CHECK(gen.error().value() == errno_not_supported);
  CHECK(gen.failed_command() == command::map_lookup_batch);
  CHECK(describe_error(m.info(), gen.failed_command(), gen.error()) ==
        "map 'bpfbatch_test' (id " + std::to_string(m.info().id) +
            ", devmap_hash): BPF_MAP_LOOKUP_BATCH: operation not supported for this map type");
}

TEST_CASE("BPF_F_LOCK on a map without a spin lock reaches error() as EINVAL") {
  REQUIRE_KERNEL();
  map m = make_filled({map_type::hash, 4, 8, 0}, 10);
  iteration_stats stats;
  auto gen = lookup_batches(m, {.elem_flags = BPF_F_LOCK, .stats = &stats});
  int batches = 0;
  for (const batch& b : gen) {
    (void)b;
    ++batches;
  }
  CHECK(batches == 0);
  CHECK(gen.error().value() == EINVAL);
  CHECK(gen.failed_command() == command::map_lookup_batch);
  CHECK_FALSE(stats.walked);  // a real EINVAL is not mistaken for a kernel without batches
}

TEST_CASE("a batch size whose values would pass 32 bits is EOVERFLOW, before any call") {
  REQUIRE_KERNEL();
  // Values of 1 MiB in a hash that allocates nothing until filled: only a
  // map of more than 4 GiB can have such a batch, since batch sizes are
  // capped at max_entries.
  map_spec spec;
  spec.type = map_type::hash;
  spec.key_size = 4;
  spec.value_size = 1 << 20;
  spec.max_entries = 10'000;
  spec.map_flags = BPF_F_NO_PREALLOC;
  auto created = map::create(spec);
  if (!created && created.error().value() == E2BIG) {
    // Kernels before 5.11 charge the whole map at creation and refuse one
    // past 4 GiB (htab_map_alloc's cost check): no batch can pass 32 bits.
    MESSAGE("this kernel refuses maps larger than 4 GiB: nothing to overflow");
    return;
  }
  REQUIRE(created);
  const map& m = *created;
  iteration_stats stats;
  auto gen = lookup_batches(m, {.batch_size = 4096, .stats = &stats});
  for (const batch& b : gen) (void)b;
  CHECK(gen.error().value() == EOVERFLOW);
  CHECK(stats.syscalls == 0);
  // Just under the limit is accepted: 4095 MiB of values.
  CHECK(4095ull * (1 << 20) <= UINT32_MAX);
}

TEST_CASE("no batch is larger than the batch size asked for") {
  REQUIRE_KERNEL();
  map m = make_filled({map_type::array, 4, 8, 0}, 1000);
  auto gen = lookup_batches(m, {.batch_size = 100});
  std::size_t total = 0;
  for (const batch& b : gen) {
    CHECK(b.size() <= 100);
    total += b.size();
  }
  CHECK(total == 1000);
}

TEST_CASE("the default batch size is 4096 within a 1 MiB budget, never above max_entries") {
  map_info info;
  info.type = map_type::hash;
  info.key_size = 4;
  info.value_size = 8;
  info.max_entries = 1'000'000;
  CHECK(default_batch_size(info) == 4096);
  info.max_entries = 100;
  CHECK(default_batch_size(info) == 100);
  info.type = map_type::percpu_hash;
  info.max_entries = 1'000'000;
  info.value_copies = 512;  // 4 KiB of values per element
  CHECK(default_batch_size(info) == (1u << 20) / (4 + 8 * 512));
  info.value_size = 1 << 20;  // one element alone exceeds the budget
  CHECK(default_batch_size(info) == 1);
}

TEST_CASE("polling again with the same buffers allocates only the coroutine frame") {
  REQUIRE_KERNEL();
  map m = make_filled({map_type::hash, 4, 8, 0}, 20'000);
  batch_buffers buffers;
  std::size_t first = 0;
  for (const batch& b : lookup_batches(m, buffers)) first += b.size();
  CHECK(first == 20'000);

  std::size_t second = 0;
  const std::uint64_t before = support::allocations();
  {
    auto gen = lookup_batches(m, buffers);
    for (const batch& b : gen) second += b.size();
    CHECK_FALSE(gen.error());
  }
  CHECK(support::allocations() - before == 1);
  CHECK(second == 20'000);
}

TEST_CASE("owned buffers start keys, values and token on a 64-byte cache line, also after growing") {
  const map_info info{
      .type = map_type::percpu_hash, .key_size = 13, .value_size = 12, .max_entries = 100, .value_copies = 3};
  batch_buffers buffers;
  for (std::uint32_t elements : {1u, 7u, 100u}) {
    INFO(elements, " elements");
    auto reserved = buffers.reserve(info, elements);
    REQUIRE(reserved);
    CHECK(*reserved == elements);
    for (auto span : {buffers.keys(), buffers.values(), buffers.token()})
      CHECK(reinterpret_cast<std::uintptr_t>(span.data()) % 64 == 0);
    CHECK(buffers.keys().size() >= std::size_t{elements} * 13);
    CHECK(buffers.values().size() >= std::size_t{elements} * info.value_bytes());
  }
}

TEST_CASE("borrowed buffers are used exactly as given and bound the batch size") {
  REQUIRE_KERNEL();
  map m = make_filled({map_type::percpu_hash, 4, 12, 0}, 500);
  const std::size_t fits = 37;
  std::vector<std::byte> keys(fits * 4);
  std::vector<std::byte> values(fits * m.info().value_bytes());
  std::vector<std::byte> token(8);  // two 4-byte tokens
  auto buffers = batch_buffers::borrow(keys, values, token);
  auto gen = lookup_batches(m, buffers);
  support::contents got;
  for (const batch& b : gen) {
    CHECK(b.size() <= fits);
    CHECK(b.keys().data() == keys.data());
    CHECK(b.values().data() == values.data());
    for (std::size_t i = 0; i < b.size(); ++i) {
      std::vector<support::bytes> per_cpu;
      for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu)
        per_cpu.emplace_back(b.value(i, cpu).begin(), b.value(i, cpu).end());
      got.emplace(support::bytes(b.key(i).begin(), b.key(i).end()), per_cpu);
    }
  }
  CHECK_FALSE(gen.error());
  CHECK(got == support::reference_walk(m.fd()));
}

TEST_CASE("borrowed buffers too small for one element are ENOBUFS") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::percpu_array, 4, 8, 4);
  std::vector<std::byte> keys(4);
  std::vector<std::byte> values(8);  // one CPU's worth: too small
  std::vector<std::byte> token(8);   // two 4-byte tokens
  auto buffers = batch_buffers::borrow(keys, values, token);
  auto gen = lookup_batches(m, buffers);
  for (const batch& b : gen) (void)b;
  CHECK(gen.error().value() == ENOBUFS);
}

TEST_CASE("borrowed buffers that cannot grow for a large bucket give ENOSPC") {
  REQUIRE_KERNEL();
  map m = make_filled({map_type::hash, 4, 8, 0}, 1000);
  std::vector<std::byte> keys(4);
  std::vector<std::byte> values(8);
  std::vector<std::byte> token(8);  // two 4-byte tokens
  auto buffers = batch_buffers::borrow(keys, values, token);
  auto gen = lookup_batches(m, buffers);
  std::size_t total = 0;
  for (const batch& b : gen) total += b.size();
  CHECK(gen.error().value() == ENOSPC);
  CHECK(gen.failed_command() == command::map_lookup_batch);
  CHECK(total < 1000);
}

TEST_CASE("typed access reads only when the type's size matches") {
  REQUIRE_KERNEL();
  map m = make_filled({map_type::percpu_array, 4, 12, 0}, 3);
  auto gen = lookup_batches(m);
  for (const batch& b : gen) {
    REQUIRE(b.size() == 3);
    CHECK(b.key_as<std::uint32_t>(2) == 2u);
    CHECK_FALSE(b.key_as<std::uint64_t>(2).has_value());
    CHECK_FALSE(b.key_as<std::uint32_t>(3).has_value());  // past the end
    struct twelve {
      std::uint8_t bytes[12];
    };
    auto v = b.value_as<twelve>(1, 0);
    REQUIRE(v.has_value());
    CHECK(std::memcmp(v->bytes, support::value_bytes(12, 1, 0).data(), 12) == 0);
    CHECK_FALSE(b.value_as<twelve>(1, b.value_copies()).has_value());  // no such CPU
    CHECK_FALSE(b.value_as<std::uint64_t>(1, 0).has_value());          // 8 != 12
    CHECK(b.value(1).size() == 16u * b.value_copies());                // padded slots
    CHECK(b.key(5).empty());
  }
  CHECK_FALSE(gen.error());
}

TEST_CASE("breaking out of an iteration early leaves the map readable") {
  REQUIRE_KERNEL();
  map m = make_filled({map_type::hash, 4, 8, 0}, 1000);
  {
    auto gen = lookup_batches(m, {.batch_size = 10});
    for (const batch& b : gen) {
      CHECK(b.size() > 0);
      break;
    }
    CHECK_FALSE(gen.error());
  }
  CHECK(read_all(m, {}).size() == 1000);
}

TEST_CASE("a write-only descriptor cannot be read, in batches or by the walk") {
  REQUIRE_KERNEL();
  map m = make_filled({map_type::hash, 4, 8, 0}, 10);
  auto write_only = map::open_id(m.info().id, {access::write_only});
  REQUIRE(write_only);
  for (iteration method : {iteration::automatic, iteration::key_walk}) {
    auto gen = lookup_batches(*write_only, {.method = method});
    for (const batch& b : gen) (void)b;
    CHECK(gen.error().value() == EPERM);
  }
}

TEST_CASE(
    "maps without keys to list are refused before any call: lookups of queues, stacks, bloom filters, ring "
    "buffers") {
  REQUIRE_KERNEL();
  for (map_type type : {map_type::queue, map_type::stack, map_type::bloom_filter, map_type::ringbuf}) {
    INFO(map_type_name(type));
    if (!support::kernel_has_map_type(type)) continue;  // bloom filters: 5.16 on
    const bool ringbuf = type == map_type::ringbuf;
    map m = support::create(type, 0, ringbuf ? 0 : 8, ringbuf ? 4096 : 16);
    iteration_stats stats;
    auto gen = lookup_batches(m, {.stats = &stats});
    for (const batch& b : gen) (void)b;
    CHECK(gen.error().value() == errno_not_supported);
    CHECK(gen.failed_command() == command::none);
    CHECK(stats.syscalls == 0);
  }
}

TEST_CASE("a generator's stats() shows what it adds to batch_options::stats, batch by batch") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 1000);
  support::fill(m, 1000);
  iteration_stats caller{.syscalls = 5};  // counts are added, not assigned
  auto gen = lookup_batches(m, {.batch_size = 100, .stats = &caller});
  std::uint64_t seen = 0;
  for (const batch& b : gen) {
    seen += b.size();
    CHECK(gen.stats().elements == seen);
    CHECK(caller.elements == seen);
  }
  CHECK_FALSE(gen.error());
  CHECK(gen.stats().elements == 1000);
  CHECK(gen.stats().batches == caller.batches);
  CHECK(caller.syscalls == gen.stats().syscalls + 5);
  CHECK(gen.stats().syscalls >= 10);
}
