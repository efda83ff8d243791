// Fault injection for bpf(2) with seccomp, in forked children.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>

namespace support {

// Runs `scenario` in a forked child (seccomp filters cannot be removed) and
// returns what it reported: empty when every expectation held.
std::string in_child(const std::function<std::string()>& scenario);

// From now on, in this process, bpf(2) calls whose command is one of
// `commands` fail with `error` (SECCOMP_RET_ERRNO, keyed on args[0]); every
// other bpf command and system call works. Returns false if the filter could
// not be installed.
bool inject_bpf_error(std::initializer_list<int> commands, int error);

// From now on, in this process and what it executes, no thread can be
// created (clone with CLONE_THREAD: EAGAIN). Returns false if the filter
// could not be installed.
bool refuse_new_threads();

}  // namespace support
