#include <linux/bpf.h>

#include <cerrno>
#include <cstring>

#include "support.hpp"

using namespace bpfbatch;

namespace {

bool is_per_cpu_type(map_type t) { return has_per_cpu_values(t); }

// Packed keys and values for keys first..first+n-1 as the kernel wants them,
// with the test's per-CPU pattern in each CPU's padded slot.
struct packed {
  support::bytes keys;
  support::bytes values;
  std::vector<bpfbatch::unique_fd> inner_maps;  // maps of maps: kept open until the update
};

packed pack(const map& m, std::uint64_t first, std::uint64_t n) {
  const map_info& info = m.info();
  packed out;
  for (std::uint64_t i = first; i < first + n; ++i) {
    auto key = support::key_bytes(info.key_size, i);
    if (info.type == map_type::array || info.type == map_type::percpu_array) {
      std::uint32_t index = static_cast<std::uint32_t>(i);
      std::memcpy(key.data(), &index, 4);
    }
    if (info.type == map_type::lpm_trie) {
      std::uint32_t prefix = (info.key_size - 4) * 8;
      std::memcpy(key.data(), &prefix, 4);
      std::uint32_t data = static_cast<std::uint32_t>(i);
      std::memcpy(key.data() + 4, &data, 4);
    }
    out.keys.insert(out.keys.end(), key.begin(), key.end());
    support::bytes value(info.value_bytes());
    if (is_map_in_map(info.type)) {
      map inner = support::create(map_type::array, 4, 4, 1);
      std::int32_t fd = inner.fd();
      std::memcpy(value.data(), &fd, 4);
      out.inner_maps.push_back(inner.release());
    } else {
      for (std::uint32_t cpu = 0; cpu < info.value_copies; ++cpu) {
        auto v = support::value_bytes(info.value_size, i, cpu);
        std::memcpy(value.data() + std::size_t{cpu} * info.per_cpu_stride(), v.data(), v.size());
      }
    }
    out.values.insert(out.values.end(), value.begin(), value.end());
  }
  return out;
}

std::size_t count_elements(const map& m) { return support::reference_walk(m.fd()).size(); }

bool contains(const map& m, const support::bytes& keys, std::size_t index) {
  const auto walk = support::reference_walk(m.fd());
  const std::size_t k = m.info().key_size;
  return walk.count(support::bytes(keys.begin() + index * k, keys.begin() + (index + 1) * k)) == 1;
}

}  // namespace

TEST_CASE("an update batch, then a lookup, round-trips every type that has one") {
  REQUIRE_KERNEL();
  struct kind {
    map_type type;
    std::uint32_t key_size, value_size, flags;
  };
  for (const kind& k : {kind{map_type::hash, 4, 8, 0}, kind{map_type::percpu_hash, 4, 12, 0},
                        kind{map_type::lru_hash, 4, 8, 0}, kind{map_type::lru_percpu_hash, 4, 12, 0},
                        kind{map_type::array, 4, 13, 0}, kind{map_type::percpu_array, 4, 12, 0},
                        kind{map_type::lpm_trie, 8, 8, BPF_F_NO_PREALLOC}}) {
    INFO(map_type_name(k.type));
    map m = support::create(k.type, k.key_size, k.value_size, 5000, k.flags);
    auto input = pack(m, 0, 3000);
    auto written = update_batch(m, input.keys, input.values, {.batch_size = 256});
    CHECK(written);
    CHECK(written.applied == 3000);
    // Read back with the independent walk and compare with what was written.
    auto walk = support::reference_walk(m.fd());
    const std::size_t stride = m.info().per_cpu_stride();
    for (std::size_t i = 0; i < 3000; ++i) {
      support::bytes key(input.keys.begin() + i * k.key_size, input.keys.begin() + (i + 1) * k.key_size);
      auto found = walk.find(key);
      REQUIRE(found != walk.end());
      for (std::uint32_t cpu = 0; cpu < m.info().value_copies; ++cpu) {
        auto begin = input.values.begin() + i * m.info().value_bytes() + cpu * stride;
        CHECK(found->second[cpu] == support::bytes(begin, begin + k.value_size));
      }
    }
    if (!is_per_cpu_type(k.type) && k.type != map_type::array) CHECK(walk.size() == 3000);
  }
}

TEST_CASE("an update batch of inner map descriptors fills a hash of maps") {
  REQUIRE_KERNEL();
  map inner = support::create(map_type::array, 4, 4, 1);
  map m = support::create(map_type::hash_of_maps, 4, 4, 100, 0, inner.fd());
  auto input = pack(m, 0, 50);
  auto written = update_batch(m, input.keys, input.values);
  CHECK(written.applied == 50);
  auto walk = support::reference_walk(m.fd());
  REQUIRE(walk.size() == 50);
  for (const auto& [key, values] : walk) {
    std::uint32_t id;
    std::memcpy(&id, values.at(0).data(), 4);
    CHECK(map::open_id(id));  // ids of live inner maps
  }
}

TEST_CASE("an update batch that fills the map reports E2BIG with the exact count applied") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 4);
  auto input = pack(m, 0, 8);
  auto written = update_batch(m, input.keys, input.values);
  CHECK(written.error.value() == E2BIG);
  CHECK(written.failed_command == command::map_update_batch);
  CHECK(written.applied == 4);
  CHECK(count_elements(m) == 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(contains(m, input.keys, i));
}

TEST_CASE("a large update is split into calls of the batch size and applies everything") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 20'000);
  auto input = pack(m, 0, 20'000);
  auto written = update_batch(m, input.keys, input.values, {.batch_size = 1000});
  CHECK(written);
  CHECK(written.applied == 20'000);
  CHECK(count_elements(m) == 20'000);
}

TEST_CASE("only_new stops at the first existing key with the exact count") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 100);
  auto input = pack(m, 0, 10);
  REQUIRE(
      update_batch(m, std::span(input.keys).subspan(5 * 4, 4), std::span(input.values).subspan(5 * 8, 8)));
  auto written = update_batch(m, input.keys, input.values, {.mode = update_mode::only_new});
  CHECK(written.error.value() == EEXIST);
  CHECK(written.failed_command == command::map_update_elem);
  CHECK(written.applied == 5);
  CHECK(count_elements(m) == 6);
}

TEST_CASE("only_existing stops at the first missing key with the exact count") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 100);
  auto input = pack(m, 0, 10);
  REQUIRE(update_batch(m, std::span(input.keys).first(3 * 4), std::span(input.values).first(3 * 8)));
  auto written = update_batch(m, input.keys, input.values, {.mode = update_mode::only_existing});
  CHECK(written.error.value() == ENOENT);
  CHECK(written.applied == 3);
  CHECK(count_elements(m) == 3);
}

TEST_CASE("a delete batch stops at the first missing key and reports how many it deleted") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 100);
  auto input = pack(m, 0, 6);
  REQUIRE(update_batch(m, input.keys, input.values));
  auto missing_key = support::key_bytes(4, 999);
  support::bytes keys(input.keys.begin(), input.keys.begin() + 2 * 4);              // keys 0, 1
  keys.insert(keys.end(), missing_key.begin(), missing_key.end());                  // not there
  keys.insert(keys.end(), input.keys.begin() + 3 * 4, input.keys.begin() + 4 * 4);  // key 3
  auto deleted = delete_batch(m, keys);
  CHECK(deleted.error.value() == ENOENT);
  CHECK(deleted.failed_command == command::map_delete_batch);
  CHECK(deleted.applied == 2);
  CHECK(deleted.missing == 0);
  CHECK(contains(m, input.keys, 3));  // after the missing key: untouched
  CHECK(count_elements(m) == 4);
}

TEST_CASE("a delete batch with skip_missing deletes every present key and counts the missing") {
  REQUIRE_KERNEL();
  for (iteration method : {iteration::automatic, iteration::key_walk}) {
    map m = support::create(map_type::hash, 4, 8, 1000);
    auto input = pack(m, 0, 600);
    REQUIRE(update_batch(m, input.keys, input.values));
    // Ask to delete keys 0..799: 600 present, 200 missing, interleaved by
    // deleting every third key first.
    auto all = pack(m, 0, 800);
    support::bytes thirds;
    for (std::size_t i = 0; i < 600; i += 3)
      thirds.insert(thirds.end(), all.keys.begin() + i * 4, all.keys.begin() + i * 4 + 4);
    REQUIRE(delete_batch(m, thirds).applied == 200);
    auto deleted = delete_batch(m, all.keys, {.batch_size = 64, .skip_missing = true, .method = method});
    CHECK(deleted);
    CHECK(deleted.applied == 400);
    CHECK(deleted.missing == 400);
    CHECK(count_elements(m) == 0);
  }
}

TEST_CASE("deleting from an array is a clear error and changes nothing") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::array, 4, 8, 4);
  std::uint32_t keys[] = {0, 1};
  auto deleted = delete_batch(m, keys);
  CHECK(deleted.error.value() == errno_not_supported);
  CHECK(deleted.applied == 0);
  CHECK(count_elements(m) == 4);
}

TEST_CASE("a read-only descriptor and a frozen map refuse updates and deletes and stay unchanged") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 100);
  auto input = pack(m, 0, 10);
  REQUIRE(update_batch(m, input.keys, input.values));
  auto before = support::reference_walk(m.fd());
  auto more = pack(m, 10, 5);

  auto read_only = map::open_id(m.info().id, {access::read_only});
  REQUIRE(read_only);
  for (iteration method : {iteration::automatic, iteration::key_walk}) {
    auto updated = update_batch(*read_only, more.keys, more.values, {.method = method});
    CHECK(updated.error.value() == EPERM);
    CHECK(updated.applied == 0);
    auto deleted = delete_batch(*read_only, input.keys, {.method = method});
    CHECK(deleted.error.value() == EPERM);
    CHECK(deleted.applied == 0);
  }
  CHECK(support::reference_walk(m.fd()) == before);

  REQUIRE(support::freeze(m.fd()) == 0);
  for (iteration method : {iteration::automatic, iteration::key_walk}) {
    CHECK(update_batch(m, more.keys, more.values, {.method = method}).error.value() == EPERM);
    CHECK(delete_batch(m, input.keys, {.method = method}).error.value() == EPERM);
  }
  CHECK(support::reference_walk(m.fd()) == before);
}

TEST_CASE("buffers whose sizes do not fit the map are EINVAL before any call") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::percpu_hash, 4, 8, 10);
  support::bytes keys(8);     // two keys
  support::bytes values(16);  // one CPU's value each: too small on every machine but one-CPU ones
  if (m.info().value_copies > 1) CHECK(update_batch(m, keys, values).error.value() == EINVAL);
  CHECK(update_batch(m, support::bytes(7), support::bytes(m.info().value_bytes())).error.value() == EINVAL);
  CHECK(delete_batch(m, support::bytes(6)).error.value() == EINVAL);
  CHECK(count_elements(m) == 0);
}

TEST_CASE("typed updates take ranges whose element sizes match the map, and refuse others") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 10);
  std::vector<std::uint32_t> keys{1, 2, 3};
  std::vector<std::uint64_t> values{10, 20, 30};
  auto written = update_batch(m, keys, values);
  CHECK(written.applied == 3);
  std::vector<std::uint32_t> wrong_values{1, 2, 3};
  CHECK(update_batch(m, keys, wrong_values).error.value() == EINVAL);
  std::vector<std::uint64_t> wrong_keys{1};
  CHECK(delete_batch(m, wrong_keys).error.value() == EINVAL);
  CHECK(delete_batch(m, keys).applied == 3);
  CHECK(count_elements(m) == 0);
}

TEST_CASE("forced per-element updates and deletes give the same results as batches") {
  REQUIRE_KERNEL();
  map batched = support::create(map_type::percpu_hash, 4, 12, 1000);
  map walked = support::create(map_type::percpu_hash, 4, 12, 1000);
  auto input = pack(batched, 0, 500);
  CHECK(update_batch(batched, input.keys, input.values).applied == 500);
  CHECK(update_batch(walked, input.keys, input.values, {.method = iteration::key_walk}).applied == 500);
  CHECK(support::reference_walk(batched.fd()) == support::reference_walk(walked.fd()));
  auto half = std::span(input.keys).first(250 * 4);
  CHECK(delete_batch(batched, half).applied == 250);
  CHECK(delete_batch(walked, half, {.method = iteration::key_walk}).applied == 250);
  CHECK(support::reference_walk(batched.fd()) == support::reference_walk(walked.fd()));
}

TEST_CASE("BPF_F_LOCK works for every batch command on maps whose values hold a spin lock") {
  REQUIRE_KERNEL();
  for (map_type type : {map_type::hash, map_type::array}) {
    INFO(map_type_name(type));
    map m = support::create_spin_lock_map(type, 64);
    std::vector<std::uint32_t> keys;
    std::vector<support::spin_value> values;
    for (std::uint32_t i = 0; i < 64; ++i) {
      keys.push_back(i);
      values.push_back({i * 3, 0, i * 5, i * 7});
    }
    auto written = update_batch(m, keys, values, {.elem_flags = BPF_F_LOCK});
    CHECK(written);
    CHECK(written.applied == 64);

    auto gen = lookup_batches(m, {.batch_size = 16, .elem_flags = BPF_F_LOCK});
    std::size_t seen = 0;
    for (const batch& b : gen) {
      for (std::size_t i = 0; i < b.size(); ++i) {
        auto key = b.key_as<std::uint32_t>(i);
        auto value = b.value_as<support::spin_value>(i);
        REQUIRE(key);
        REQUIRE(value);
        CHECK(value->a == *key * 3);
        CHECK(value->lock == 0);  // the kernel never hands out the lock word
        CHECK(value->b == *key * 5);
        CHECK(value->c == *key * 7);
        ++seen;
      }
    }
    CHECK_FALSE(gen.error());
    CHECK(seen == 64);

    if (type == map_type::hash) {
      auto deleted = delete_batch(m, std::span(keys).first(16), {.elem_flags = BPF_F_LOCK});
      CHECK(deleted.applied == 16);
      std::size_t drained = 0;
      auto drain = lookup_and_delete_batches(m, {.elem_flags = BPF_F_LOCK});
      for (const batch& b : drain) {
        for (std::size_t i = 0; i < b.size(); ++i)
          CHECK(b.value_as<support::spin_value>(i)->b == *b.key_as<std::uint32_t>(i) * 5);
        drained += b.size();
      }
      CHECK_FALSE(drain.error());
      CHECK(drained == 48);
      CHECK(count_elements(m) == 0);
    }
  }
}

TEST_CASE("BPF_F_LOCK on a map without a spin lock is EINVAL for updates and deletes") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 10);
  std::vector<std::uint32_t> keys{1, 2};
  std::vector<std::uint64_t> values{1, 2};
  auto updated = update_batch(m, keys, values, {.elem_flags = BPF_F_LOCK});
  CHECK(updated.error.value() == EINVAL);
  CHECK(updated.applied == 0);
  REQUIRE(update_batch(m, keys, values));
  auto deleted = delete_batch(m, keys, {.elem_flags = BPF_F_LOCK});
  CHECK(deleted.error.value() == EINVAL);
  CHECK(count_elements(m) == 2);
}

TEST_CASE("a map type without update and delete batches is written element by element under automatic") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::devmap_hash, 4, 4, 100);
  std::vector<std::uint32_t> keys;
  std::vector<std::uint32_t> loopback;
  for (std::uint32_t i = 0; i < 60; ++i) {
    keys.push_back(i * 7);
    loopback.push_back(1);  // ifindex 1: lo
  }
  auto refused = update_batch(m, keys, loopback, {.method = iteration::batch});
  CHECK(refused.error.value() == errno_not_supported);
  CHECK(refused.applied == 0);

  auto written = update_batch(m, keys, loopback);
  CHECK(written);
  CHECK(written.applied == 60);
  CHECK(count_elements(m) == 60);

  CHECK(delete_batch(m, keys, {.method = iteration::batch}).error.value() == errno_not_supported);
  auto deleted = delete_batch(m, std::span(keys).first(40));
  CHECK(deleted);
  CHECK(deleted.applied == 40);
  CHECK(count_elements(m) == 20);
}

TEST_CASE("delete_batch with BPF_F_LOCK element by element deletes: DELETE_ELEM gets no flags") {
  REQUIRE_KERNEL();
  map m = support::create_spin_lock_map(map_type::hash, 32);
  const auto keys = support::fill_spin_lock_map(m, 32);
  auto deleted = delete_batch(m, keys, {.elem_flags = BPF_F_LOCK, .method = iteration::key_walk});
  CHECK(deleted);
  CHECK(deleted.applied == 32);
  CHECK(count_elements(m) == 0);
}

TEST_CASE("only_new or only_existing with iteration::batch is EINVAL before any call") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 10);
  std::vector<std::uint32_t> keys{1, 2, 3};
  std::vector<std::uint64_t> values{1, 2, 3};
  for (update_mode mode : {update_mode::only_new, update_mode::only_existing}) {
    auto w = update_batch(m, keys, values, {.mode = mode, .method = iteration::batch});
    CHECK(w.error.value() == EINVAL);
    CHECK(w.failed_command == command::none);
    CHECK(w.applied == 0);
  }
  CHECK(count_elements(m) == 0);
}

TEST_CASE("update_batch pushes the values of key-less maps, given no keys") {
  REQUIRE_KERNEL();
  for (map_type type : {map_type::queue, map_type::stack}) {
    INFO(map_type_name(type));
    map m = support::create(type, 0, 8, 8);
    std::vector<std::uint64_t> values{10, 20, 30};
    std::vector<std::uint32_t> no_keys;
    auto w = update_batch(m, no_keys, values);
    CHECK(w);
    CHECK(w.applied == 3);
    CHECK(update_batch(m, std::span<const std::byte>(), std::as_bytes(std::span(values))).applied == 3);
    // Full: the sixth push of 8 pushes fails with E2BIG after exactly two.
    auto full = update_batch(m, no_keys, values);
    CHECK(full.error.value() == E2BIG);
    CHECK(full.applied == 2);
    // A key for a key-less map, or a mode it cannot honour: EINVAL, no call.
    CHECK(update_batch(m, std::vector<std::uint32_t>{1}, std::vector<std::uint64_t>{1}).error.value() ==
          EINVAL);
    CHECK(update_batch(m, no_keys, values, {.mode = update_mode::only_new}).error.value() == EINVAL);
    CHECK(delete_batch(m, std::span<const std::byte>()).error.value() == EINVAL);
    std::vector<std::uint64_t> popped;
    auto gen = lookup_and_delete_batches(m);
    for (const batch& b : gen)
      for (std::size_t i = 0; i < b.size(); ++i) popped.push_back(*b.value_as<std::uint64_t>(i));
    const std::vector<std::uint64_t> fifo{10, 20, 30, 10, 20, 30, 10, 20};
    const std::vector<std::uint64_t> lifo{20, 10, 30, 20, 10, 30, 20, 10};
    CHECK(popped == (type == map_type::queue ? fifo : lifo));
  }
  if (support::kernel_has_map_type(map_type::bloom_filter)) {  // 5.16 on
    map bloom = support::create(map_type::bloom_filter, 0, 8, 64);
    std::vector<std::uint64_t> values{1, 2, 3};
    CHECK(update_batch(bloom, std::vector<std::uint32_t>{}, values).applied == 3);
  }
}

TEST_CASE("byte ranges (std::string, std::vector<std::uint8_t>) hold packed keys, not one key per byte") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 10);
  std::vector<std::uint8_t> keys{1, 0, 0, 0, 2, 0, 0, 0};
  std::string values(16, '\0');
  values[0] = 7;
  values[8] = 9;
  auto w = update_batch(m, keys, values);
  CHECK(w);
  CHECK(w.applied == 2);
  auto contents = support::reference_walk(m.fd());
  CHECK(contents.size() == 2);
  CHECK(contents.at(support::key_bytes(4, 2))[0][0] == std::byte{9});
  // A byte count that is no whole number of keys is EINVAL.
  CHECK(delete_batch(m, std::vector<std::uint8_t>{1, 0, 0}).error.value() == EINVAL);
  CHECK(delete_batch(m, std::string("\x01\x00\x00\x00", 4)).applied == 1);
}

TEST_CASE("deleting from a plain array is refused before any call, naming no command") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::array, 4, 8, 4);
  auto d = delete_batch(m, std::vector<std::uint32_t>{0, 1});
  CHECK(d.error.value() == errno_not_supported);
  CHECK(d.failed_command == command::none);
}

TEST_CASE("a per-CPU map takes its values as one element per CPU, n * CPUs in all") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::percpu_hash, 4, 8, 10);
  const std::uint32_t cpus = m.info().value_copies;
  std::vector<std::uint32_t> keys{1, 2};
  std::vector<std::uint64_t> counters(2 * cpus);
  for (std::size_t i = 0; i < counters.size(); ++i) counters[i] = i + 1;
  auto w = update_batch(m, keys, counters);
  CHECK(w);
  CHECK(w.applied == 2);
  auto contents = support::reference_walk(m.fd());
  std::uint64_t last_cpu_of_key_2 = 0;
  std::memcpy(&last_cpu_of_key_2, contents.at(support::key_bytes(4, 2))[cpus - 1].data(), 8);
  CHECK(last_cpu_of_key_2 == 2 * cpus);
  // One counter too few is no whole number of elements.
  counters.pop_back();
  CHECK(update_batch(m, keys, counters).error.value() == EINVAL);
}
