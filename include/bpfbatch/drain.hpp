// lookup_and_delete_batches: read and delete every element of a map, a batch
// at a time (a "drain", as agents do with counters and flow tables).
#pragma once

#include <bpfbatch/batch.hpp>
#include <bpfbatch/generator.hpp>
#include <bpfbatch/lookup.hpp>
#include <bpfbatch/map.hpp>

namespace bpfbatch {

// Like lookup_batches(), with BPF_MAP_LOOKUP_AND_DELETE_BATCH: every element
// yielded has been deleted, and every element deleted is yielded, also when
// the iteration stops on an error (the elements the kernel removed before it
// failed come first) or the caller breaks early (then the batch in hand was
// deleted, the rest of the map was not touched).
//
// Where the map type has no such batch (LPM trie, queue, stack: errno 524) or
// the kernel is older than 5.6, iteration::automatic walks instead: each
// element is removed with BPF_MAP_LOOKUP_AND_DELETE_ELEM (hash maps since
// 5.14, queue and stack pops) or else a lookup and a delete, and an element
// someone else deletes in between is not yielded. Plain arrays cannot delete
// elements: draining one is errno 524 before anything is read.
//
// The descriptor needs read and write access (a read-only or frozen map gives
// EPERM before anything is deleted).
batch_generator lookup_and_delete_batches(const map& m, batch_options options = {});
batch_generator lookup_and_delete_batches(const map& m, batch_buffers& buffers, batch_options options = {});

}  // namespace bpfbatch
