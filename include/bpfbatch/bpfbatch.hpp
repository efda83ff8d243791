// bpfbatch: read and write eBPF maps in batches, through the raw bpf(2) syscall.
#pragma once

#include <bpfbatch/config.hpp>

#include <bpfbatch/batch.hpp>
#include <bpfbatch/batch_buffers.hpp>
#include <bpfbatch/batch_generator.hpp>
#include <bpfbatch/batch_options.hpp>
#include <bpfbatch/batch_support.hpp>
#include <bpfbatch/btf.hpp>
#include <bpfbatch/btf_format.hpp>
#include <bpfbatch/command.hpp>
#include <bpfbatch/drain.hpp>
#include <bpfbatch/error.hpp>
#include <bpfbatch/iteration_stats.hpp>
#include <bpfbatch/lookup.hpp>
#include <bpfbatch/map.hpp>
#include <bpfbatch/map_info.hpp>
#include <bpfbatch/possible_cpus.hpp>
#include <bpfbatch/result.hpp>
#include <bpfbatch/shards.hpp>
#include <bpfbatch/unique_fd.hpp>
#include <bpfbatch/write.hpp>
