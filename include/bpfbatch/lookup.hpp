// lookup_batches: read every element of a map, a batch at a time.
#pragma once

#include <bpfbatch/config.hpp>

#include <bpfbatch/batch_buffers.hpp>
#include <bpfbatch/batch_generator.hpp>
#include <bpfbatch/batch_options.hpp>
#include <bpfbatch/map.hpp>

namespace bpfbatch {

// Reads the map with BPF_MAP_LOOKUP_BATCH (or mmap, or the key walk: see
// iteration) and yields its elements in batches; see batch_options for what
// it promises while the map changes. The generator holds its own duplicate of
// the map's descriptor, so it reads the map it was given even if `m` is
// closed or moved meanwhile; a temporary map is refused at compile time (its
// descriptor number could already name another map when the loop starts).
//
// The first overload allocates its buffers once per iteration; the second
// uses `buffers`, which must outlive the generator, so that polling the same
// map again allocates nothing but the coroutine frame.
//
// Key-less maps (queue, stack, bloom filter, ring buffers, arena) and the
// local-storage maps, which have no GET_NEXT_KEY, cannot be read this way:
// errno 524 before any call (drain a queue or stack to pop it).
BPFBATCH_API batch_generator lookup_batches(const map& m, batch_options options = {});
BPFBATCH_API batch_generator lookup_batches(const map& m, batch_buffers& buffers, batch_options options = {});
batch_generator lookup_batches(map&& m, batch_options options = {}) = delete;
batch_generator lookup_batches(map&& m, batch_buffers& buffers, batch_options options = {}) = delete;
batch_generator lookup_batches(const map&& m, batch_options options = {}) = delete;
batch_generator lookup_batches(const map&& m, batch_buffers& buffers, batch_options options = {}) = delete;

}  // namespace bpfbatch
