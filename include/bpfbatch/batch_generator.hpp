// batch_generator: the batches of one iteration over a map, handed out one at
// a time by a coroutine, as a single-pass input range.
#pragma once

#include <bpfbatch/config.hpp>

#include <coroutine>
#include <cstddef>
#include <iterator>
#include <system_error>
#include <utility>

#include <bpfbatch/batch.hpp>
#include <bpfbatch/command.hpp>
#include <bpfbatch/iteration_stats.hpp>

namespace bpfbatch {

// What lookup_batches() and lookup_and_delete_batches() return:
//
//   auto gen = bpfbatch::lookup_batches(m);
//   for (const bpfbatch::batch& b : gen) use(b);
//   if (gen.error()) ...;
//
// The iteration runs as the loop asks for batches: each step makes the next
// kernel calls. It stops at the first error and keeps it for error() and
// failed_command(), as Go's bufio.Scanner.Err() and cilium/ebpf's
// MapIterator.Err() do; nothing throws.
//
// Single pass: each begin() moves on. The first runs to the first batch; a
// later one (a second loop after a break) continues after the batch already
// yielded and never yields it again. Move-only. Destroying the generator
// before the end (after a break) frees its buffers and descriptor and ends
// the iteration: a drain has then deleted exactly the batches it yielded.
// Destroying or assigning over the generator inside its own loop leaves the
// loop's iterator dangling, as with any range.
//
// Only the library writes the coroutines behind a generator (C++20 has no
// std::generator; this one is internal so that no body can fall off its end
// or throw through it).
class [[nodiscard]] BPFBATCH_API batch_generator {
 public:
  struct promise_type;  // defined inside the library
  using handle_type = std::coroutine_handle<promise_type>;

  class iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = batch;
    using difference_type = std::ptrdiff_t;
    using reference = const batch&;

    iterator() noexcept = default;

    // The batch in hand: valid until the next ++ or the generator's end.
    reference operator*() const noexcept;
    const batch* operator->() const noexcept { return &**this; }
    iterator& operator++() {
      handle_.resume();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.handle_ || it.handle_.done();
    }

   private:
    friend class batch_generator;
    explicit iterator(handle_type handle) noexcept : handle_(handle) {}
    handle_type handle_;
  };

  batch_generator(batch_generator&& other) noexcept;
  batch_generator& operator=(batch_generator&& other) noexcept;
  batch_generator(const batch_generator&) = delete;
  batch_generator& operator=(const batch_generator&) = delete;
  ~batch_generator() { destroy(); }

  // Only on a generator that outlives the loop: an iterator from a
  // temporary generator (`auto it = lookup_batches(m).begin();`) would point
  // into a destroyed coroutine. A range-for over a temporary still works (it
  // binds the generator to a reference for the loop's duration).
  iterator begin() & {
    if (handle_ && !handle_.done()) handle_.resume();
    return iterator(handle_);
  }
  void begin() && = delete;
  std::default_sentinel_t end() const noexcept { return {}; }

  // Whether the iteration has ended (with or without an error).
  bool finished() const noexcept { return !handle_ || handle_.done(); }

  // The error that stopped the iteration; empty while it runs, after a
  // complete iteration, and after an early break.
  std::error_code error() const noexcept;
  // What this iteration has done so far: calls, elements, retries (also
  // added to batch_options::stats when that is set). Read it from the thread
  // that runs the loop, or after the loop.
  iteration_stats stats() const noexcept;
  // The bpf command that failed, or command::none (no command failed, or the
  // error was found before any call: sizes, buffers, an unsupported map type).
  command failed_command() const noexcept;

 private:
  explicit batch_generator(handle_type handle) noexcept : handle_(handle) {}
  batch_generator(std::error_code error, command failed) noexcept
      : early_error_(error), early_command_(failed) {}
  void destroy() noexcept {
    if (handle_) std::exchange(handle_, {}).destroy();
  }

  handle_type handle_;
  // The error of a generator whose coroutine frame could not be allocated.
  std::error_code early_error_;
  command early_command_ = command::none;
};

}  // namespace bpfbatch
