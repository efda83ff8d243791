// What bpfbatch does without privileges: clear refusals, and reading through
// a descriptor that was handed over.
#include <sys/utsname.h>

#include <cerrno>
#include <cstdio>

#include "faults.hpp"
#include "support.hpp"

using namespace bpfbatch;

TEST_CASE("without capabilities: open by id and create are EPERM, an inherited descriptor still reads") {
  REQUIRE_KERNEL();
  map m = support::create(map_type::hash, 4, 8, 100);
  support::fill(m, 50);
  const auto before = support::reference_walk(m.fd());
  // Commands on a descriptor you already hold need no capability, only the
  // descriptor's rights (bpf_map_do_batch): measured on 6.1, 6.12 and 6.18
  // (shared/vm-testing.md; kernel-facts.md dates it 6.5, but 6.1 guests read
  // through an inherited descriptor). Older kernels with unprivileged BPF
  // disabled refuse every command without CAP_BPF or CAP_SYS_ADMIN.
  const bool reads_with_descriptor = support::kernel_at_least(6, 1);
  CHECK(support::in_child([&] {
          std::string failures;
          if (!support::drop_all_capabilities()) return std::string("could not drop capabilities");
          auto by_id = map::open_id(m.info().id);
          if (by_id || by_id.error().value() != EPERM)
            failures += "open_id gave " + by_id.error().message() + "; ";
          map_spec spec;
          spec.type = map_type::hash;
          spec.key_size = 4;
          spec.value_size = 8;
          spec.max_entries = 4;
          auto created = map::create(spec);
          if (created || created.error().value() != EPERM)
            failures += "create gave " + created.error().message() + "; ";
          auto gen = lookup_batches(m);
          auto got = support::collect(gen);
          if (reads_with_descriptor) {
            if (gen.error()) failures += "reading through the descriptor: " + gen.error().message() + "; ";
            if (got != before) failures += "reading through the descriptor gave other contents; ";
          } else if (gen.error().value() != EPERM) {
            failures += "before 6.1 reading should be EPERM, was " + gen.error().message() + "; ";
          }
          if (describe_error(m.info(), command::map_get_fd_by_id, make_error(EPERM))
                  .find("Operation not permitted") == std::string::npos)
            failures += "the message does not say permission; ";
          return failures;
        }) == "");
}

TEST_CASE("as an unprivileged user, creating a map and opening one by id are refused with EPERM") {
  // Holds both ways: run directly when this process has no privileges (the
  // guest's uid 65534 run), in a child that drops them when it has.
  auto check = [] {
    std::string failures;
    map_spec spec;
    spec.type = map_type::array;
    spec.key_size = 4;
    spec.value_size = 4;
    spec.max_entries = 1;
    auto created = map::create(spec);
    if (created || created.error().value() != EPERM)
      failures += "create gave " + created.error().message() + "; ";
    auto by_id = map::open_id(1);
    if (by_id || (by_id.error().value() != EPERM))
      failures += "open_id gave " + by_id.error().message() + "; ";
    auto next = next_map_id(0);
    if (next || next.error().value() != EPERM)
      failures += "next_map_id gave " + next.error().message() + "; ";
    return failures;
  };
  if (support::kernel_available()) {
    CHECK(support::in_child([&] {
            if (!support::drop_all_capabilities()) return std::string("could not drop capabilities");
            return check();
          }) == "");
  } else {
    CHECK(check() == "");
  }
}
