// Internal: the coroutine promise behind batch_generator, for the library's
// own coroutine bodies (iterate.cpp) and the tests.
#pragma once

#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <new>
#include <system_error>

#include <bpfbatch/batch.hpp>
#include <bpfbatch/batch_generator.hpp>
#include <bpfbatch/command.hpp>
#include <bpfbatch/error.hpp>
#include <bpfbatch/iteration_stats.hpp>

namespace bpfbatch {

namespace detail {

// How a generator's coroutine ended: an empty error after a complete run.
// Every body ends with co_return stop_reason{...}.
struct stop_reason {
  std::error_code error;
  command failed = command::none;
};

// Makes the batches the library yields: count elements, which the buffers
// hold (never trusted blindly: a count past them is cut to what they hold).
struct batch_access {
  static batch make(const map_info& info, std::span<const std::byte> keys, std::span<const std::byte> values,
                    std::size_t count) noexcept {
    if (info.key_size > 0) count = std::min<std::size_t>(count, keys.size() / info.key_size);
    const std::uint64_t value_bytes = info.value_bytes();
    if (value_bytes > 0) count = std::min<std::size_t>(count, values.size() / value_bytes);
    return batch(keys.data(), values.data(), count, info.key_size, info.value_size,
                 static_cast<std::size_t>(info.per_cpu_stride()), info.value_copies);
  }
};

}  // namespace detail

namespace detail {
struct iteration_request;
}

struct batch_generator::promise_type {
  const batch* current = nullptr;
  detail::stop_reason stopped;
  // What stats() shows. The library's bodies count into it (the promise
  // points their options at it), and each yield and the end add what is new
  // to the caller's own iteration_stats, if any.
  iteration_stats counts;
  iteration_stats reported;
  iteration_stats* caller_stats = nullptr;

  promise_type() noexcept = default;
  // iterate()'s body (iterate.cpp): the coroutine's copy of its request.
  // Hidden: only the library calls it, so the shared library keeps it in.
  [[gnu::visibility("hidden")]] explicit promise_type(detail::iteration_request& request) noexcept;

  batch_generator get_return_object() noexcept { return batch_generator(handle_type::from_promise(*this)); }

  // The frame is allocated without throwing; when that fails the caller
  // gets a generator that has ended with ENOMEM.
  static void* operator new(std::size_t size) noexcept { return ::operator new(size, std::nothrow); }
  static void operator delete(void* frame) noexcept { ::operator delete(frame); }
  static batch_generator get_return_object_on_allocation_failure() noexcept {
    return batch_generator(make_error(ENOMEM), command::none);
  }

  std::suspend_always initial_suspend() const noexcept { return {}; }
  std::suspend_always final_suspend() const noexcept { return {}; }
  std::suspend_always yield_value(const batch& value) noexcept {
    current = &value;
    report();
    return {};
  }
  void return_value(detail::stop_reason reason) noexcept {
    stopped = reason;
    report();
  }
  void report() noexcept {
    if (caller_stats == nullptr) return;
    caller_stats->syscalls += counts.syscalls - reported.syscalls;
    caller_stats->elements += counts.elements - reported.elements;
    caller_stats->batches += counts.batches - reported.batches;
    caller_stats->no_space_retries += counts.no_space_retries - reported.no_space_retries;
    caller_stats->busy_retries += counts.busy_retries - reported.busy_retries;
    caller_stats->walked = caller_stats->walked || counts.walked;
    caller_stats->memory_mapped = caller_stats->memory_mapped || counts.memory_mapped;
    reported = counts;
  }
  // The library's bodies call nothing that throws. Should one ever throw,
  // the iteration ends with an error rather than passing for complete.
  void unhandled_exception() noexcept { stopped = {make_error(ENOTRECOVERABLE), command::none}; }
  // A generator's body only yields; it never awaits.
  template <class U>
  std::suspend_never await_transform(U&&) = delete;
};

}  // namespace bpfbatch
