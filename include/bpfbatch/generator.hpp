// generator<T>: a coroutine that yields `const T&` one at a time and keeps
// the error that stopped it, as Go's bufio.Scanner.Err() and cilium/ebpf's
// MapIterator.Err() do. C++20 has no std::generator; this one is small, an
// input range, and works with -fno-exceptions.
#pragma once

#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <iterator>
#include <memory>
#include <new>
#include <system_error>
#include <utility>

#include <bpfbatch/command.hpp>
#include <bpfbatch/error.hpp>

namespace bpfbatch {

// How a generator's coroutine ended. An empty error after a complete run.
struct stop_reason {
  std::error_code error;
  command failed_command = command::none;
};

template <class T>
class [[nodiscard]] generator {
 public:
  struct promise_type;
  using handle_type = std::coroutine_handle<promise_type>;

  struct promise_type {
    const T* current = nullptr;
    stop_reason stopped;

    generator get_return_object() noexcept { return generator(handle_type::from_promise(*this)); }

    // The frame is allocated without throwing; when that fails the caller
    // gets an empty generator whose error() is ENOMEM.
    static void* operator new(std::size_t size) noexcept { return ::operator new(size, std::nothrow); }
    static void operator delete(void* frame) noexcept { ::operator delete(frame); }
    static generator get_return_object_on_allocation_failure() noexcept {
      return generator(stop_reason{make_error(ENOMEM), command::none});
    }

    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_always final_suspend() const noexcept { return {}; }
    std::suspend_always yield_value(const T& value) noexcept {
      current = std::addressof(value);
      return {};
    }
    void return_value(stop_reason reason) noexcept { stopped = reason; }
    void unhandled_exception() {
#if defined(__cpp_exceptions)
      throw;  // to the caller of begin() or operator++
#else
      std::terminate();
#endif
    }
    // A generator's body only yields; it never awaits.
    template <class U>
    std::suspend_never await_transform(U&&) = delete;
  };

  class iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = const T&;

    iterator() noexcept = default;

    reference operator*() const noexcept { return *handle_.promise().current; }
    const T* operator->() const noexcept { return handle_.promise().current; }
    iterator& operator++() {
      handle_.resume();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.handle_ || it.handle_.done();
    }

   private:
    friend class generator;
    explicit iterator(handle_type handle) noexcept : handle_(handle) {}
    handle_type handle_;
  };

  generator(generator&& other) noexcept
      : handle_(std::exchange(other.handle_, {})), started_(other.started_), orphan_(other.orphan_) {}
  generator& operator=(generator&& other) noexcept {
    if (this != &other) {
      destroy();
      handle_ = std::exchange(other.handle_, {});
      started_ = other.started_;
      orphan_ = other.orphan_;
    }
    return *this;
  }
  generator(const generator&) = delete;
  generator& operator=(const generator&) = delete;
  // Destroying the generator before the end (an early break) frees the frame
  // and everything the coroutine owns.
  ~generator() { destroy(); }

  // Runs the coroutine to its first yield. A generator is a single-pass
  // range: a second begin() continues where the first iteration stopped.
  iterator begin() {
    if (handle_ && !started_) {
      started_ = true;
      handle_.resume();
    }
    return iterator(handle_);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

  // Whether the coroutine has run to its end (with or without an error).
  bool finished() const noexcept { return !handle_ || handle_.done(); }

  // The error that stopped the iteration; empty while it runs, after a
  // complete iteration, and after an early break.
  std::error_code error() const noexcept { return reason().error; }
  // The bpf command that failed, or command::none.
  command failed_command() const noexcept { return reason().failed_command; }

 private:
  explicit generator(handle_type handle) noexcept : handle_(handle) {}
  explicit generator(stop_reason orphan) noexcept : started_(true), orphan_(orphan) {}

  const stop_reason& reason() const noexcept {
    return handle_ && handle_.done() ? handle_.promise().stopped : orphan_;
  }
  void destroy() noexcept {
    if (handle_) std::exchange(handle_, {}).destroy();
  }

  handle_type handle_;
  bool started_ = false;
  stop_reason orphan_;  // the error of a generator whose frame was never made
};

}  // namespace bpfbatch
