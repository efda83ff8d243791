// default_batch_size(), batch_buffers and owned_batch: the memory batches live in.
#include <bpfbatch/batch.hpp>
#include <bpfbatch/batch_buffers.hpp>
#include <bpfbatch/batch_options.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

#include <bpfbatch/error.hpp>

#include "buffers_claim.hpp"
#include "sizes.hpp"

namespace bpfbatch {

namespace {

// 1024 to 4096 elements per call are within a few percent of the kernel's
// best on hash and array maps (see tests/bench); a larger batch gains nothing
// and costs memory.
constexpr std::uint64_t preferred_batch_elements = 4096;
// Bounds the buffers of a default batch, which matters for per-CPU maps on
// machines with many possible CPUs (value_size rounded up to 8, times CPUs).
constexpr std::uint64_t default_batch_memory = std::uint64_t{1} << 20;

}  // namespace

std::uint32_t default_batch_size(const map_info& info) noexcept {
  const std::uint64_t per_element = std::max<std::uint64_t>(info.key_size + info.value_bytes(), 1);
  std::uint64_t elements = std::min(preferred_batch_elements, default_batch_memory / per_element);
  if (info.max_entries > 0) elements = std::min<std::uint64_t>(elements, info.max_entries);
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(elements, 1));
}

batch_buffers::batch_buffers(batch_buffers&& other) noexcept
    : memory_(std::move(other.memory_)),
      keys_(std::exchange(other.keys_, {})),
      values_(std::exchange(other.values_, {})),
      token_(std::exchange(other.token_, {})),
      borrowed_(std::exchange(other.borrowed_, false)),
      claim_(std::exchange(other.claim_, nullptr)) {
  if (claim_ != nullptr) claim_->follow(this);
}

batch_buffers& batch_buffers::operator=(batch_buffers&& other) noexcept {
  if (this != &other) {
    // The memory given up here may be what an iteration reads into: it
    // stops before its next call.
    if (claim_ != nullptr) claim_->follow(nullptr);
    memory_ = std::move(other.memory_);
    keys_ = std::exchange(other.keys_, {});
    values_ = std::exchange(other.values_, {});
    token_ = std::exchange(other.token_, {});
    borrowed_ = std::exchange(other.borrowed_, false);
    claim_ = std::exchange(other.claim_, nullptr);
    if (claim_ != nullptr) claim_->follow(this);
  }
  return *this;
}

batch_buffers::~batch_buffers() {
  if (claim_ != nullptr) claim_->follow(nullptr);
}

batch_buffers batch_buffers::borrow(std::span<std::byte> keys, std::span<std::byte> values,
                                    std::span<std::byte> token) noexcept {
  batch_buffers buffers;
  buffers.keys_ = keys;
  buffers.values_ = values;
  buffers.token_ = token;
  buffers.borrowed_ = true;
  return buffers;
}

result<std::uint32_t> batch_buffers::reserve(const map_info& info, std::uint32_t elements) noexcept {
  if (claim_ != nullptr) return make_error(EBUSY);
  return make_room(info, elements);
}

result<std::uint32_t> batch_buffers::make_room(const map_info& info, std::uint32_t elements) noexcept {
  std::uint64_t key_need = 0, value_need = 0;
  if (!detail::multiply(elements, info.key_size, key_need) ||
      !detail::multiply(elements, info.value_bytes(), value_need))
    return make_error(ENOMEM);
  const std::uint64_t token_need = detail::token_bytes(info);

  if (borrowed_) {
    if (token_.size() < token_need) return std::uint32_t{0};
    std::uint64_t fit = elements;
    if (info.key_size > 0) fit = std::min<std::uint64_t>(fit, keys_.size() / info.key_size);
    if (info.value_bytes() > 0) fit = std::min<std::uint64_t>(fit, values_.size() / info.value_bytes());
    return static_cast<std::uint32_t>(fit);
  }

  if (memory_ && key_need <= keys_.size() && value_need <= values_.size() && token_need <= token_.size())
    return elements;

  // One block: token, keys, values, each starting on a cache line (see
  // detail::block_layout). It grows to the largest need seen and never
  // shrinks, so a reused object stops allocating.
  const auto layout = detail::block_layout::plan(std::max<std::uint64_t>(token_need, token_.size()),
                                                 std::max<std::uint64_t>(key_need, keys_.size()),
                                                 std::max<std::uint64_t>(value_need, values_.size()));
  if (!layout) return layout.error();
  std::unique_ptr<std::byte[]> block(new (std::nothrow) std::byte[layout->allocation]);
  if (!block) return make_error(ENOMEM);
  std::byte* start = detail::align_to_cache_line(block.get());
  // Keep the token: an ENOSPC retry grows the buffers between two calls that
  // resume from the same place.
  if (!token_.empty()) std::memcpy(start, token_.data(), token_.size());
  token_ = {start, layout->token};
  keys_ = {start + layout->token, layout->keys};
  values_ = {start + layout->token + layout->keys, layout->values};
  memory_ = std::move(block);
  return elements;
}

owned_batch::owned_batch(std::unique_ptr<std::byte[]> memory, const batch& from) noexcept
    : memory_(std::move(memory)),
      view_(memory_.get(), memory_.get() + from.keys().size(), from.size(), from.key_size_, from.value_size_,
            from.stride_, from.copies_) {}

result<owned_batch> owned_batch::copy_of(const batch& b) noexcept {
  const auto keys = b.keys();
  const auto values = b.values();
  // Both sizes already exist in memory, so their sum fits unless it is the
  // whole address space; the check costs nothing.
  if (keys.size() > SIZE_MAX - values.size()) return make_error(ENOMEM);
  std::unique_ptr<std::byte[]> memory(new (std::nothrow)
                                          std::byte[std::max<std::size_t>(keys.size() + values.size(), 1)]);
  if (!memory) return make_error(ENOMEM);
  if (!keys.empty()) std::memcpy(memory.get(), keys.data(), keys.size());
  if (!values.empty()) std::memcpy(memory.get() + keys.size(), values.data(), values.size());
  return owned_batch(std::move(memory), b);
}

owned_batch::owned_batch(owned_batch&& other) noexcept
    : memory_(std::move(other.memory_)),
      view_(other.view_.keys_, other.view_.values_, other.view_.count_, other.view_.key_size_,
            other.view_.value_size_, other.view_.stride_, other.view_.copies_) {
  other.view_.count_ = 0;
  other.view_.keys_ = other.view_.values_ = nullptr;
}

owned_batch& owned_batch::operator=(owned_batch&& other) noexcept {
  if (this != &other) {
    memory_ = std::move(other.memory_);
    view_.keys_ = std::exchange(other.view_.keys_, nullptr);
    view_.values_ = std::exchange(other.view_.values_, nullptr);
    view_.count_ = std::exchange(other.view_.count_, 0);
    view_.value_bytes_ = other.view_.value_bytes_;
    view_.stride_ = other.view_.stride_;
    view_.key_size_ = other.view_.key_size_;
    view_.value_size_ = other.view_.value_size_;
    view_.copies_ = other.view_.copies_;
  }
  return *this;
}

}  // namespace bpfbatch
