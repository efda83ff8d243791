// batch_buffers: the key, value and resume-token memory of an iteration,
// owned and reusable across iterations, or borrowed from the caller.
#pragma once

#include <bpfbatch/config.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include <bpfbatch/map_info.hpp>
#include <bpfbatch/result.hpp>

namespace bpfbatch {

namespace detail {
class buffers_claim;
}

// A default-made object owns its memory: it grows to what an iteration needs
// and never shrinks, so a caller that passes the same object to each poll
// allocates nothing after the first. borrow() makes one over caller memory
// instead, never allocating: each batch is then at most as large as the
// memory holds.
//
// One iteration at a time may use a batch_buffers object, and it holds the
// memory, not the object: a second generator started on it (or on the object
// it was moved to) while the first is alive stops at once with EBUSY, and
// reserve() answers EBUSY, so nothing can move memory that the first one's
// batch still shows. Moving the object moves the iteration's hold with the
// memory (the iteration goes on with it); destroying or assigning over the
// object that holds it ends the iteration with EINVAL before its next call.
class BPFBATCH_API batch_buffers {
 public:
  batch_buffers() noexcept = default;
  // The moved-from object is left empty, owning and borrowing nothing, and
  // can be used again (it allocates anew).
  batch_buffers(batch_buffers&& other) noexcept;
  batch_buffers& operator=(batch_buffers&& other) noexcept;
  batch_buffers(const batch_buffers&) = delete;
  batch_buffers& operator=(const batch_buffers&) = delete;
  ~batch_buffers();

  // Caller memory, used exactly as given: keys at keys.data(), values at
  // values.data(), the resume tokens at token.data() (two of
  // max(key_size, 4) bytes each). The three must not overlap (EINVAL), must
  // outlive every iteration that uses these buffers, and the kernel must be
  // able to write them: it reports memory it cannot write (a read-only page)
  // with EFAULT only after a lookup-and-delete has removed the elements. So
  // each iteration first has the kernel write every byte it may use (one
  // read(2) of zeros per region), and stops with EFAULT, having called and
  // deleted nothing, where it cannot. Values that start on a 64-byte cache
  // line are copied fastest (owned buffers do): the kernel's copy of large
  // values into a misaligned destination can take three times as long.
  static batch_buffers borrow(std::span<std::byte> keys, std::span<std::byte> values,
                              std::span<std::byte> token) noexcept;

  bool borrowed() const noexcept { return borrowed_; }
  // Bytes held for keys, for values, for the token.
  std::span<std::byte> keys() const noexcept { return keys_; }
  std::span<std::byte> values() const noexcept { return values_; }
  std::span<std::byte> token() const noexcept { return token_; }

  // Makes room for `elements` elements of `info` (and the tokens), keeping
  // the tokens' bytes. Owned buffers grow: ENOMEM when that fails or when
  // the total would not fit in this machine's address space (sizes are
  // summed in 64 bits, so a 32-bit size_t cannot wrap); borrowed ones do
  // not: the result is how many elements fit, at most `elements` (0 when not
  // one element or the tokens fit). EBUSY while an iteration holds them.
  result<std::uint32_t> reserve(const map_info& info, std::uint32_t elements) noexcept;

 private:
  friend class detail::buffers_claim;
  result<std::uint32_t> make_room(const map_info& info, std::uint32_t elements) noexcept;

  std::unique_ptr<std::byte[]> memory_;
  std::span<std::byte> keys_;
  std::span<std::byte> values_;
  std::span<std::byte> token_;
  bool borrowed_ = false;
  detail::buffers_claim* claim_ = nullptr;  // the iteration that holds this memory
};

}  // namespace bpfbatch
