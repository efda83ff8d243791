// supports_batch: whether the kernel has a batch command for a map.
#pragma once

#include <bpfbatch/config.hpp>

#include <bpfbatch/command.hpp>
#include <bpfbatch/map.hpp>
#include <bpfbatch/result.hpp>

namespace bpfbatch {

// Whether the kernel has batch command `c` (lookup, lookup_and_delete,
// update or delete batch) for this map:
//
//   if (bpfbatch::supports_batch(m, bpfbatch::command::map_update_batch)) ...
//
// Success means it is there. Otherwise error() says why: errno 524 (the map
// type lacks it), EINVAL (a kernel before 5.6, or `c` is no batch command),
// or the probe's own failure, after which support is unknown: EPERM where the
// descriptor's rights forbid the command (a read-only descriptor for the
// three writing commands; a frozen map for update and delete).
//
// The probe is the command with count = 0, which returns before touching an
// element. A probe of a writing command (update, delete, lookup_and_delete)
// still counts as a write to the map while it runs: BPF_MAP_FREEZE from
// another thread fails with EBUSY then (bpf_map_write_active_inc in
// bpf_map_do_batch), and on maps of maps it waits for an RCU grace period
// before returning (maybe_wait_bpf_programs), which can take milliseconds.
BPFBATCH_API result<void> supports_batch(const map& m, command c) noexcept;

}  // namespace bpfbatch
