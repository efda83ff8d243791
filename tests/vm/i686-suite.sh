#!/bin/sh
# /suite of a 32-bit guest (tests/vm/run-kernels.sh VERSION-i686), run by
# /init with busybox as /bin/sh. Debian's x86-64 kernels run 32-bit programs
# (IA32 emulation) where the host's kernel may not: this runs there what
# .ci/run runs on a host that can, all as 32-bit processes against the
# guest's kernel: the library's tests, the tool's tests (the 32-bit static
# bpfbatch, compared with bpftool), then the 32-bit tool's dumps against the
# 64-bit one's (tests/compare-tools.sh).
#
# Arguments: doctest's, as /init passes them. Where the run leaves out slow
# cases (-tce=...), the tool's slow cases in BPFBATCH_VM_CLI_SLOW are left
# out of its tests too (doctest heeds only the last -tce: they are joined).
# Exit status: 0 when all three passed.
export PATH=/bin:/usr/sbin
status=0

/bpfbatch-tests "$@" || status=1

first=1
for word in "$@"; do
  if [ "$first" = 1 ]; then
    set --
    first=0
  fi
  case "$word" in -tce=*) [ -n "${BPFBATCH_VM_CLI_SLOW:-}" ] && word="$word,$BPFBATCH_VM_CLI_SLOW" ;; esac
  set -- "$@" "$word"
done
BPFBATCH_CLI=/bpfbatch BPFBATCH_BTF_OBJECT=/btf_maps.bpf.o BPFBATCH_REQUIRE_BPFTOOL=1 \
  /bpfbatch-cli-tests "$@" || status=1

/compare-tools.sh /bpfbatch /bpfbatch64 || status=1
exit $status
