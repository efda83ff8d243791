// The test runner: doctest, plus the rule that a kernel test may skip only
// when the kernel refuses permission, and never when BPFBATCH_REQUIRE_KERNEL=1.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "support.hpp"

int main(int argc, char** argv) {
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  int status = context.run();
  if (context.shouldExit()) return status;

  const char* require = std::getenv("BPFBATCH_REQUIRE_KERNEL");
  const bool required = require != nullptr && std::strcmp(require, "0") != 0 && *require != '\0';
  if (int skipped = support::skipped_count(); skipped > 0) {
    std::fprintf(stderr, "[bpfbatch-tests] %d kernel test(s) skipped: bpf() refused permission\n", skipped);
    if (required) {
      std::fprintf(stderr,
                   "[bpfbatch-tests] BPFBATCH_REQUIRE_KERNEL is set: skipped kernel tests fail the run\n");
      return status != 0 ? status : 1;
    }
  }
  return status;
}
