// lookup_shards / lookup_and_delete_shards: parts of one map read on several
// threads, which together yield every element exactly once.
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace bpfbatch;

namespace {

// Runs each shard on its own thread and merges what they yield; fails the
// test on a key yielded twice (by one shard or by two) or on a shard error.
support::contents run_shards(std::vector<batch_generator>& shards) {
  std::vector<support::contents> parts(shards.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < shards.size(); ++i)
    threads.emplace_back([&, i] {
      for (const batch& b : shards[i])
        for (std::size_t e = 0; e < b.size(); ++e) {
          support::bytes key(b.key(e).begin(), b.key(e).end());
          std::vector<support::bytes> values;
          for (std::uint32_t cpu = 0; cpu < b.value_copies(); ++cpu) {
            auto v = b.value(e, cpu);
            values.emplace_back(v.begin(), v.end());
          }
          parts[i].emplace(std::move(key), std::move(values));  // twice in one shard: caught below
        }
    });
  for (auto& t : threads) t.join();
  support::contents all;
  std::uint64_t yielded = 0;
  for (std::size_t i = 0; i < shards.size(); ++i) {
    CHECK_FALSE(shards[i].error());
    yielded += shards[i].stats().elements;
    for (auto& [key, values] : parts[i]) CHECK(all.emplace(key, values).second);  // no key in two shards
  }
  CHECK(yielded == all.size());  // and none twice within a shard
  return all;
}

// A raw BPF_MAP_LOOKUP_BATCH from bucket `from` with room for `count` u32
// keys (independent of the library): the keys read (ENOENT too), and the
// kernel's answer (errno, 0 on success) and out_batch.
struct raw_read {
  std::vector<std::uint32_t> keys;
  int err = 0;
  std::uint32_t out = 0;
};

raw_read raw_lookup_from(int fd, std::uint32_t from, std::uint32_t count, std::uint32_t value_bytes) {
  raw_read r;
  r.keys.resize(count);
  std::vector<std::byte> values(std::size_t{count} * value_bytes);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.batch.in_batch = reinterpret_cast<std::uintptr_t>(&from);
  attr.batch.out_batch = reinterpret_cast<std::uintptr_t>(&r.out);
  attr.batch.keys = reinterpret_cast<std::uintptr_t>(r.keys.data());
  attr.batch.values = reinterpret_cast<std::uintptr_t>(values.data());
  attr.batch.count = count;
  attr.batch.map_fd = static_cast<std::uint32_t>(fd);
  r.err = ::syscall(__NR_bpf, BPF_MAP_LOOKUP_BATCH, &attr, sizeof(attr)) == 0 ? 0 : errno;
  r.keys.resize(r.err == 0 || r.err == ENOENT ? attr.batch.count : 0);
  return r;
}

// Whether hash bucket `b` holds an element: a call from b with room for one
// element fails with ENOSPC naming b when b holds more, and otherwise reads
// the first element at or after b, which comes from b exactly when a call
// from b + 1 does not return it.
bool bucket_occupied(int fd, std::uint32_t bucket, std::uint32_t value_bytes) {
  const raw_read here = raw_lookup_from(fd, bucket, 1, value_bytes);
  if (here.err == ENOSPC) return here.out == bucket;  // out names a bucket of two or more
  if (here.keys.empty()) return false;
  const raw_read next = raw_lookup_from(fd, bucket + 1, 1, value_bytes);
  return next.keys.empty() || next.keys != here.keys;
}

// Whether a lookup from bucket `from` (room for 64 elements) returns `key`:
// its bucket is at or after `from`, and among the first read.
bool bucket_holds(int fd, std::uint32_t from, std::uint32_t key, std::uint32_t value_bytes) {
  const raw_read r = raw_lookup_from(fd, from, 64, value_bytes);
  return std::find(r.keys.begin(), r.keys.end(), key) != r.keys.end();
}

void put_u32(const map& m, std::uint32_t key, std::uint64_t value) {
  std::vector<std::uint64_t> values(m.info().value_copies, value);
  REQUIRE(m.update_element(std::as_bytes(std::span(&key, 1)), std::as_bytes(std::span(values))));
}

}  // namespace

TEST_CASE("shards of every shardable map type together yield each element exactly once, for 1 to 16 shards") {
  REQUIRE_KERNEL();
  int checked = 0;
  for (map_type type : {map_type::hash, map_type::percpu_hash, map_type::lru_hash, map_type::lru_percpu_hash,
                        map_type::array, map_type::percpu_array}) {
    for (std::uint32_t entries : {1u, 3u, 100u, 5000u}) {
      INFO(map_type_name(type), " max_entries ", entries);
      map m = support::create(type, 4, 12, entries);
      support::fill(m, entries);
      const support::contents truth = support::reference_walk(m.fd());
      for (unsigned n = 1; n <= 16; ++n) {
        INFO("shards ", n);
        auto shards = lookup_shards(m, n, {.batch_size = 64});
        REQUIRE(shards);
        CHECK(shards->size() <= n);
        CHECK(run_shards(*shards) == truth);
        ++checked;
      }
    }
  }
  MESSAGE("sharded reads checked against a GET_NEXT_KEY walk: ", checked);
}

TEST_CASE("shards of a BPF_F_MMAPABLE array read through mmap and cover each index once") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::array, 4, 8, 1000, BPF_F_MMAPABLE);
  support::fill(m, 1000);
  const support::contents truth = support::reference_walk(m.fd());
  for (unsigned n : {1u, 2u, 3u, 7u, 16u}) {
    auto shards = lookup_shards(m, n);
    REQUIRE(shards);
    REQUIRE(shards->size() == n);
    CHECK(run_shards(*shards) == truth);
    for (auto& s : *shards) CHECK(s.stats().syscalls == 0);
  }
}

TEST_CASE("a hash map sparsely filled over many buckets is read exactly once however the shards fall") {
  REQUIRE_KERNEL();
  // 65,536 buckets and a few elements: most shards find their buckets empty
  // and their calls run into the next shards' elements.
  std::mt19937 random(7);
  for (std::uint32_t elements : {0u, 1u, 2u, 5u, 40u}) {
    map m = support::create(map_type::hash, 4, 8, 65536);
    for (std::uint32_t i = 0; i < elements; ++i) put_u32(m, random(), i);
    const support::contents truth = support::reference_walk(m.fd());
    for (unsigned n : {1u, 2u, 3u, 8u, 16u}) {
      INFO(elements, " elements, ", n, " shards");
      for (std::uint32_t batch_size : {1u, 2u, 4096u}) {
        auto shards = lookup_shards(m, n, {.batch_size = batch_size});
        REQUIRE(shards);
        CHECK(run_shards(*shards) == truth);
      }
    }
  }
}

TEST_CASE("elements planted on both sides of every shard edge are yielded once, by one shard") {
  REQUIRE_KERNEL();
  constexpr std::uint32_t buckets = 1024;  // max_entries, a power of two: the kernel's bucket count
  constexpr unsigned n = 8;
  map m = support::create(map_type::hash, 4, 8, buckets);
  const std::uint32_t value_bytes = static_cast<std::uint32_t>(m.info().value_bytes());
  std::vector<std::uint32_t> edges;
  for (unsigned i = 1; i < n; ++i) edges.push_back(i * buckets / n);
  std::vector<std::uint32_t> wanted;  // the buckets on both sides of each edge
  for (std::uint32_t e : edges) wanted.insert(wanted.end(), {e - 1, e});
  auto empty_wanted = [&] {
    std::vector<std::uint32_t> empty;
    for (std::uint32_t b : wanted)
      if (!bucket_occupied(m.fd(), b, value_bytes)) empty.push_back(b);
    return empty;
  };
  // A key's bucket comes from the map's secret seed: try random keys and
  // keep those that land in a wanted bucket still empty.
  std::mt19937 random(11);
  std::uint32_t planted = 0, tries = 0;
  for (auto empty = empty_wanted(); !empty.empty() && tries < 100'000; ++tries) {
    std::uint32_t key = random();
    put_u32(m, key, key);
    auto now_empty = empty_wanted();
    if (now_empty.size() < empty.size()) {
      ++planted;
      empty = std::move(now_empty);
    } else {
      REQUIRE(delete_batch(m, std::span(&key, 1)));
    }
  }
  REQUIRE(empty_wanted().empty());
  // Then elements anywhere, as a real map has them.
  std::uint32_t inserted = planted;
  for (; inserted < buckets * 3 / 4; ++inserted) put_u32(m, random(), inserted);
  const support::contents truth = support::reference_walk(m.fd());
  for (std::uint32_t batch_size : {1u, 3u, 16u, 200u, 1024u}) {
    INFO("batch size ", batch_size, ", ", inserted, " elements");
    auto shards = lookup_shards(m, n, {.batch_size = batch_size});
    REQUIRE(shards);
    REQUIRE(shards->size() == n);
    CHECK(run_shards(*shards) == truth);
  }
  MESSAGE("shard edges planted: ", edges.size(), " edges, both neighbouring buckets filled (", planted,
          " keys kept of ", tries, " tried), ", inserted, " elements in all");
}

TEST_CASE("a map with an overfull bucket at a shard edge is read exactly once") {
  REQUIRE_KERNEL();
  // max_entries sets the buckets: 8 buckets holding 8 elements have buckets
  // of 0 to 4 elements; with a batch size of 1 every bucket of two or more
  // is an ENOSPC, some of them at an edge.
  for (std::uint32_t seed = 0; seed < 20; ++seed) {
    map m = support::create(map_type::hash, 4, 8, 8);
    std::mt19937 random(seed);
    for (std::uint32_t i = 0; i < 8; ++i) put_u32(m, random(), i);
    const support::contents truth = support::reference_walk(m.fd());
    for (unsigned n : {2u, 4u, 8u}) {
      auto shards = lookup_shards(m, n, {.batch_size = 1});
      REQUIRE(shards);
      CHECK(run_shards(*shards) == truth);
    }
  }
}

TEST_CASE("a bucket of more than eight elements just before a shard's end is read once, and the read ends") {
  REQUIRE_KERNEL();
  // 16 buckets, 2 shards: bucket 7 is shard 0's last. Keys are kept where a
  // lookup from bucket 7 returns them and one from bucket 8 does not.
  for (std::uint32_t crowd : {2u, 9u, 14u}) {
    INFO(crowd, " elements in bucket 7");
    map m = support::create(map_type::hash, 4, 8, 16);
    const std::uint32_t value_bytes = static_cast<std::uint32_t>(m.info().value_bytes());
    std::mt19937 random(crowd);
    std::uint32_t in_seven = 0, past = 0;
    for (int tries = 0; (in_seven < crowd || past < 1) && tries < 100'000; ++tries) {
      std::uint32_t key = random();
      put_u32(m, key, key);
      const bool seven = bucket_holds(m.fd(), 7, key, value_bytes),
                 eight = bucket_holds(m.fd(), 8, key, value_bytes);
      if (seven && !eight && in_seven < crowd) {
        ++in_seven;
      } else if (eight && past < 1) {
        ++past;
      } else {
        REQUIRE(delete_batch(m, std::span(&key, 1)));
      }
    }
    REQUIRE(in_seven == crowd);
    const support::contents truth = support::reference_walk(m.fd());
    for (std::uint32_t batch_size : {1u, 4u, 16u}) {
      auto shards = lookup_shards(m, 2, {.batch_size = batch_size});
      REQUIRE(shards);
      CHECK(run_shards(*shards) == truth);
    }
  }
}

TEST_CASE("shard counts are capped at the buckets or elements and zero shards is EINVAL") {
  REQUIRE_KERNEL();
  map hash = support::create(map_type::hash, 4, 8, 5);  // 8 buckets
  auto h = lookup_shards(hash, 100);
  REQUIRE(h);
  CHECK(h->size() == 8);
  map array = support::create(map_type::array, 4, 8, 5);
  auto a = lookup_shards(array, 100);
  REQUIRE(a);
  CHECK(a->size() == 5);
  CHECK(lookup_shards(hash, 0).error() == std::errc::invalid_argument);
  iteration_stats shared;
  CHECK(lookup_shards(hash, 2, {.stats = &shared}).error() == std::errc::invalid_argument);
}

TEST_CASE("maps that cannot be split are read whole by the first shard, the others yield nothing") {
  REQUIRE_KERNEL();
  map hash = support::create(map_type::hash, 4, 8, 100);
  support::fill(hash, 100);
  const support::contents truth = support::reference_walk(hash.fd());
  auto walked = lookup_shards(hash, 4, {.method = iteration::key_walk});
  REQUIRE(walked);
  REQUIRE(walked->size() == 4);
  CHECK(run_shards(*walked) == truth);
  CHECK((*walked)[0].stats().walked);
  CHECK((*walked)[1].stats().syscalls == 0);

  map array = support::create(map_type::array, 4, 8, 10);
  auto drained_array = lookup_and_delete_shards(array, 2);
  REQUIRE(drained_array);
  for (const batch& b : (*drained_array)[0]) (void)b;
  CHECK((*drained_array)[0].error().value() == errno_not_supported);
}

TEST_CASE("shards on borrowed buffers use one buffers object each") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::percpu_hash, 4, 12, 3000);
  support::fill(m, 3000);
  const support::contents truth = support::reference_walk(m.fd());
  std::vector<batch_buffers> buffers(4);
  for (int pass = 0; pass < 3; ++pass) {
    auto shards = lookup_shards(m, std::span(buffers), {.batch_size = 128});
    REQUIRE(shards);
    REQUIRE(shards->size() == 4);
    CHECK(run_shards(*shards) == truth);
  }
}

TEST_CASE("shards under writers yield every key present throughout exactly once") {
  REQUIRE_KERNEL();
  constexpr std::uint32_t stable = 20'000, churn = 20'000;
  // Keys present throughout (stable ones, rewritten in place) are yielded
  // exactly once; a churn key deleted and re-inserted across a shard edge
  // between a shard's last read and its second look may be yielded by both
  // shards, as shards.hpp says: counted apart, and only reported.
  std::uint64_t duplicates = 0, churn_duplicates = 0, misses = 0, passes = 0, churn_seen = 0;
  for (map_type type : {map_type::hash, map_type::lru_percpu_hash}) {
    map m = support::create(type, 4, 8, (stable + churn) * 2);
    for (std::uint32_t k = 0; k < stable + churn; ++k) put_u32(m, k, k);
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      const std::uint32_t cpus = m.info().value_copies;
      std::vector<std::uint32_t> keys;
      for (std::uint32_t k = stable; k < stable + churn; ++k) keys.push_back(k);
      for (std::uint64_t round = 0; !stop.load(std::memory_order_relaxed); ++round)
        for (std::size_t i = 0; i < keys.size() && !stop.load(std::memory_order_relaxed); i += 64) {
          auto chunk = std::span(keys).subspan(i, std::min<std::size_t>(64, keys.size() - i));
          (void)delete_batch(m, chunk, {.skip_missing = true});
          std::vector<std::uint64_t> values(chunk.size() * cpus, round);
          (void)update_batch(m, chunk, values);
          std::uint32_t k = static_cast<std::uint32_t>(round * 7 + i) % stable;  // rewrite a stable key
          std::vector<std::uint64_t> v(cpus, round);
          (void)m.update_element(std::as_bytes(std::span(&k, 1)), std::as_bytes(std::span(v)));
        }
    });
    for (int pass = 0; pass < 30; ++pass) {
      auto shards = lookup_shards(m, 2 + pass % 7, {.batch_size = 256});
      REQUIRE(shards);
      std::vector<std::vector<std::uint32_t>> seen(shards->size());
      std::vector<std::thread> threads;
      for (std::size_t i = 0; i < shards->size(); ++i)
        threads.emplace_back([&, i] {
          for (const batch& b : (*shards)[i])
            for (std::size_t e = 0; e < b.size(); ++e) seen[i].push_back(*b.key_as<std::uint32_t>(e));
        });
      for (auto& t : threads) t.join();
      std::vector<std::uint8_t> count(stable + churn, 0);
      for (std::size_t i = 0; i < shards->size(); ++i) {
        CHECK_FALSE((*shards)[i].error());
        for (std::uint32_t k : seen[i]) {
          if (count.at(k)++) ++(k < stable ? duplicates : churn_duplicates);
          if (k >= stable) ++churn_seen;
        }
      }
      for (std::uint32_t k = 0; k < stable; ++k) misses += count[k] == 0;
      ++passes;
    }
    stop = true;
    writer.join();
  }
  CHECK(duplicates == 0);
  CHECK(misses == 0);
  CHECK(churn_seen > 0);
  MESSAGE("sharded passes under a writer: ", passes, ", ", duplicates, " duplicates and ", misses,
          " misses of keys present throughout; ", churn_duplicates,
          " deleted-and-reinserted keys yielded twice");
}

TEST_CASE("a sharded drain while another thread inserts loses nothing and yields nothing twice") {
  REQUIRE_KERNEL();
  constexpr std::uint32_t prefilled = 50'000;
  map m = support::create(map_type::hash, 4, 8, 400'000);
  for (std::uint32_t k = 0; k < prefilled; ++k) put_u32(m, k, k);
  std::atomic<bool> stop{false};
  std::atomic<std::uint32_t> inserted{prefilled};
  std::thread writer([&] {
    for (std::uint32_t k = prefilled; k < 300'000 && !stop.load(std::memory_order_relaxed); ++k) {
      put_u32(m, k, k);
      inserted.store(k + 1, std::memory_order_relaxed);
    }
  });
  auto shards = lookup_and_delete_shards(m, 3, {.batch_size = 512});
  REQUIRE(shards);
  support::contents drained = run_shards(*shards);
  stop = true;
  writer.join();
  const support::contents left = support::reference_walk(m.fd());
  std::uint64_t lost = 0, both = 0;
  for (std::uint32_t k = 0; k < inserted.load(); ++k) {
    const support::bytes key = support::key_bytes(4, k);
    const bool in_drained = drained.count(key) != 0, in_left = left.count(key) != 0;
    lost += !in_drained && !in_left;
    both += in_drained && in_left;
  }
  CHECK(lost == 0);
  CHECK(both == 0);
  CHECK(drained.size() >= prefilled);
  MESSAGE("sharded drain: ", prefilled, " prefilled, ", inserted.load() - prefilled, " inserted meanwhile, ",
          drained.size(), " drained, ", left.size(), " left");
}
