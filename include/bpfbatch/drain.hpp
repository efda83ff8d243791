// lookup_and_delete_batches: read and delete every element of a map, a batch
// at a time (a "drain", as agents do with counters and flow tables), and
// drain_method_of: how a map is drained, and so what a drain promises.
#pragma once

#include <bpfbatch/config.hpp>

#include <bpfbatch/batch_buffers.hpp>
#include <bpfbatch/batch_generator.hpp>
#include <bpfbatch/batch_options.hpp>
#include <bpfbatch/map.hpp>
#include <bpfbatch/result.hpp>

namespace bpfbatch {

// How lookup_and_delete_batches() removes the elements of a map.
enum class drain_method {
  // BPF_MAP_LOOKUP_AND_DELETE_BATCH (the hash family and hash of maps, 5.6
  // on): the kernel copies and deletes each bucket under its lock, so the
  // value yielded is exactly the value deleted.
  batch_command,
  // Queue and stack: each element popped by BPF_MAP_LOOKUP_AND_DELETE_ELEM,
  // atomically.
  pop,
  // BPF_MAP_LOOKUP_ELEM, then BPF_MAP_DELETE_ELEM (LPM tries, the other
  // keyed maps, and hash maps on kernels without batch commands): no kernel
  // command copies and deletes these atomically. A value written between the
  // two calls is deleted without being yielded: the drain yields the value
  // it read, and the newer one is lost. Stop writers during such a drain if
  // every value matters. (iteration::key_walk drains hash maps with
  // BPF_MAP_LOOKUP_AND_DELETE_ELEM from 5.14 on, atomic per element.)
  lookup_then_delete,
  // Elements of this map type cannot be removed one by one: plain and per-CPU
  // arrays (their elements always exist), struct_ops (a delete unregisters
  // but keeps the element), bloom filters, ring buffers, arenas, cgroup and
  // local storage. A drain is errno 524 before any call.
  impossible,
};

// How a drain with iteration::automatic removes this map's elements: from
// the map type and a side-effect-free probe of the lookup-and-delete batch
// (count = 0; where the descriptor may not write, the lookup batch, which
// the hash family gained in the same release). Errors come from the probe.
BPFBATCH_API result<drain_method> drain_method_of(const map& m) noexcept;

// Like lookup_batches(), with BPF_MAP_LOOKUP_AND_DELETE_BATCH: every element
// yielded has been deleted, and every element deleted is yielded, also when
// the iteration stops on an error (the elements the kernel removed before it
// failed come first) or the caller breaks early (then the batch in hand was
// deleted, the rest of the map was not touched). An element yielded was
// deleted: the caller owns it from then on (bpfbatch's tool prints it, or
// puts it back into the map when it cannot).
//
// Where the map type has no such batch or the kernel is older than 5.6,
// iteration::automatic walks instead (see drain_method): an element someone
// else deletes in between is not yielded, and with lookup_then_delete a
// value written between the lookup and the delete is lost.
//
// The descriptor needs read and write access (a read-only or frozen map gives
// EPERM before anything is deleted). Borrowed buffers are checked before the
// first call: memory the kernel cannot write gives EFAULT before anything is
// deleted (see batch_buffers::borrow()).
BPFBATCH_API batch_generator lookup_and_delete_batches(const map& m, batch_options options = {});
BPFBATCH_API batch_generator lookup_and_delete_batches(const map& m, batch_buffers& buffers,
                                                       batch_options options = {});
batch_generator lookup_and_delete_batches(map&& m, batch_options options = {}) = delete;
batch_generator lookup_and_delete_batches(map&& m, batch_buffers& buffers,
                                          batch_options options = {}) = delete;
batch_generator lookup_and_delete_batches(const map&& m, batch_options options = {}) = delete;
batch_generator lookup_and_delete_batches(const map&& m, batch_buffers& buffers,
                                          batch_options options = {}) = delete;

}  // namespace bpfbatch
