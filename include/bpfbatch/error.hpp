// Errors: every failure is a std::error_code whose value() is the kernel's
// errno, in a category that also reads the kernel-internal codes.
#pragma once

#include <bpfbatch/config.hpp>

#include <string>
#include <system_error>

#include <bpfbatch/command.hpp>

namespace bpfbatch {

struct map_info;

// The kernel-internal ENOTSUPP. It is not in <errno.h>, so strerror() prints
// "Unknown error 524"; the kernel returns it from bpf(2) when a map type has
// no implementation of a command (for example BPF_MAP_LOOKUP_BATCH on a
// DEVMAP_HASH, see bpf_map_do_batch() in kernel/bpf/syscall.c).
inline constexpr int errno_not_supported = 524;

// The category of every error_code bpfbatch returns. value() is the errno;
// message() is strerror()'s text, or a readable one for kernel-only codes.
// Codes compare equal to std::errc conditions (ENOENT ==
// std::errc::no_such_file_or_directory; 524 == std::errc::not_supported).
BPFBATCH_API const std::error_category& bpf_category() noexcept;

// An error_code in bpf_category() for an errno value (0 gives no error).
BPFBATCH_API std::error_code make_error(int errno_value) noexcept;

// One line naming the map, the command and the error, for people:
// "map 'flows' (id 42, hash): BPF_MAP_LOOKUP_BATCH: No such file or directory".
BPFBATCH_API std::string describe_error(const map_info& map, command failed, std::error_code error);

}  // namespace bpfbatch
