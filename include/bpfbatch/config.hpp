// config: what every public header needs first: a C++20 compiler, and the
// mark of the names the shared library exports.
#pragma once

#if __cplusplus < 202002L
#error "bpfbatch needs C++20"
// #error alone lets the compiler go on into every header below and bury the
// message under their errors; a missing header is fatal, so it stops here.
#include <bpfbatch/stop-here-with-the-error-above>
#endif

// The shared library is built with hidden visibility: only names marked with
// this are exported, so its internals cannot become someone's ABI.
#define BPFBATCH_API [[gnu::visibility("default")]]
