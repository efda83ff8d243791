// The static tool's std::terminate handler. libstdc++'s default one,
// __gnu_cxx::__verbose_terminate_handler, demangles the name of the exception
// in flight and so links in the whole C++ demangler (about 40 KB of a static
// tool that must stay under 1 MiB). The tool never lets an exception escape:
// out of memory is handled by its new-handler (main.cpp), and nothing else in
// it throws. Defining the handler here keeps libstdc++'s out of the link
// (the linker takes an archive member only for a symbol still undefined).
#include <unistd.h>

#include <cstdlib>

namespace __gnu_cxx {

void __verbose_terminate_handler() {
  static constexpr char message[] = "bpfbatch: internal error (std::terminate)\n";
  (void)!::write(2, message, sizeof(message) - 1);
  std::abort();
}

}  // namespace __gnu_cxx
