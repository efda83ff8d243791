// lookup_shards and lookup_and_delete_shards: one map read (or drained) by
// several threads at once, each over its own part of the map.
#pragma once

#include <bpfbatch/config.hpp>

#include <span>
#include <vector>

#include <bpfbatch/batch_buffers.hpp>
#include <bpfbatch/batch_generator.hpp>
#include <bpfbatch/batch_options.hpp>
#include <bpfbatch/map.hpp>
#include <bpfbatch/result.hpp>

namespace bpfbatch {

// Up to n generators over disjoint parts of the map: together they yield
// every element once, as one lookup_batches() would, and each can run on its
// own thread (its own descriptor, buffers, error() and stats()). A batch read
// is the kernel's work on one CPU at a time; shards put more CPUs on one map.
//
//   auto shards = bpfbatch::lookup_shards(m, 4);
//   if (!shards) ...;
//   std::vector<std::jthread> threads;
//   for (auto& shard : *shards)
//     threads.emplace_back([&shard] { for (const auto& b : shard) use(b); });
//
// How the map is split:
// - The hash family (hash, percpu_hash, lru_hash, lru_percpu_hash,
//   hash_of_maps) read with batch commands: shard i reads the buckets from
//   i * B / n to (i + 1) * B / n, with B the kernel's bucket count
//   (roundup_pow_of_two(max_entries), htab_map_alloc; were it ever different,
//   the shards would be unequal, never wrong: the last reads until ENOENT).
//   A batch call reads whole buckets and can end past its shard's end; a
//   lookup shard then reads again with fewer elements and drops the keys that
//   a second look past its end finds (see readers.cpp), at a few extra calls
//   per boundary. The promise of batch_options holds across the boundaries:
//   every key present for the whole pass is yielded exactly once. (A key in
//   the next shard's first bucket that is deleted in the microseconds
//   between those two calls can be yielded by both shards.) A drain shard's
//   last call can take elements from the next shard's first buckets: deleted
//   once, they are yielded once, by it.
// - Arrays (array, percpu_array; BPF_F_MMAPABLE ones through mmap): element
//   ranges, exact by construction.
// - Every other map, and every map read by the key walk (iteration::key_walk,
//   or a kernel without batch commands for the type): the first generator
//   reads the whole map and the others yield nothing, so callers need no
//   special case.
//
// n is capped at the map's bucket count (the hash family) or max_entries
// (at least 1); n == 0 is EINVAL. options.stats must be null (EINVAL): one
// object would be written by every thread; each generator's stats() has its
// counts. The drain overload and its guarantees are those of
// lookup_and_delete_batches(); arrays cannot be drained (errno 524 from the
// first generator).
BPFBATCH_API result<std::vector<batch_generator>> lookup_shards(const map& m, unsigned n,
                                                                batch_options options = {});
BPFBATCH_API result<std::vector<batch_generator>> lookup_and_delete_shards(const map& m, unsigned n,
                                                                           batch_options options = {});

// The same, one shard per element of `buffers` (capped as above), each
// using its own buffers (see lookup_batches()): nothing is allocated per
// batch, and a shard of a hash map allocates a small block at its end only.
// The buffers must outlive the generators.
BPFBATCH_API result<std::vector<batch_generator>> lookup_shards(const map& m,
                                                                std::span<batch_buffers> buffers,
                                                                batch_options options = {});
BPFBATCH_API result<std::vector<batch_generator>> lookup_and_delete_shards(const map& m,
                                                                           std::span<batch_buffers> buffers,
                                                                           batch_options options = {});

// A temporary map is refused: its descriptor could name another map by the
// time the shards run.
result<std::vector<batch_generator>> lookup_shards(map&& m, unsigned n, batch_options options = {}) = delete;
result<std::vector<batch_generator>> lookup_and_delete_shards(map&& m, unsigned n,
                                                              batch_options options = {}) = delete;
result<std::vector<batch_generator>> lookup_shards(map&& m, std::span<batch_buffers> buffers,
                                                   batch_options options = {}) = delete;
result<std::vector<batch_generator>> lookup_and_delete_shards(map&& m, std::span<batch_buffers> buffers,
                                                              batch_options options = {}) = delete;

}  // namespace bpfbatch
