#!/usr/bin/env bash
# Runs the kernel test suite on Debian's packaged kernels under qemu: 5.10
# (bullseye-security), 6.1 and 6.12 (bookworm), 7.2 (sid), each booted with a
# tiny initramfs holding a static /init and the statically linked test binary.
# On ARM too: 6.1-arm64 and 6.1-armhf (or 6.12-...) boot Debian's arm64 and
# armmp kernels under qemu-system-aarch64 / qemu-system-arm -M virt, with a
# test binary cross-built with cross/*.ini. VERSION-i686 boots the x86-64
# kernel VERSION with the 32-bit suite (tests/vm/i686-suite.sh: the library's
# and the tool's tests as 32-bit static programs, with busybox and bpftool),
# for machines whose own kernel runs no 32-bit program.
# See ../../../shared/vm-testing.md for why each step is as it is.
#
#   tests/vm/run-kernels.sh [KERNEL...]
#       (default: 5.10 6.1 6.12 7.2 6.1-arm64 6.1-armhf; 7.2-i686 runs the
#       32-bit suite on 7.2)
#
# Environment: BPFBATCH_VM_CACHE (default build-vm/ in the checkout) keeps the
# downloaded kernels between runs; BPFBATCH_VM_BUILD (default
# $BPFBATCH_VM_CACHE/build) is where the static test binaries are built;
# BPFBATCH_VM_TOOL64 names a static 64-bit bpfbatch for the 32-bit guest's
# comparison (built when unset); BPFBATCH_VM_JOBS guests run at once (default:
# one per CPU); BPFBATCH_VM_ARGS adds doctest arguments (separated by ';');
# BPFBATCH_VM_FULL=1 runs every test case (by default the three that take
# minutes under TCG emulation are left out, and the run says so; ARM guests
# leave out one more, and the 32-bit guest three of the tool's, named in the
# run).
# Exit status: 0 when every kernel that could be had passed and at least one
# was booted; 1 otherwise. A kernel that cannot be downloaded is named.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${BPFBATCH_VM_CACHE:-$root/build-vm}
kernels=("$@")
((${#kernels[@]})) || kernels=(5.10 6.1 6.12 7.2 6.1-arm64 6.1-armhf)
mkdir -p "$cache"

# A label is VERSION (x86-64) or VERSION-ARCH (arm64, armhf).
# The architecture of the test programs; kernel_arch_of: of the kernel.
arch_of() { case "$1" in *-arm64) echo arm64 ;; *-armhf) echo armhf ;; *-i686) echo i686 ;; *) echo amd64 ;; esac; }
kernel_arch_of() { case "$1" in i686) echo amd64 ;; *) echo "$1" ;; esac; }
triplet_of() {
  case "$1" in arm64) echo aarch64-linux-gnu ;; armhf) echo arm-linux-gnueabihf ;; i686) echo i686-linux-gnu ;; esac
}
archs=()
for label in "${kernels[@]}"; do
  arch=$(arch_of "$label")
  [[ " ${archs[*]} " == *" $arch "* ]] || archs+=("$arch")
done

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
for arch in "${archs[@]}"; do
  [ "$arch" = amd64 ] && continue
  if [ "$arch" = i686 ]; then
    command -v i686-linux-gnu-g++ >/dev/null || need+=(g++-i686-linux-gnu)
    dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || need+=(busybox-static)
    command -v bpftool >/dev/null || need+=(bpftool)
    continue
  fi
  command -v qemu-system-aarch64 >/dev/null && command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
  command -v "$(triplet_of "$arch")-g++" >/dev/null || need+=("g++-$(triplet_of "$arch")")
done
if ((${#need[@]})); then
  echo "vm: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 1. The statically linked test binary and /init, per architecture: prints
# the initramfs's path.
build=${BPFBATCH_VM_BUILD:-$cache/build}
make_initramfs() {  # $1: amd64, arm64, armhf or i686
  local arch=$1 dir=$build cross=() cc=gcc suffix="" options=(-Dcli=disabled) targets=(tests/bpfbatch-tests)
  if [ "$arch" != amd64 ]; then
    dir="$build-$arch" cross=(--cross-file "$root/cross/$(triplet_of "$arch").ini") suffix="-$arch"
    [ "$arch" = i686 ] || cc="$(triplet_of "$arch")-gcc"  # the i686 guest's kernel and /init are x86-64
  fi
  # The 32-bit guest runs the tool's tests too, on the 32-bit static tool.
  [ "$arch" = i686 ] && options=(-Dcli_static=true) targets=()
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$root" "${cross[@]}" -Dbuildtype=release -Dcpp_link_args=-static "${options[@]}" >/dev/null
  fi
  meson compile -C "$dir" "${targets[@]}" >/dev/null
  "$cc" -static -O2 -Wall -o "$cache/init$suffix" "$here/init.c"
  local staging="$cache/initramfs$suffix"
  rm -rf "$staging" && mkdir -p "$staging" && chmod 0755 "$staging"
  cp "$cache/init$suffix" "$staging/init"
  cp "$dir/tests/bpfbatch-tests" "$staging/bpfbatch-tests"
  [ "$arch" = i686 ] && stage_i686_suite "$dir" "$staging"
  (cd "$staging" && find . | cpio -o -H newc --quiet) >"$cache/initramfs$suffix.cpio"
  echo "$cache/initramfs$suffix.cpio"
}

# What the 32-bit suite needs beside the library's tests: the tool's tests,
# the 32-bit static tool and the 64-bit one (BPFBATCH_VM_TOOL64, or built
# here), the BPF object its BTF tests load, busybox as the shell and its
# commands, and the machine's bpftool with the libraries it links.
stage_i686_suite() {  # $1: the i686 build directory, $2: the staging directory
  local dir=$1 staging=$2 tool64=${BPFBATCH_VM_TOOL64:-} library
  if [ ! -x "$tool64" ]; then
    if [ ! -f "$build-tool64/build.ninja" ]; then
      meson setup "$build-tool64" "$root" -Dbuildtype=release -Dcli_static=true -Dtests=disabled >/dev/null
    fi
    meson compile -C "$build-tool64" >/dev/null
    tool64="$build-tool64/src/cli/bpfbatch"
  fi
  cp "$dir/tests/bpfbatch-cli-tests" "$dir/tests/btf_maps.bpf.o" "$staging/"
  cp "$dir/src/cli/bpfbatch" "$staging/bpfbatch"
  cp "$tool64" "$staging/bpfbatch64"
  cp "$here/i686-suite.sh" "$staging/suite"
  cp "$root/tests/compare-tools.sh" "$staging/compare-tools.sh"
  mkdir -p "$staging/bin" "$staging/usr/sbin"
  cp /bin/busybox "$staging/bin/busybox"
  /bin/busybox --list | while read -r applet; do
    [ -e "$staging/bin/$applet" ] || ln -s busybox "$staging/bin/$applet"
  done
  local bpftool
  bpftool=$(command -v bpftool)
  cp "$bpftool" "$staging/usr/sbin/bpftool"
  for library in $(ldd "$bpftool" | grep -oE '/[^ ]+'); do
    mkdir -p "$staging$(dirname "$library")"
    cp -L "$library" "$staging$library"
  done
}
declare -A initramfs
for arch in "${archs[@]}"; do initramfs[$arch]=$(make_initramfs "$arch"); done

# 2. Kernels, through a private apt configuration per suite that reuses the
# mirror URIs already in this machine's apt sources (nothing system-wide
# changes, and no host name is written here).
mirror_for() {  # $1: debian or debian-security
  local uri
  uri=$(grep -hoE "https?://[^ ]+/$1/?( |$)" /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
    /etc/apt/sources.list.d/*.list 2>/dev/null | head -n 1 | tr -d ' ' || true)
  echo "${uri%/}"
}
apt_in() {  # $1: suite directory; the rest: apt-get/apt-cache arguments
  local dir=$1 tool=$2 arch
  shift 2
  arch=$(cat "$dir/arch")
  "$tool" -q -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" -o Dir::State::Status=/dev/null \
    -o APT::Get::List-Cleanup=0 -o APT::Architecture="$arch" -o APT::Architectures="$arch" "$@"
}
prepare_suite() {  # $1: archive (debian, debian-security), $2: suite, $3: Debian architecture
  local dir="$cache/apt/$2" uri
  [ "$3" = amd64 ] || dir="$cache/apt/$2-$3"
  mkdir -p "$dir" && echo "$3" >"$dir/arch"
  uri=$(mirror_for "$1")
  [ -n "$uri" ] || return 1
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $2 main" >"$dir/sources.list"
  if [ ! -f "$dir/updated" ] || [ -n "$(find "$dir/updated" -mmin +720)" ]; then
    apt_in "$dir" apt-get update >/dev/null 2>&1 || return 1
    touch "$dir/updated"
  fi
  echo "$dir"
}
# Prints the path of a kernel image for label $1 (a bzImage on x86-64, an
# arm64 Image, an armhf zImage), downloading it if needed.
fetch_kernel() {
  local label=$1 arch archive suite meta flavour dir pkg out="$cache/kernels/$1" file=bzImage
  arch=$(arch_of "$label")
  case "$arch" in arm64) file=Image ;; armhf) file=zImage ;; esac
  if [ -f "$out/$file" ]; then echo "$out/$file"; return 0; fi
  # Debian's kernel flavours: amd64, arm64, and armmp for armhf.
  case "$arch" in armhf) flavour=armmp ;; *) flavour=$arch ;; esac
  case "${label%-arm*}" in
    5.10) archive=debian-security suite=bullseye-security meta= ;;
    6.1) archive=debian suite=bookworm meta=linux-image-$flavour ;;
    6.12) archive=debian-security suite=bookworm-security meta=linux-image-6.12-$flavour ;;
    7.2) archive=debian suite=sid meta=linux-image-$flavour ;;
    *) echo "vm: unknown kernel $label" >&2; return 1 ;;
  esac
  dir=$(prepare_suite "$archive" "$suite" "$arch") || return 1
  if [ -n "$meta" ]; then
    pkg=$(apt_in "$dir" apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  else
    pkg=$(apt_in "$dir" apt-cache pkgnames linux-image-5.10.0- 2>/dev/null |
      grep -E "^linux-image-5\\.10\\.0-[0-9]+-$flavour\$" | sort -V | tail -n 1)
  fi
  [ -n "$pkg" ] || return 1
  mkdir -p "$out" && rm -f "$out"/*.deb
  (cd "$out" && apt_in "$dir" apt-get download "$pkg" >/dev/null 2>&1) || return 1
  # Newer images keep the kernel in a linux-binary-* package they depend on.
  local binary
  binary=$(apt_in "$dir" apt-cache depends "$pkg" 2>/dev/null | awk '/Depends: linux-binary-/ {print $2; exit}')
  if [ -n "$binary" ]; then (cd "$out" && apt_in "$dir" apt-get download "$binary" >/dev/null 2>&1) || return 1; fi
  local deb image
  for deb in "$out"/*.deb; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$out" --wildcards './boot/vmlinuz-*' './usr/lib/modules/*/vmlinuz' \
      2>/dev/null || true
  done
  image=$(find "$out" -name 'vmlinuz*' -type f | head -n 1)
  [ -n "$image" ] || return 1
  # arm64's vmlinuz is a gzipped Image: qemu boots the Image itself.
  if [ "$arch" = arm64 ] && [ "$(head -c 2 "$image" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
    gunzip -c "$image" >"$image.unpacked" && mv "$image.unpacked" "$image"
  fi
  mv "$image" "$out/$file"
  echo "$pkg" >"$out/package"
  rm -rf "$out"/*.deb "$out/boot" "$out/usr"
  echo "$out/$file"
}

# 3. Boot each kernel. KVM only where the CPU really offers it.
accel=(-accel tcg -cpu max)
if [ -w /dev/kvm ] && grep -qE 'vmx|svm' /proc/cpuinfo; then accel=(-accel kvm -cpu host); fi
args="${BPFBATCH_VM_ARGS:-}"
arm_args="$args"
if [ "${BPFBATCH_VM_FULL:-0}" != 1 ]; then
  # Under TCG every instruction is emulated: the concurrency cases and the
  # 100,000-element drains take minutes there and run on the host instead.
  # ARM's emulation is slower still: reading 100,000 elements of every map
  # type takes 2 to 3 minutes there, and runs on the x86-64 guests instead.
  # (The kernel command line splits words at spaces, so '?' stands for each
  # space, and for the comma in 100,000: doctest splits filters at commas
  # and heeds only the last -tce.)
  slow="*under?writers*,*another?thread?inserts*,*every?hash?type?yields?exactly*"
  args="${args:+$args;}-tce=$slow"
  arm_args="${arm_args:+$arm_args;}-tce=$slow,*100?000?elements?of?every?batchable*"
  # The 32-bit guest runs the tool's tests too; these take a minute or more
  # each under emulation and read no size the others do not.
  cli_slow="*SIGINT?or?SIGTERM?mid-drain*,*100?000-element?hash*,*--threads?prints?every?entry?once*"
  echo "vm: leaving out the concurrency cases and the 100,000-element drains (BPFBATCH_VM_FULL=1 runs them)"
  if [[ " ${archs[*]} " == *" i686 "* ]]; then
    echo "vm: the 32-bit guest also leaves out the tool's 100,000-element load, --threads and SIGINT mid-drain cases"
  fi
  if [[ " ${archs[*]} " == *" arm"* ]]; then
    echo "vm: ARM guests also leave out the 100,000-element reads of every map type"
  fi
fi

# The machine for each architecture. ARM has no isa-debug-exit: its guests
# are judged by the result line /init prints, and end by powering off (PSCI).
qemu_for() {  # $1: architecture; sets qemu and console
  case "$1" in
    amd64) qemu=(qemu-system-x86_64 -M pc -device isa-debug-exit,iobase=0xf4,iosize=4 "${accel[@]}") console=ttyS0 ;;
    arm64) qemu=(qemu-system-aarch64 -M virt -cpu cortex-a57 -accel tcg) console=ttyAMA0 ;;
    armhf) qemu=(qemu-system-arm -M virt -cpu cortex-a15 -accel tcg) console=ttyAMA0 ;;
  esac
}

# One summary of every doctest run in a guest (the 32-bit one runs two).
summary_of() {  # $1: the guest's log
  grep -a '\[doctest\] test cases:' "$1" | tr -d '\r' | awk -F'|' '
    { split($1, c, ":"); cases += c[2]; passed += $2; failed += $3; skipped += $4; n++ }
    END { if (n) printf "[doctest] test cases: %d | %d passed | %d failed | %d skipped\n", cases, passed, failed, skipped }'
}

# Boots one guest and judges it: writes its report to LOG.report and "0"
# (passed) or "1" to LOG.status.
run_guest() {  # $1: label, $2: mode (root or unprivileged), $3: kernel image
  local label=$1 mode=$2 image=$3 arch cmdline mode_args log start result summary version passed
  arch=$(arch_of "$label")
  qemu_for "$(kernel_arch_of "$arch")"
  cmdline="console=$console panic=-1 loglevel=4 BPFBATCH_REQUIRE_KERNEL=1"
  mode_args="$args"
  case "$arch" in arm*) mode_args="$arm_args" ;; esac
  # Kernels from 6.7 can be built to refuse 32-bit programs unless asked;
  # older ones do not know the word and hand it to /init, unused.
  [ "$arch" != i686 ] || cmdline+=" ia32_emulation=1 BPFBATCH_VM_CLI_SLOW=${cli_slow:-}"
  if [ "$mode" = unprivileged ]; then
    # The permission suite as uid 65534: everything it may not do is refused.
    cmdline+=" BPFBATCH_VM_UID=65534"
    mode_args="-tc=*as?an?unprivileged?user*"
  fi
  [ -z "$mode_args" ] || cmdline+=" BPFBATCH_VM_ARGS=$mode_args"
  log="$cache/kernels/$label/$mode.log"
  mkdir -p "$cache/kernels/$label" && rm -f "$log" "$log.report" "$log.status"
  start=$(date +%s)
  timeout 1500 "${qemu[@]}" -m 1024M -smp 2 -nodefaults -no-user-config -display none -monitor none \
    -no-reboot -serial stdio -kernel "$image" -initrd "${initramfs[$arch]}" -append "$cmdline" \
    </dev/null >"$log" 2>&1 || true
  result=$(sed -n 's/.*BPFBATCH-VM-RESULT \([0-9]*\).*/\1/p' "$log" | tail -n 1)
  summary=$(summary_of "$log")
  version=$(sed -n 's/.*BPFBATCH-VM-KERNEL \([^ ]*\).*/\1/p' "$log" | head -n 1 | tr -d '\r')
  {
    echo "vm: $label ($(cat "$cache/kernels/${label%-i686}/package"), ${version:-unknown release}) $mode:" \
      "${summary:-no summary}, status ${result:-none}, $(($(date +%s) - start)) s"
    passed=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"${summary:-| 0 passed}")
    if [ "$result" = 0 ] && [ "${passed:-0}" -eq 0 ]; then
      echo "vm: $label $mode ran no test"
      result=none
    fi
    [ "$result" = 0 ] || grep -aE 'ERROR|FAILED|SKIPPED|Kernel panic' "$log" | head -n 20 || true
  } >"$log.report"
  if [ "$result" = 0 ]; then echo 0 >"$log.status"; else echo 1 >"$log.status"; fi
}

# Guests run BPFBATCH_VM_JOBS at a time (default: one per CPU, at most 4):
# a guest's tests keep about one emulated CPU busy, so two CPUs run two
# guests in little more time than one.
at_once=${BPFBATCH_VM_JOBS:-$(nproc)}
((at_once >= 1 && at_once <= 4)) || at_once=4
running=0
missing=()
guests=()
for label in "${kernels[@]}"; do
  image=$(fetch_kernel "${label%-i686}") ||
    { echo "vm: kernel ${label%-i686}: could not be downloaded" >&2; missing+=("$label"); continue; }
  modes=(root unprivileged)
  [ "$(arch_of "$label")" != i686 ] || modes=(root)  # the permission suite runs on the 64-bit guests
  for mode in "${modes[@]}"; do
    if ((running >= at_once)); then
      wait -n || true
      running=$((running - 1))
    fi
    run_guest "$label" "$mode" "$image" &
    running=$((running + 1))
    guests+=("$label/$mode")
  done
done
wait

failed=()
for guest in "${guests[@]}"; do
  log="$cache/kernels/${guest%/*}/${guest##*/}.log"
  cat "$log.report" 2>/dev/null || echo "vm: $guest: no report"
  [ "$(cat "$log.status" 2>/dev/null)" = 0 ] || failed+=("$guest")
done
((${#missing[@]} == 0)) || echo "vm: not downloaded: ${missing[*]}" >&2
if ((${#guests[@]} == 0)); then echo "vm: FAILED: no kernel could be booted" >&2; exit 1; fi
if ((${#failed[@]})); then echo "vm: FAILED: ${failed[*]}" >&2; exit 1; fi
echo "vm: every booted kernel passed (${kernels[*]} asked, ${missing[*]:-none} missing)"
