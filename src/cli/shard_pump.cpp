#include "shard_pump.hpp"

namespace bpfbatch::cli {

shard_pump::shard_pump(std::vector<batch_generator>& shards)
    : shards_(shards),
      ready_(shards.size()),
      batches_(shards.size(), nullptr),
      done_(shards.size(), 0) {
  if (shards_.size() < 2) return;
  threads_.reserve(shards_.size());
  for (std::size_t i = 0; i < shards_.size(); ++i) threads_.emplace_back([this, i] { run(i); });
}

shard_pump::~shard_pump() {
  // Only after next() returned null does nothing wait: the batches still out
  // are let go without being printed (the callers never leave a drain so).
  stop();
  {
    std::lock_guard lock(mutex_);
    std::fill(done_.begin(), done_.end(), 1);
  }
  batch_done_.notify_all();
  for (auto& t : threads_) t.join();
}

void shard_pump::run(std::size_t shard) {
  batch_generator& gen = shards_[shard];
  std::unique_lock lock(mutex_);
  if (!stopping_) {
    lock.unlock();
    for (const batch& b : gen) {
      lock.lock();
      ready_[(ready_first_ + ready_count_++) % ready_.size()] = shard;
      batches_[shard] = &b;
      batch_ready_.notify_one();
      batch_done_.wait(lock, [&] { return done_[shard] != 0; });
      done_[shard] = 0;
      if (stopping_) break;  // without advancing: a drain deletes nothing more
      lock.unlock();
    }
    if (!lock.owns_lock()) lock.lock();
  }
  if (gen.error()) failed_seen_ = true;
  ++ended_;
  batch_ready_.notify_one();
}

const batch* shard_pump::next() {
  if (shards_.size() < 2) return next_in_place();
  if (threads_.empty()) return nullptr;  // joined: every shard has ended
  std::unique_lock lock(mutex_);
  if (holding_) {
    done_[current_] = 1;
    holding_ = false;
    batch_done_.notify_all();
  }
  batch_ready_.wait(lock, [&] { return ready_count_ > 0 || ended_ == shards_.size(); });
  if (failed_seen_) stopping_ = true;  // a shard's error stops the others
  if (ready_count_ == 0) {
    // Every shard has ended: join them now, as the caller may exit() next.
    lock.unlock();
    for (auto& t : threads_) t.join();
    threads_.clear();
    return nullptr;
  }
  current_ = ready_[ready_first_];
  ready_first_ = (ready_first_ + 1) % ready_.size();
  --ready_count_;
  holding_ = true;
  return batches_[current_];
}

const batch* shard_pump::next_in_place() {
  if (shards_.empty()) return nullptr;
  batch_generator& gen = shards_.front();
  if (!started_) {
    started_ = true;
    in_place_ = gen.begin();
  } else if (!stopping_ && in_place_ != std::default_sentinel) {
    ++in_place_;
  } else {
    return nullptr;
  }
  return in_place_ == std::default_sentinel ? nullptr : &*in_place_;
}

void shard_pump::stop() noexcept {
  std::lock_guard lock(mutex_);
  stopping_ = true;
}

const batch_generator* shard_pump::failed() const noexcept {
  for (const auto& shard : shards_)
    if (shard.error()) return &shard;
  return nullptr;
}

}  // namespace bpfbatch::cli
