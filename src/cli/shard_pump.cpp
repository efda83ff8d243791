#include "shard_pump.hpp"

#include <algorithm>

namespace bpfbatch::cli {

namespace {

// Holds the pump's mutex for a scope; unlock()/lock() inside it as needed.
class hold {
 public:
  explicit hold(pthread_mutex_t& m) noexcept : m_(m) { lock(); }
  ~hold() {
    if (held_) unlock();
  }
  hold(const hold&) = delete;
  hold& operator=(const hold&) = delete;
  void lock() noexcept {
    ::pthread_mutex_lock(&m_);
    held_ = true;
  }
  void unlock() noexcept {
    held_ = false;
    ::pthread_mutex_unlock(&m_);
  }
  bool held() const noexcept { return held_; }
  // Waits on `c` until `ready()`, the mutex held around each test.
  template <class Ready>
  void wait(pthread_cond_t& c, Ready ready) noexcept {
    while (!ready()) ::pthread_cond_wait(&c, &m_);
  }

 private:
  pthread_mutex_t& m_;
  bool held_ = false;
};

}  // namespace

shard_pump::shard_pump(std::vector<batch_generator>& shards)
    : shards_(shards), ready_(shards.size()), batches_(shards.size(), nullptr), done_(shards.size(), 0) {
  if (shards_.size() > 1 && !start_threads()) threads_.clear();
}

shard_pump::~shard_pump() {
  // Only after next() returned null does nothing wait: the batches still out
  // are let go without being printed (the callers never leave a drain so).
  stop();
  {
    hold lock(mutex_);
    std::fill(done_.begin(), done_.end(), 1);
  }
  ::pthread_cond_broadcast(&batch_done_);
  join_threads();
  ::pthread_cond_destroy(&batch_ready_);
  ::pthread_cond_destroy(&batch_done_);
  ::pthread_mutex_destroy(&mutex_);
}

// Creates every thread with the gate closed, then opens it; or, where one
// cannot be created, tells those that exist to end without reading.
bool shard_pump::start_threads() {
  workers_.reserve(shards_.size());
  threads_.reserve(shards_.size());
  bool created = true;
  for (std::size_t i = 0; i < shards_.size() && created; ++i) {
    workers_.push_back({this, i});
    pthread_t thread;
    created = ::pthread_create(&thread, nullptr, &shard_pump::start, &workers_.back()) == 0;
    if (created) threads_.push_back(thread);
  }
  {
    hold lock(mutex_);
    go_ = true;
    abandon_ = !created;
  }
  ::pthread_cond_broadcast(&batch_done_);
  if (!created) join_threads();
  return created;
}

void shard_pump::join_threads() noexcept {
  for (pthread_t thread : threads_) ::pthread_join(thread, nullptr);
  threads_.clear();
}

void* shard_pump::start(void* w) noexcept {
  auto* self = static_cast<worker*>(w);
  self->pump->run(self->shard);
  return nullptr;
}

void shard_pump::run(std::size_t shard) {
  batch_generator& gen = shards_[shard];
  hold lock(mutex_);
  lock.wait(batch_done_, [&] { return go_; });
  if (abandon_) return;
  if (!stopping_) {
    lock.unlock();
    for (const batch& b : gen) {
      lock.lock();
      ready_[(ready_first_ + ready_count_++) % ready_.size()] = shard;
      batches_[shard] = &b;
      ::pthread_cond_signal(&batch_ready_);
      lock.wait(batch_done_, [&] { return done_[shard] != 0; });
      done_[shard] = 0;
      if (stopping_) break;  // without advancing: a drain deletes nothing more
      lock.unlock();
    }
    if (!lock.held()) lock.lock();
  }
  if (gen.error()) failed_seen_ = true;
  ++ended_;
  ::pthread_cond_signal(&batch_ready_);
}

const batch* shard_pump::next() {
  if (threads_.empty()) return next_in_place();
  hold lock(mutex_);
  if (holding_) {
    done_[current_] = 1;
    holding_ = false;
    ::pthread_cond_broadcast(&batch_done_);
  }
  lock.wait(batch_ready_, [&] { return ready_count_ > 0 || ended_ == shards_.size(); });
  if (failed_seen_) stopping_ = true;  // a shard's error stops the others
  if (ready_count_ == 0) {
    // Every shard has ended: join them now, as the caller may exit() next.
    lock.unlock();
    join_threads();
    in_place_shard_ = shards_.size();  // nothing is left to read in place either
    return nullptr;
  }
  current_ = ready_[ready_first_];
  ready_first_ = (ready_first_ + 1) % ready_.size();
  --ready_count_;
  holding_ = true;
  return batches_[current_];
}

// One shard after another on this thread; a shard that ends with an error
// ends the reading, as with threads.
const batch* shard_pump::next_in_place() {
  while (in_place_shard_ < shards_.size()) {
    batch_generator& gen = shards_[in_place_shard_];
    if (!started_) {
      started_ = true;
      in_place_ = gen.begin();
    } else if (!stopping_ && in_place_ != std::default_sentinel) {
      ++in_place_;
    }
    if (in_place_ != std::default_sentinel && !stopping_) return &*in_place_;
    if (stopping_ || gen.error()) break;
    ++in_place_shard_;
    started_ = false;
  }
  return nullptr;
}

void shard_pump::stop() noexcept {
  hold lock(mutex_);
  stopping_ = true;
}

const batch_generator* shard_pump::failed() const noexcept {
  for (const auto& shard : shards_)
    if (shard.error()) return &shard;
  return nullptr;
}

}  // namespace bpfbatch::cli
