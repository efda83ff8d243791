// Internal: an iteration's hold on the memory of a batch_buffers object.
#pragma once

#include <bpfbatch/batch_buffers.hpp>
#include <bpfbatch/error.hpp>
#include <bpfbatch/map_info.hpp>
#include <bpfbatch/result.hpp>

namespace bpfbatch::detail {

// Lives in the iteration's coroutine frame. While it does, the memory it
// holds cannot be grown by anyone else (reserve(): EBUSY) or claimed by a
// second iteration (EBUSY); it follows the memory when the object is moved,
// and learns (owner() becomes null) when the object holding the memory is
// destroyed or assigned over, so that the iteration stops before the kernel
// writes into memory it no longer holds.
class buffers_claim {
 public:
  explicit buffers_claim(batch_buffers& buffers) noexcept
      : owner_(buffers.claim_ == nullptr ? &buffers : nullptr) {
    if (owner_ != nullptr) owner_->claim_ = this;
  }
  buffers_claim(const buffers_claim&) = delete;
  buffers_claim& operator=(const buffers_claim&) = delete;
  ~buffers_claim() {
    if (owner_ != nullptr) owner_->claim_ = nullptr;
  }

  // The object that holds the memory now, or null once it is gone.
  batch_buffers* owner() const noexcept { return owner_; }
  void follow(batch_buffers* owner) noexcept { owner_ = owner; }

  // The iteration's own growth (an ENOSPC retry).
  result<std::uint32_t> make_room(const map_info& info, std::uint32_t elements) noexcept {
    if (owner_ == nullptr) return make_error(EINVAL);
    return owner_->make_room(info, elements);
  }

 private:
  batch_buffers* owner_;
};

}  // namespace bpfbatch::detail
