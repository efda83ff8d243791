// iteration_stats: what an iteration did, counted for tests and benchmarks.
#pragma once

#include <bpfbatch/config.hpp>

#include <cstdint>

namespace bpfbatch {

struct iteration_stats {
  std::uint64_t syscalls = 0;          // bpf(2) calls made
  std::uint64_t elements = 0;          // elements yielded
  std::uint64_t batches = 0;           // batches yielded
  std::uint64_t no_space_retries = 0;  // ENOSPC: batch grown and call retried
  std::uint64_t busy_retries = 0;      // EINTR / EBUSY / EDEADLK / ETIMEDOUT: call retried
  bool walked = false;                 // the GET_NEXT_KEY walk (or pops) was used
  bool memory_mapped = false;          // a BPF_F_MMAPABLE array was read through mmap
};

}  // namespace bpfbatch
