// batch_options: how an iteration reads a map (iteration method, batch size,
// flags), and the batch size the library chooses when asked to.
#pragma once

#include <bpfbatch/config.hpp>

#include <cstdint>

#include <bpfbatch/iteration_stats.hpp>
#include <bpfbatch/map_info.hpp>

namespace bpfbatch {

// How an iteration reads the map.
enum class iteration {
  // Batch commands; where the kernel (before 5.6: EINVAL) or the map type
  // (errno 524) has none, a GET_NEXT_KEY + LOOKUP_ELEM walk that yields the
  // same batches. An array made with BPF_F_MMAPABLE is read through a
  // read-only mmap of its values instead, with no bpf(2) call per batch
  // (14 to 140 times faster in tests/bench), yielding the same batches.
  automatic,
  // Batch commands only: no support is an error.
  batch,
  // Always the GET_NEXT_KEY + LOOKUP_ELEM walk.
  key_walk,
};

// What an iteration promises while other threads or BPF programs change the
// map (measured in tests/test_concurrency.cpp):
// - Hash family (hash, percpu_hash, lru_hash, lru_percpu_hash, hash_of_maps)
//   read with batch commands: every key present for the whole pass is yielded
//   exactly once. The resume token is a bucket index and a key never changes
//   bucket (__htab_map_lookup_and_delete_batch), so no key is seen twice.
//   Keys added or removed during the pass may or may not appear.
// - Arrays (batch commands or mmap): every index exactly once, always.
// - LPM tries, and every map read by the key walk: GET_NEXT_KEY from a key
//   that was deleted meanwhile starts again from the first key
//   (trie_get_next_key, htab_map_get_next_key), so keys can be yielded more
//   than once; none present for the whole pass is missed. A drain removes
//   each element once whatever happens, so it yields none twice.

struct batch_options {
  // Elements per kernel call; 0 lets the library choose from the map's sizes
  // (default_batch_size()). Larger than max_entries is taken as max_entries
  // (no call can return more). A bucket of a hash map larger than this makes
  // the kernel answer ENOSPC; that one call is then retried with room for the
  // bucket. count * value_bytes must stay within 32 bits (the kernel computes
  // buffer offsets in u32): larger sizes give EOVERFLOW.
  std::uint32_t batch_size = 0;
  // Passed to the kernel: 0 or BPF_F_LOCK (for values with a bpf_spin_lock).
  std::uint64_t elem_flags = 0;
  iteration method = iteration::automatic;
  // When set, the iteration adds its counts here at each batch and at its
  // end (batch_generator::stats() has them too); it must outlive the
  // generator.
  iteration_stats* stats = nullptr;
};

// Elements per kernel call when batch_options::batch_size is 0: 4096, fewer
// when keys and values of that many elements would pass 1 MiB (per-CPU maps on
// machines with many CPUs), never more than max_entries, at least 1.
BPFBATCH_API std::uint32_t default_batch_size(const map_info& info) noexcept;

}  // namespace bpfbatch
