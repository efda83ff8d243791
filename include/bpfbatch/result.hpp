// result<T>: a value or a std::error_code, shaped like
// std::expected<T, std::error_code> (which C++20 lacks). Nothing here throws
// unless the caller asks for value() of an error in a build with exceptions.
#pragma once

#include <bpfbatch/config.hpp>

#include <cstdlib>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

namespace bpfbatch {

namespace detail {
[[noreturn]] inline void bad_result_access(std::error_code error) {
#if defined(__cpp_exceptions)
  throw std::system_error(error);
#else
  (void)error;
  std::abort();
#endif
}
}  // namespace detail

template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;

  result(const T& value) : value_(value) {}  // NOLINT: implicit like expected
  result(T&& value) noexcept(std::is_nothrow_move_constructible_v<T>) : value_(std::move(value)) {}
  // An error; an empty error_code is not allowed and is turned into EINVAL so
  // that a result never claims to hold a value it does not have.
  result(std::error_code error) noexcept  // NOLINT: implicit like unexpected
      : error_(error ? error : std::make_error_code(std::errc::invalid_argument)) {}

  explicit operator bool() const noexcept { return value_.has_value(); }
  bool has_value() const noexcept { return value_.has_value(); }

  // Preconditions: has_value().
  T& operator*() & noexcept { return *value_; }
  const T& operator*() const& noexcept { return *value_; }
  T&& operator*() && noexcept { return std::move(*value_); }
  T* operator->() noexcept { return &*value_; }
  const T* operator->() const noexcept { return &*value_; }

  // The value, or std::system_error(error()) (std::abort() without exceptions).
  T& value() & {
    if (!value_) detail::bad_result_access(error_);
    return *value_;
  }
  const T& value() const& {
    if (!value_) detail::bad_result_access(error_);
    return *value_;
  }
  T&& value() && {
    if (!value_) detail::bad_result_access(error_);
    return std::move(*value_);
  }

  template <class U>
  T value_or(U&& fallback) const& {
    return value_ ? *value_ : static_cast<T>(std::forward<U>(fallback));
  }

  // The error; an empty error_code when the result holds a value.
  std::error_code error() const noexcept { return error_; }

 private:
  std::optional<T> value_;
  std::error_code error_;
};

// Success or an error, for operations that return nothing else.
template <>
class [[nodiscard]] result<void> {
 public:
  using value_type = void;

  result() noexcept = default;
  result(std::error_code error) noexcept : error_(error) {}  // NOLINT

  explicit operator bool() const noexcept { return !error_; }
  bool has_value() const noexcept { return !error_; }
  void value() const {
    if (error_) detail::bad_result_access(error_);
  }
  std::error_code error() const noexcept { return error_; }

 private:
  std::error_code error_;
};

}  // namespace bpfbatch
