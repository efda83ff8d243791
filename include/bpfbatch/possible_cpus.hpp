// The number of possible CPUs: the number of values the kernel copies for
// each element of a per-CPU map.
#pragma once

#include <bpfbatch/config.hpp>

#include <cstdint>
#include <string_view>
#include <system_error>

#include <bpfbatch/result.hpp>

namespace bpfbatch {

// The count of CPUs listed in /sys/devices/system/cpu/possible, read once and
// cached (thread-safe). The kernel sizes per-CPU values by
// num_possible_cpus(), not by the online CPUs: a machine whose list reads
// "0-3,8-11" gets 8 values per element, one after another. A failure (no
// /sys in a container, say) is returned and not cached, as an error in
// possible_cpus_category(): its value() is the errno, and its message names
// the file ("/sys/devices/system/cpu/possible: No such file or directory"),
// so that a per-CPU map that cannot be opened for want of it does not read
// as a missing map.
BPFBATCH_API result<std::uint32_t> possible_cpus() noexcept;

// The category of possible_cpus() errors. They compare equal to the
// std::errc of their errno.
BPFBATCH_API const std::error_category& possible_cpus_category() noexcept;

// Parses a kernel CPU list ("0", "0-3", "0-3,8-11", with an optional trailing
// newline) and returns how many CPUs it lists. Malformed text, descending
// ranges and an empty list give EINVAL.
BPFBATCH_API result<std::uint32_t> parse_cpu_list(std::string_view text) noexcept;

}  // namespace bpfbatch
