// The tool's help texts: the tool's own (--help, help) and each command's
// (COMMAND --help, help COMMAND). The manual page (bpfbatch.1) says the
// same at more length; tests/manual-and-completion.sh keeps them in step.
#include "help.hpp"

namespace bpfbatch::cli {

namespace {

constexpr std::string_view main_help = R"(Usage: bpfbatch [OPTIONS] [map] COMMAND [ARGS]
Read, drain and inspect eBPF maps in batches (BPF_MAP_LOOKUP_BATCH), falling
back to a GET_NEXT_KEY walk where the kernel or map type has no batches.
The word `map` before COMMAND is optional, as in bpftool map dump id 5.

Commands:
  dump MAP     print every entry
  drain MAP    print and delete every entry
  load MAP [FILE|-]  write the entries of a dump -j document into MAP
  copy MAP MAP  write every entry of the first map into the second
  info MAP     what the map is, and which batch commands it supports
  list         every map on the system
  show [MAP]   bpftool map show: MAP (or every map) as list prints it
  demo         create two maps, fill them, and time a batched read against a walk
  lookup, update, delete, getnext, peek, push, pop, enqueue, dequeue, pin,
  freeze, create   bpftool's map verbs, with its words and output
  help [COMMAND]  this help, or COMMAND's

MAP is one of:  id N | pinned PATH | name NAME

Options (before or after the command; --opt=VALUE or --opt VALUE; short
options bundle, -jq; a unique prefix of a long option is that option;
-- ends the options, for a path that begins with -):
  -j, --json     JSON output, in the shapes of bpftool -j
  -p, --pretty   JSON indented as bpftool -p prints it (implies -j)
  -f, --bpffs    info and list: each map's pinned paths in the BPF file
                 systems, as bpftool -f
  -q, --quiet    no progress counter on stderr
  -h, --help     this help; `bpfbatch COMMAND --help` for one command
  -V, --version  print the version

With -j or -p, a runtime error also prints bpftool's {"error":"MESSAGE"} on
stdout, where nothing was printed yet.

Exit status:
  0  done
  1  an error (the command could not be done; a dump prints nothing on
     stdout if it came before the first entry, but -j's error object)
  2  a usage error (the command line cannot be understood)
  128+N, killed by signal N: a drain stopped by SIGINT, SIGTERM or SIGHUP
     ends by that signal once every deleted entry is printed or back in
     the map
)";

constexpr std::string_view dump_help = R"(Usage: bpfbatch dump MAP [OPTIONS]
       bpfbatch drain MAP [OPTIONS]
Print every entry of MAP (id N | pinned PATH | name NAME); drain also deletes
each entry it prints (lookup-and-delete: none printed twice). An entry the
drain deletes is either printed (for a pipe: its reader read it) or put back
into the map (a newer value written meanwhile is kept); a failed write, a
closed reader, SIGINT, SIGTERM or SIGHUP end a drain between two batches,
and it says how many entries it put back, and how many could not be (a full
map) and are lost. Maps whose values are descriptors are not drained.

Options:
  -j, --json             a JSON array of {"key": [...], "value": [...]} as
                         bpftool -j map dump prints; per-CPU maps give
                         "values": [{"cpu": N, "value": [...]}, ...]
  -p, --pretty           the same JSON, indented as bpftool -p prints it
      --batch-size N     elements per kernel call (default: chosen from the
                         map's sizes)
      --method M         auto (batches, else a walk; a BPF_F_MMAPABLE array
                         is read through mmap), batch, or walk
      --sum              add up each element's per-CPU values as little-endian
                         unsigned u64 words (u32 when the size is not a
                         multiple of 8)
      --count            print only the number of entries (drain: delete
                         them without printing them)
      --no-btf           print the hex form only: no fields named from the
                         map's BTF
      --threads N        read N parts of the map at once (1 to 64), each on
                         its own thread (hash maps and arrays; other maps are
                         read whole); auto: the CPUs this process may use, at
                         most 16. Entries come in any order, one document.
  -q, --quiet            no progress counter on stderr

Exit status: 0 done; 1 an error (nothing on stdout if it came before the
first entry, but -j's {"error":...}); 2 a usage error; a drain stopped by a signal ends by that
signal once every deleted entry is printed or back in the map.
)";

constexpr std::string_view load_help = R"(Usage: bpfbatch load MAP [FILE|-] [OPTIONS]
Write every entry of a dump -j document (bpftool -j map dump's or bpfbatch's:
a JSON array of {"key": ["0x01", ...], "value": [...]}, per-CPU maps with
"values": [{"cpu": N, "value": [...]}, ...] for every possible CPU; other
fields such as "formatted" are ignored) into MAP, in batches
(BPF_MAP_UPDATE_BATCH), reading FILE or stdin a chunk at a time. Each chunk
is checked whole before it is written, and a regular FILE is checked whole
before anything is: a malformed entry (truncated JSON, a key or value of
the wrong size, a byte that is not 0x00 to 0xff, a per-CPU entry without
every CPU) is an error that names the entry (its index in the document).

Options:
      --mode M         any (default): create or replace; exist: replace
                       only (a missing key stops it); noexist: create only
                       (a present key stops it). exist and noexist write
                       one element at a time (the kernel's batch has no
                       such flags).
      --batch-size N   elements per kernel call
  -j, --json           print {"applied": N}

Prints "Applied N entries". Exit status: 0 done; 1 an error, after saying
which entry failed and how many were applied before it; 2 a usage error.
Maps whose values are descriptors (maps of maps, program arrays, socket
maps) are refused: their dumps hold ids.
)";

constexpr std::string_view copy_help = R"(Usage: bpfbatch copy SOURCE DESTINATION [OPTIONS]
Write every entry of SOURCE into DESTINATION (each id N | pinned PATH |
name NAME), in batches: a batch read (BPF_MAP_LOOKUP_BATCH, or a key walk),
then written (BPF_MAP_UPDATE_BATCH). Both maps must have the same key and
value sizes, and both or neither hold a value per CPU; entries of SOURCE
replace those of DESTINATION with the same key.

Options:
      --drain          move the entries: each batch is deleted from SOURCE
                       as it is read (lookup-and-delete, as drain does);
                       what DESTINATION refuses (a full map) is put back
                       into SOURCE, so that the two maps together always
                       hold every entry. Queues and stacks move only so;
                       LRU maps, which evict rather than refuse, and
                       bloom filters, which give nothing back, are not
                       moved into; nor are LRU maps moved out of (what
                       goes back into one can evict others).
                       SIGINT, SIGTERM and SIGHUP stop it between batches.
      --batch-size N   elements per kernel call
  -j, --json           print {"copied": N} ({"moved": N} with --drain)

Prints "Copied N entries" ("Moved N entries"). Exit status: 0 done; 1 an
error, after saying how many entries were copied (or moved, and put back)
before it; 2 a usage error. Maps whose values are descriptors are refused.
)";

constexpr std::string_view info_help = R"(Usage: bpfbatch info MAP [-j|-p] [-f]
Show what MAP (id N | pinned PATH | name NAME) is: type, id, name, key and
value sizes, max entries, flags, bytes_memlock and frozen (as bpftool map
show prints them; -f adds its pinned paths), its BTF (btf_id, and the key
and value types by name: "struct flow_key"; reading BTF needs
CAP_SYS_ADMIN, without it the types are unknown), how values are laid out
in a batch, and
which batch commands the kernel supports for it (probed with count = 0,
which touches no element), and how a drain removes its entries: atomically
(batch commands, pops) or a lookup then a delete, where a value written in
between is deleted unseen. The map is opened read-only; the writing
commands are probed through a second, writable descriptor where the user
may have one ("unknown" otherwise).
)";

constexpr std::string_view list_help = R"(Usage: bpfbatch list [-j|-p] [-f]
       bpfbatch show [MAP] [-j|-p] [-f]
List every map on the system (needs CAP_SYS_ADMIN), or show one, as
bpftool map show [MAP] does (-j: one object for MAP, an array for all):
id, type, name, sizes, bytes_memlock, frozen, and btf_id for maps with
BTF, in bpftool map show's fields and layout; -f adds each map's pinned
paths (bpftool -f's "pinned"), found by a walk of the mounted BPF file
systems. Nothing is printed unless every map could be read.
)";

constexpr std::string_view demo_help = R"(Usage: bpfbatch demo [--entries N]
Create a hash map, a per-CPU hash map and a BPF_F_MMAPABLE array in this
process (no existing map is needed), fill each with N entries (default
100000), print a sample, and time a full batched read against a GET_NEXT_KEY
walk of the same map, and for the array, a read through mmap. The per-CPU
map gets fewer entries where their values would pass 16 MiB (many CPUs).
)";

constexpr std::string_view elements_help = R"(Usage: bpfbatch lookup   MAP key DATA
       bpfbatch update   MAP [key DATA] value VALUE [any|exist|noexist]
       bpfbatch delete   MAP key DATA
       bpfbatch getnext  MAP [key DATA]
       bpfbatch peek|pop|dequeue MAP
       bpfbatch push|enqueue MAP value VALUE
       bpfbatch pin      MAP FILE
       bpfbatch freeze   MAP
       bpfbatch create   FILE type TYPE key N value N entries N name NAME
                         [flags F] [inner_map MAP]
bpftool map's verbs, with its words and the same stdout (-j: the same JSON,
"null" where bpftool prints nothing, {"error": ...} on a failure).
DATA is [hex] BYTES: one word per byte, 1 0 0 0, 0x01 0x00 0x00 0x00, or
hex 01 00 00 00; a number above 255 or with a sign is refused (bpftool
wraps it). A per-CPU map's VALUE is one CPU's bytes, written to every
possible CPU, or (unlike bpftool) the bytes of every possible CPU in turn.
A map of maps' VALUE is a MAP.
Queues and stacks take no key; pop and dequeue put the value back when it
cannot be printed. create does not mount a BPF filesystem.

Exit status: 0 done; 1 a failure (a missing key: bpftool's "Not found" or
"Error: empty map" on stdout, null with -j); 2 a usage error.
)";

}  // namespace

std::string_view help_for(std::string_view command) {
  if (command == "dump" || command == "drain") return dump_help;
  if (command == "load") return load_help;
  if (command == "copy") return copy_help;
  if (command == "info") return info_help;
  if (command == "list" || command == "show") return list_help;
  if (command == "demo") return demo_help;
  if (is_element_verb(command)) return elements_help;
  return main_help;
}

}  // namespace bpfbatch::cli
