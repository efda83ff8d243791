// lookup_batches() and lookup_and_delete_batches(): one coroutine, one loop,
// yielding what the chosen reader (readers.hpp) leaves in the buffers.
#include <fcntl.h>

#include <cerrno>

#include <bpfbatch/batch_support.hpp>
#include <bpfbatch/drain.hpp>
#include <bpfbatch/error.hpp>
#include <bpfbatch/lookup.hpp>

#include "batch_generator_promise.hpp"
#include "buffers_claim.hpp"
#include "kernel_rules.hpp"
#include "readers.hpp"

namespace bpfbatch {

namespace detail {

// Everything an iteration starts from. fd is the iteration's own duplicate
// of the map's descriptor (or none, with the errno of the failed
// duplication): the map object the caller passed may be closed or moved
// while the generator lives.
struct iteration_request {
  command batch_command;
  unique_fd fd;
  int dup_error;
  map_info info;
  batch_options options;
  batch_buffers* caller_buffers;
  shard_range range;
};

}  // namespace detail

// The body counts into the promise (see stats()); the caller's stats, if
// any, get the counts at each yield.
batch_generator::promise_type::promise_type(detail::iteration_request& request) noexcept
    : caller_stats(request.options.stats) {
  request.options.stats = &counts;
}

namespace {

using detail::stop_reason;

batch_generator iterate(detail::iteration_request request) {
  if (!request.fd) co_return stop_reason{make_error(request.dup_error), command::none};
  // A shard with nothing to read touches neither buffers nor the map.
  if (request.range.empty()) co_return stop_reason{};
  const map_info& info = request.info;
  const batch_options& options = request.options;
  batch_buffers own_buffers;
  batch_buffers& buffers = request.caller_buffers != nullptr ? *request.caller_buffers : own_buffers;
  detail::buffers_claim claim(buffers);
  if (claim.owner() == nullptr) co_return stop_reason{make_error(EBUSY), command::none};
  iteration_stats& stats = *options.stats;  // the promise's counts

  const bool drain = request.batch_command == command::map_lookup_and_delete_batch;
  const auto capacity = detail::prepare(info, options, claim, drain);
  if (!capacity) co_return stop_reason{capacity.error(), command::none};
  detail::read_context context{request.fd.get(), info, options, claim, stats, *capacity, request.range};
  detail::reader reader(context, request.batch_command);
  while (true) {
    const detail::read_step step = reader.next();
    if (step.count > 0) {
      ++stats.batches;
      stats.elements += step.count;
      const batch_buffers& holder = context.buffers();  // where the memory is now
      const batch current = detail::batch_access::make(info, holder.keys(), holder.values(), step.count);
      co_yield current;
    }
    if (step.finished) co_return stop_reason{step.error, step.failed};
  }
}

batch_generator start(command batch_command, const map& m, batch_options options, batch_buffers* buffers) {
  return detail::start_iteration(batch_command, m, options, buffers, {});
}

}  // namespace

batch_generator detail::start_iteration(command batch_command, const map& m, batch_options options,
                                        batch_buffers* buffers, shard_range range) {
  const int copy = ::fcntl(m.fd(), F_DUPFD_CLOEXEC, 0);
  const int dup_error = copy < 0 ? errno : 0;
  return iterate({batch_command, unique_fd(copy), dup_error, m.info(), options, buffers, range});
}

batch_generator lookup_batches(const map& m, batch_options options) {
  return start(command::map_lookup_batch, m, options, nullptr);
}

batch_generator lookup_batches(const map& m, batch_buffers& buffers, batch_options options) {
  return start(command::map_lookup_batch, m, options, &buffers);
}

batch_generator lookup_and_delete_batches(const map& m, batch_options options) {
  return start(command::map_lookup_and_delete_batch, m, options, nullptr);
}

batch_generator lookup_and_delete_batches(const map& m, batch_buffers& buffers, batch_options options) {
  return start(command::map_lookup_and_delete_batch, m, options, &buffers);
}

result<void> supports_batch(const map& m, command c) noexcept {
  switch (c) {
    case command::map_lookup_batch:
    case command::map_lookup_and_delete_batch:
    case command::map_update_batch:
    case command::map_delete_batch:
      break;
    default:
      return make_error(EINVAL);
  }
  return make_error(detail::probe_batch_command(m.fd(), c));
}

result<drain_method> drain_method_of(const map& m) noexcept {
  const map_type type = m.info().type;
  if (!detail::can_be_drained(type)) return drain_method::impossible;
  if (detail::is_queue_or_stack(type)) return drain_method::pop;
  int err = detail::probe_batch_command(m.fd(), command::map_lookup_and_delete_batch);
  // A descriptor that may not write (read-only, or a frozen map) cannot
  // probe the drain itself; the hash family gained the lookup batch in the
  // same release as the lookup-and-delete batch (5.6; maps of maps about
  // 5.19), and no other type has the latter.
  if (err == EPERM) {
    err = detail::is_hash_family(type) ? detail::probe_batch_command(m.fd(), command::map_lookup_batch)
                                       : errno_not_supported;
  }
  if (err == 0) return drain_method::batch_command;
  if (err == errno_not_supported || err == EINVAL) return drain_method::lookup_then_delete;
  return make_error(err);
}

}  // namespace bpfbatch
