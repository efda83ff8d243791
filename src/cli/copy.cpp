// copy: every element of one map written into another, a batch read
// (lookup_batches) then the same batch written (update_batch). With --drain
// the elements move: each batch is deleted from the source as it is read
// (lookup_and_delete_batches), and what the destination refuses goes back
// into the source, so that at every stop the source and the destination
// together hold every element they held before (a drain's promise, with the
// destination as its output).
#include <cstdint>
#include <string>
#include <utility>

#include <bpfbatch/drain.hpp>
#include <bpfbatch/lookup.hpp>
#include <bpfbatch/write.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "output.hpp"
#include "put_back.hpp"
#include "signals.hpp"

namespace bpfbatch::cli {

namespace {

// Why the source's elements cannot be written into the destination as they
// are read, or empty. The kernel lays out a batch's values per map type
// (per-CPU values in 8-byte slots, one per possible CPU), so both maps must
// agree on that as on the sizes.
std::string why_not_copied(const map_info& from, const map_info& to, bool drain) {
  const std::string types =
      std::string(map_type_name(from.type)) + " map into a " + std::string(map_type_name(to.type)) + " map";
  if (from.id == to.id) return "cannot copy a map into itself";
  if (values_are_descriptors(from.type) || is_map_in_map(from.type) || values_are_descriptors(to.type) ||
      is_map_in_map(to.type))
    return "cannot copy a " + types + ": their values are descriptors when written, ids when read";
  if (keys_are_descriptors(from.type) || keys_are_descriptors(to.type))
    return "cannot copy a " + types + ": their keys are descriptors of the process that writes them";
  if (from.per_cpu_values() != to.per_cpu_values())
    return "cannot copy a " + types + ": one holds a value per CPU, the other one value";
  if (from.key_size != to.key_size || from.value_size != to.value_size)
    return "cannot copy a " + types + ": keys of " + std::to_string(from.key_size) + " and " +
           std::to_string(to.key_size) + " bytes, values of " + std::to_string(from.value_size) + " and " +
           std::to_string(to.value_size) + " bytes";
  // An LRU map makes room by evicting (htab_lru_map_update_elem never
  // refuses for lack of space, and its per-CPU free lists evict before
  // max_entries is reached): elements moved into one could vanish unseen.
  if (drain && (to.type == map_type::lru_hash || to.type == map_type::lru_percpu_hash))
    return "cannot move into an LRU map: it evicts elements to make room instead of refusing them, and "
           "moved elements would be lost; copy without --drain";
  // Nor can a move out of one put back what the destination refuses: the
  // put-back element takes a free node, and an LRU map whose global free
  // list runs short refills a CPU's list by evicting (bpf_lru_list_shrink).
  if (drain && (from.type == map_type::lru_hash || from.type == map_type::lru_percpu_hash))
    return "cannot move out of an LRU map: putting back what the destination refuses would evict other "
           "elements; copy without --drain, then delete";
  // A bloom filter takes every value and gives none back (no lookup, no
  // pop): a queue or stack moved into one would be gone for good.
  if (drain && to.type == map_type::bloom_filter)
    return "cannot move into a bloom_filter map: its values can never be read back, and moved elements "
           "would be lost";
  if (!drain && (from.type == map_type::queue || from.type == map_type::stack))
    return "a " + std::string(map_type_name(from.type)) +
           " cannot be read without taking its elements: use copy --drain to move them";
  return {};
}

// The line that says what was done: "Copied N entries" or {"copied":N}.
int print_done(const arguments& o, std::uint64_t n) {
  output out(1);
  set_up_stdout(out, o);
  const char* word = o.drain ? "moved" : "copied";
  if (o.json) {
    out.put("{\"").put(word).put("\":").number(n).put("}\n");
  } else {
    out.put(o.drain ? "Moved " : "Copied ").put(entries_text(n)).put('\n');
  }
  return finish(out, subject_of(o));
}

// --batch-size: elements per read and per write alike.
std::pair<batch_options, update_options> options_of(const arguments& o) {
  batch_options reading;
  reading.batch_size = o.batch_size;
  update_options writing;
  writing.batch_size = o.batch_size;
  return {reading, writing};
}

int copy_elements(const arguments& o, const map& source, const map& destination) {
  const auto [reading, options] = options_of(o);
  auto batches = lookup_batches(source, reading);
  std::uint64_t copied = 0;
  for (const batch& b : batches) {
    const write_result written = update_batch(destination, b.keys(), b.values(), options);
    copied += written.applied;
    if (!written) {
      print_error(
          describe(subject_of(o.destination), written.error, &destination.info(), written.failed_command) +
          "; " + entries_text(copied) + " copied before it");
      return exit_failure;
    }
  }
  if (batches.error()) {
    print_error(describe(subject_of(o), batches.error(), &source.info(), batches.failed_command()) + "; " +
                entries_text(copied) + " copied before it");
    return exit_failure;
  }
  return print_done(o, copied);
}

// What a move that stopped early says: how many moved, how many went back
// into the source, how many could not (and are in neither map).
void report_stop(const arguments& o, const std::string& cause, std::uint64_t moved,
                 const put_back_counts& back) {
  std::string text = cause + "; " + entries_text(moved) + " moved before it";
  if (back.restored != 0) text += ", " + entries_text(back.restored) + " put back into " + subject_of(o);
  if (back.superseded != 0)
    text += ", " + entries_text(back.superseded) + " not put back (written again in the source meanwhile)";
  if (back.lost != 0)
    text += ", " + entries_text(back.lost) + " lost: the source refused them back (" +
            describe(command_name(back.lost_command), back.lost_because, nullptr, command::none) + ")";
  print_error(text);
}

int move_elements(const arguments& o, const map& source, const map& destination) {
  stop_between_batches();  // a signal ends the move between two batches, none in hand
  const auto [reading, options] = options_of(o);
  auto batches = lookup_and_delete_batches(source, reading);
  std::uint64_t moved = 0;
  put_back_counts back;
  for (const batch& b : batches) {
    const write_result written = update_batch(destination, b.keys(), b.values(), options);
    moved += written.applied;
    if (!written) {
      // The rest of this batch was deleted from the source: it goes back.
      put_back(source, b, written.applied, back);
      report_stop(
          o, describe(subject_of(o.destination), written.error, &destination.info(), written.failed_command),
          moved, back);
      return exit_failure;
    }
    notice_signals();  // before the next batch is deleted
    if (const int signal = stop_signal(); signal != 0) {
      report_stop(o, subject_of(o) + ": stopped by " + std::string(signal_name(signal)), moved, back);
      end_by_signal(signal);
    }
  }
  if (batches.error()) {
    report_stop(o, describe(subject_of(o), batches.error(), &source.info(), batches.failed_command()), moved,
                back);
    return exit_failure;
  }
  return print_done(o, moved);
}

}  // namespace

int run_copy(const arguments& o) {
  const map source = open_selected(o, o.drain ? access::read_write : access::read_only);
  const map destination = open_map(o.destination, access::write_only);
  if (auto why = why_not_copied(source.info(), destination.info(), o.drain); !why.empty()) {
    print_error(subject_of(o) + ": " + why);
    return exit_failure;
  }
  return o.drain ? move_elements(o, source, destination) : copy_elements(o, source, destination);
}

}  // namespace bpfbatch::cli
