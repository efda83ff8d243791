// The tool's commands, one function each; main.cpp parses and dispatches.
#pragma once

#include "arguments.hpp"

namespace bpfbatch::cli {

int run_dump(const arguments& o);  // dump and drain
int run_info(const arguments& o);
int run_load(const arguments& o);
int run_copy(const arguments& o);
int run_list(const arguments& o);
int run_show(const arguments& o);  // bpftool map show [MAP]: one map as list prints it, or all
int run_demo(const arguments& o);
int run_element_verb(const arguments& o);  // lookup, update, ... (elements.cpp)

}  // namespace bpfbatch::cli
