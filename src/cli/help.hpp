// The help texts: what `bpfbatch --help` and `bpfbatch help COMMAND` print.
#pragma once

#include <string_view>

#include "arguments.hpp"

namespace bpfbatch::cli {

// COMMAND's help, or the tool's for an empty or unknown command.
std::string_view help_for(std::string_view command);

}  // namespace bpfbatch::cli
