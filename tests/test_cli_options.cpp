// The tool's command line as GNU and bpftool users write it: --opt=value,
// bundled short options, `--`, the optional word `map`, `help COMMAND`.
#include <unistd.h>

#include <string>
#include <vector>

#include "cli_support.hpp"
#include "json.hpp"
#include "support.hpp"

using namespace bpfbatch;
using namespace cli_support;

TEST_CASE("--batch-size=N is the same option as --batch-size N") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 64), "opt_equals");
  support::fill(p.m, 40);
  const auto spaced = cli({"dump", "pinned", p.path, "-j", "--batch-size", "8"});
  const auto joined = cli({"dump", "pinned", p.path, "-j", "--batch-size=8"});
  REQUIRE(spaced.status == 0);
  REQUIRE(joined.status == 0);
  CHECK(entries_of(joined.out) == support::reference_walk(p.m.fd()));
  CHECK(joined.out == spaced.out);
}

TEST_CASE("every long option with a value takes --opt=value") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 64), "opt_values");
  support::fill(p.m, 10);
  const auto r = cli({"dump", "pinned", p.path, "--method=walk", "--threads=2", "--batch-size=3", "--count"});
  CHECK(r.status == 0);
  CHECK(r.out == "10\n");
  CHECK(cli({"demo", "--entries=1000", "--help"}).status == 0);
  CHECK(cli({"load", "pinned", p.path, "--mode=sometimes"}).status == 2);
}

TEST_CASE("bundled short options -jq are -j and -q") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::array, 4, 4, 4), "opt_bundle");
  const auto bundled = cli({"-jq", "dump", "pinned", p.path});
  const auto apart = cli({"dump", "pinned", p.path, "-j", "-q"});
  REQUIRE(bundled.status == 0);
  CHECK(bundled.out == apart.out);
  CHECK(bundled.out.starts_with("[{\"key\":"));
}

TEST_CASE("after --, a pinned path that begins with '-' is a path, not an option") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::array, 4, 4, 4), "-dash_pin");
  const std::string dir = support::bpffs_dir();
  run_options in_dir;
  in_dir.before_exec = [dir] {
    if (::chdir(dir.c_str()) != 0) ::_exit(99);
  };
  const auto r = cli({"-j", "dump", "pinned", "--", "-dash_pin"}, in_dir);
  CHECK(r.status == 0);
  CHECK(entries_of(r.out) == support::reference_walk(p.m.fd()));
  const auto before_selector = cli({"dump", "--", "pinned", "-dash_pin", "-j"}, in_dir);
  CHECK(before_selector.status == 2);  // -j after -- is a word, not an option
  const auto without = cli({"dump", "pinned", "-dash_pin"}, in_dir);
  CHECK(without.status == 2);
  CHECK(without.err.starts_with("bpfbatch: unknown option '-d' in '-dash_pin'"));
}

TEST_CASE("the word map before the command is optional, as in bpftool map dump") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::hash, 4, 8, 64), "opt_map_word");
  support::fill(p.m, 20);
  const auto without = cli({"dump", "pinned", p.path, "-j"});
  REQUIRE(without.status == 0);
  for (const auto& args : std::vector<std::vector<std::string>>{{"map", "dump", "pinned", p.path, "-j"},
                                                                {"-j", "map", "dump", "pinned", p.path},
                                                                {"map", "-j", "dump", "pinned", p.path}}) {
    const auto with = cli(args);
    INFO(args[0], " ", args[1]);
    CHECK(with.status == 0);
    CHECK(with.out == without.out);
  }
  CHECK(cli({"map", "info", "pinned", p.path}).out == cli({"info", "pinned", p.path}).out);
}

TEST_CASE("help COMMAND prints that command's help, as COMMAND --help does") {
  for (const char* command : {"dump", "drain", "load", "info", "list", "demo"}) {
    INFO(command);
    const auto help = cli({"help", command});
    CHECK(help.status == 0);
    CHECK(help.out == cli({command, "--help"}).out);
    CHECK(help.out.find(std::string("bpfbatch ") + command) != std::string::npos);
  }
  CHECK(cli({"help", "map", "load"}).out == cli({"load", "--help"}).out);
  CHECK(cli({"help"}).out == cli({"--help"}).out);
  const auto unknown = cli({"help", "frobnicate"});
  CHECK(unknown.status == 2);
  CHECK(unknown.err == "bpfbatch: unknown command 'frobnicate'\nTry 'bpfbatch --help'.\n");
}

TEST_CASE("--help documents the exit statuses, a drain ended by a signal included") {
  const auto r = cli({"--help"});
  REQUIRE(r.status == 0);
  const auto at = r.out.find("Exit status:");
  REQUIRE(at != std::string::npos);
  const std::string statuses = r.out.substr(at);
  for (const char* line : {"\n  0  ", "\n  1  ", "\n  2  ", "128+N"}) {
    INFO(line);
    CHECK(statuses.find(line) != std::string::npos);
  }
  CHECK(statuses.find("drain") != std::string::npos);
}

TEST_CASE("a unique prefix of a long option is that option, an ambiguous one a usage error") {
  const auto prefix = cli({"--vers"});
  CHECK(prefix.status == 0);
  CHECK(prefix.out.starts_with("bpfbatch "));
  const auto ambiguous = cli({"dump", "id", "1", "--b=3"});
  CHECK(ambiguous.status == 2);
  CHECK(ambiguous.err == "bpfbatch: option '--b' is ambiguous\nTry 'bpfbatch --help'.\n");
}

TEST_CASE("hostile option forms are usage errors of one line, with nothing on stdout") {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"dump", "id", "1", "--batch-size="},
                                             {"dump", "id", "1", "--batch-size==3"},
                                             {"dump", "id", "1", "--batch-size=99999999999999999999999"},
                                             {"dump", "id", "1", "--batch-size"},
                                             {"-"},
                                             {"--"},
                                             {"-j-", "dump", "id", "1"},
                                             {"--json=yes", "dump", "id", "1"},
                                             {"--=3", "dump", "id", "1"},
                                             {"---json", "dump", "id", "1"},
                                             {"dump", "id", "-1"},
                                             {"dump", "id", "--", "-1"},
                                             {"dump", "pinned", "--"},
                                             {"dump", "pinned", "/a\nb", "extra\x01word"},
                                             {"map"},
                                             {"map", "map", "dump", "id", "1"},
                                             {"help", "load", "dump"},
                                             {"demo", "-p"},
                                             {"dump", "id", "1", "-f"},
                                             {"load", "id", "1", ""}}) {
    const auto r = cli(args);
    INFO("args: ", args[0], " ... : ", r.err);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(r.err.starts_with("bpfbatch: "));
    CHECK(r.err.find('\n') == r.err.find("\nTry 'bpfbatch --help'.\n"));
  }
}

TEST_CASE("-p and -j bundle in either order, and -p implies -j") {
  REQUIRE_KERNEL();
  pinned_map p(support::create(map_type::array, 4, 4, 2), "opt_pj");
  const auto pj = cli({"-pj", "dump", "pinned", p.path});
  const auto jp = cli({"-jp", "dump", "pinned", p.path});
  const auto pretty = cli({"-p", "dump", "pinned", p.path});
  REQUIRE(pretty.status == 0);
  CHECK(pj.out == pretty.out);
  CHECK(jp.out == pretty.out);
  CHECK(entries_of(pretty.out) == support::reference_walk(p.m.fd()));
}
