// Reading while BPF maps change under us, as they do when programs run.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include <linux/bpf.h>

#include "support.hpp"

using namespace bpfbatch;

namespace {

constexpr std::uint32_t stable_keys = 20'000;  // present for every pass; values rewritten
constexpr std::uint32_t churn_keys = 20'000;   // deleted and re-inserted all the time
constexpr int passes_per_type = 40;

}  // namespace

TEST_CASE("batch passes under writers never yield a key twice and never miss a key present throughout") {
  REQUIRE_KERNEL();
  std::uint64_t total_passes = 0, duplicates = 0, misses = 0, churn_seen = 0;
  for (map_type type :
       {map_type::hash, map_type::percpu_hash, map_type::lru_hash, map_type::lru_percpu_hash}) {
    INFO(map_type_name(type));
    const std::uint32_t max_entries = (stable_keys + churn_keys) * 2;  // LRU: room, so nothing is evicted
    map m = support::create(type, 4, 8, max_entries);
    const std::uint32_t cpus = m.info().value_copies;
    auto put = [&](std::uint32_t key, std::uint64_t v) {
      std::vector<std::uint64_t> value(cpus, v);
      return m.update_element(std::as_bytes(std::span(&key, 1)), std::as_bytes(std::span(value)));
    };
    for (std::uint32_t k = 0; k < stable_keys + churn_keys; ++k) REQUIRE(put(k, k));

    std::atomic<bool> stop{false};
    std::thread updater([&] {
      for (std::uint64_t round = 0; !stop.load(std::memory_order_relaxed); ++round)
        for (std::uint32_t k = 0; k < stable_keys && !stop.load(std::memory_order_relaxed); k += 7)
          (void)put(k, round);
    });
    std::thread churner([&] {
      std::vector<std::uint32_t> keys;
      for (std::uint32_t k = stable_keys; k < stable_keys + churn_keys; ++k) keys.push_back(k);
      while (!stop.load(std::memory_order_relaxed)) {
        for (std::size_t i = 0; i < keys.size(); i += 64) {
          auto chunk = std::span(keys).subspan(i, std::min<std::size_t>(64, keys.size() - i));
          (void)delete_batch(m, chunk, {.skip_missing = true});
          std::vector<std::uint64_t> values(chunk.size() * cpus, 1);
          (void)update_batch(m, chunk, values);
        }
      }
    });

    batch_buffers buffers;
    for (int pass = 0; pass < passes_per_type; ++pass) {
      std::vector<std::uint8_t> seen(stable_keys + churn_keys, 0);
      auto gen = lookup_batches(m, buffers, {.batch_size = 256});
      for (const batch& b : gen) {
        for (std::size_t i = 0; i < b.size(); ++i) {
          std::uint32_t key = *b.key_as<std::uint32_t>(i);
          if (seen.at(key)++) ++duplicates;
          if (key >= stable_keys) ++churn_seen;
        }
      }
      CHECK_FALSE(gen.error());
      for (std::uint32_t k = 0; k < stable_keys; ++k)
        if (!seen[k]) ++misses;
      ++total_passes;
    }
    stop = true;
    updater.join();
    churner.join();
  }
  CHECK(duplicates == 0);
  CHECK(misses == 0);
  CHECK(churn_seen > 0);  // the churned keys were really there some of the time
  MESSAGE("concurrent passes: ", total_passes, " over 4 hash types, ", duplicates, " duplicates, ", misses,
          " misses of keys present throughout");
}

TEST_CASE("per-CPU maps created and read from many threads at once agree on the possible CPUs") {
  REQUIRE_KERNEL();
  // Exercises the library's only shared state, the possible-CPU cache, from
  // several threads (ThreadSanitizer watches this case in CI).
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      map m = support::create(map_type::percpu_hash, 4, 12, 64);
      support::fill(m, 32);
      if (m.info().value_copies != support::libc_possible_cpus()) ++wrong;
      auto gen = lookup_batches(m);
      std::size_t n = 0;
      for (const batch& b : gen) n += b.size();
      if (gen.error() || n != 32) ++wrong;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(wrong.load() == 0);
}

TEST_CASE("LPM trie passes under writers miss no key present throughout, but may repeat keys") {
  REQUIRE_KERNEL();
  if (!support::kernel_has_batch(map_type::lpm_trie)) return;  // the walk has the same restart
  // Keys {prefixlen 32, u32 k}; the churned ones are deleted and re-inserted.
  constexpr std::uint32_t stable = 2000, churn = 2000;
  map m = support::create(map_type::lpm_trie, 8, 8, (stable + churn) * 2, BPF_F_NO_PREALLOC);
  auto key_of = [](std::uint32_t k) {
    std::array<std::uint32_t, 2> key{32, k};
    return key;
  };
  const std::uint64_t zero = 0;
  for (std::uint32_t k = 0; k < stable + churn; ++k) {
    const auto key = key_of(k);
    REQUIRE(m.update_element(std::as_bytes(std::span(key)), std::as_bytes(std::span(&zero, 1))));
  }
  std::atomic<bool> stop{false};
  std::thread churner([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      for (std::uint32_t k = stable; k < stable + churn; ++k) {
        const auto key = key_of(k);
        (void)delete_batch(m, std::as_bytes(std::span(key)), {.skip_missing = true});
        (void)m.update_element(std::as_bytes(std::span(key)), std::as_bytes(std::span(&zero, 1)));
      }
    }
  });
  std::uint64_t passes = 0, duplicates = 0, misses = 0, worst = 0, yielded = 0;
  batch_buffers buffers;
  for (int pass = 0; pass < 40; ++pass) {
    std::vector<std::uint32_t> seen(stable + churn, 0);
    std::uint64_t repeated = 0;
    auto gen = lookup_batches(m, buffers, {.batch_size = 64});
    for (const batch& b : gen) {
      for (std::size_t i = 0; i < b.size(); ++i) {
        std::array<std::uint32_t, 2> key;
        std::memcpy(key.data(), b.key(i).data(), 8);
        if (seen.at(key[1])++) ++repeated;
        ++yielded;
      }
    }
    CHECK_FALSE(gen.error());
    for (std::uint32_t k = 0; k < stable; ++k)
      if (!seen[k]) ++misses;
    duplicates += repeated;
    worst = std::max(worst, repeated);
    ++passes;
  }
  stop = true;
  churner.join();
  CHECK(misses == 0);
  // A deleted resume key sends generic_map_lookup_batch back to the first key
  // (trie_get_next_key), so a pass repeats what it had read so far, and can
  // do so several times. Observed on this project's machine (2 CPUs, 6.18):
  // about 10% repeats over 40 passes, and at most 2.1 maps' worth of repeats
  // in one pass. Nothing bounds it in principle (a writer that always deletes
  // the resume key); the bound asserted is 16 maps' worth per pass.
  CHECK(worst <= 16 * std::uint64_t{stable + churn});
  MESSAGE("LPM trie under a delete/re-insert writer: ", passes, " passes, ", yielded, " keys yielded, ",
          duplicates, " repeats (at most ", worst, " in one pass of ", stable + churn, "), ", misses,
          " misses of keys present throughout");
}
