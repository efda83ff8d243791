// How the tool reads a map on several threads (--threads): each shard's
// generator runs on a thread of its own, and hands its batches one at a time
// to the thread that prints them.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <vector>

#include <bpfbatch/batch.hpp>
#include <bpfbatch/batch_generator.hpp>

namespace bpfbatch::cli {

// A shard goes on to its next batch (and a drain's next delete) only after
// the printing thread has asked for another batch, so a drain deletes
// nothing it has not printed or put back first, as it does on one thread.
//
// No shard starts before every thread exists: where one cannot be created
// (a pids limit, RLIMIT_NPROC), none has read anything, and the shards are
// read one after another on the calling thread instead. With one shard no
// thread is started at all.
//
// Threads are started by the constructor: they inherit its signal mask
// (the stop signals blocked, see signals.hpp), so the signals still reach
// the printing thread, between batches.
class shard_pump {
 public:
  explicit shard_pump(std::vector<batch_generator>& shards);
  ~shard_pump();
  shard_pump(const shard_pump&) = delete;
  shard_pump& operator=(const shard_pump&) = delete;

  // The next batch of any shard, in the order they come, or null once every
  // shard has ended (their threads are then joined). The batch returned
  // before is then done with: its shard goes on, unless stop() was called.
  // After stop(), next() still returns the batches the shards were reading
  // at that moment (a drain has deleted them), then null.
  const batch* next();

  // No shard reads past the batch it is reading now. Also called by next()
  // when a shard ends with an error, so that the others stop.
  void stop() noexcept;

  // The first shard that ended with an error, once next() has returned null.
  const batch_generator* failed() const noexcept;

 private:
  struct worker {
    shard_pump* pump;
    std::size_t shard;
  };
  static void* start(void* w) noexcept;
  void run(std::size_t shard);
  bool start_threads();
  void join_threads() noexcept;
  const batch* next_in_place();

  std::vector<batch_generator>& shards_;
  std::vector<worker> workers_;
  std::vector<pthread_t> threads_;
  // pthread's own, not std::mutex: nothing here can throw, and the static
  // tool does not take in std::system_error's machinery for them.
  pthread_mutex_t mutex_ = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t batch_ready_ = PTHREAD_COND_INITIALIZER;
  pthread_cond_t batch_done_ = PTHREAD_COND_INITIALIZER;
  bool go_ = false;       // every thread exists: the shards may start
  bool abandon_ = false;  // a thread could not be created: the others end unstarted
  // A ring of the shards whose batch waits to be printed: each shard has at
  // most one, so it never holds more than the shards.
  std::vector<std::size_t> ready_;
  std::vector<const batch*> batches_;
  std::size_t ready_first_ = 0, ready_count_ = 0;
  std::vector<char> done_;  // per shard: its batch was printed, go on
  std::size_t current_ = 0;
  bool holding_ = false;  // a batch of shard current_ is out
  std::size_t ended_ = 0;
  bool stopping_ = false;
  bool failed_seen_ = false;  // a shard ended with an error
  // Without threads: the shard being read, and where.
  std::size_t in_place_shard_ = 0;
  batch_generator::iterator in_place_;
  bool started_ = false;
};

}  // namespace bpfbatch::cli
