// batch_generator's members that need its promise, which stays inside the library.
#include <bpfbatch/batch_generator.hpp>

#include "batch_generator_promise.hpp"

namespace bpfbatch {

batch_generator::batch_generator(batch_generator&& other) noexcept
    : handle_(std::exchange(other.handle_, {})),
      early_error_(other.early_error_),
      early_command_(other.early_command_) {}

batch_generator& batch_generator::operator=(batch_generator&& other) noexcept {
  if (this != &other) {
    destroy();
    handle_ = std::exchange(other.handle_, {});
    early_error_ = other.early_error_;
    early_command_ = other.early_command_;
  }
  return *this;
}

const batch& batch_generator::iterator::operator*() const noexcept { return *handle_.promise().current; }

std::error_code batch_generator::error() const noexcept {
  return handle_ && handle_.done() ? handle_.promise().stopped.error : early_error_;
}

iteration_stats batch_generator::stats() const noexcept {
  return handle_ ? handle_.promise().counts : iteration_stats{};
}

command batch_generator::failed_command() const noexcept {
  return handle_ && handle_.done() ? handle_.promise().stopped.failed : early_command_;
}

}  // namespace bpfbatch
