// lookup_batches: read every element of a map, a batch at a time.
#pragma once

#include <bpfbatch/batch.hpp>
#include <bpfbatch/generator.hpp>
#include <bpfbatch/map.hpp>

namespace bpfbatch {

using batch_generator = generator<batch>;

// Reads the map with BPF_MAP_LOOKUP_BATCH (or the walk, see iteration) and
// yields its elements in batches. Each batch is valid until the loop
// advances. The map must outlive the generator. The iteration stops at the
// first error and keeps it in error() and failed_command(); it never throws.
//
//   for (const bpfbatch::batch& b : gen) ...;
//   if (gen.error()) ...;
//
// The first overload allocates its buffers once per iteration; the second
// uses `buffers`, which must outlive the generator, so that polling the same
// map again allocates nothing but the coroutine frame.
batch_generator lookup_batches(const map& m, batch_options options = {});
batch_generator lookup_batches(const map& m, batch_buffers& buffers, batch_options options = {});

// Whether the kernel has batch command `c` (lookup, lookup_and_delete, update
// or delete batch) for this map, probed with count = 0, which returns before
// touching any element: true where it is supported, false where the map type
// (errno 524) or the kernel (EINVAL) lacks it; other errors are returned.
result<bool> supports_batch(const map& m, command c) noexcept;

}  // namespace bpfbatch
