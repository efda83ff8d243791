#!/usr/bin/env bash
# Runs the kernel test suite on Debian's packaged kernels under qemu: 5.10
# (bullseye-security), 6.1 and 6.12 (bookworm), 7.2 (sid), each booted with a
# tiny initramfs holding a static /init and the statically linked test binary.
# See ../../../shared/vm-testing.md for why each step is as it is.
#
#   tests/vm/run-kernels.sh [KERNEL...]      (default: 5.10 6.1 6.12 7.2)
#
# Environment: BPFBATCH_VM_CACHE (default build-vm/ in the checkout) keeps the
# downloaded kernels between runs; BPFBATCH_VM_BUILD (default
# $BPFBATCH_VM_CACHE/build) is where the static test binary is built; BPFBATCH_VM_ARGS adds doctest arguments
# (separated by ';'); BPFBATCH_VM_FULL=1 runs every test case (by default the
# three that take minutes under TCG emulation are left out, and the run says so).
# Exit status: 0 when every kernel that could be had passed and at least one
# was booted; 1 otherwise. A kernel that cannot be downloaded is named.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${BPFBATCH_VM_CACHE:-$root/build-vm}
kernels=("$@")
((${#kernels[@]})) || kernels=(5.10 6.1 6.12 7.2)
mkdir -p "$cache"

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
if ((${#need[@]})); then
  echo "vm: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 1. The statically linked test binary and /init.
build=${BPFBATCH_VM_BUILD:-$cache/build}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" -Dbuildtype=release -Dcpp_link_args=-static -Dcli=disabled >/dev/null
fi
meson compile -C "$build" tests/bpfbatch-tests >/dev/null
gcc -static -O2 -Wall -o "$cache/init" "$here/init.c"
initramfs="$cache/initramfs.cpio"
staging="$cache/initramfs"
rm -rf "$staging" && mkdir -p "$staging" && chmod 0755 "$staging"
cp "$cache/init" "$staging/init"
cp "$build/tests/bpfbatch-tests" "$staging/bpfbatch-tests"
(cd "$staging" && find . | cpio -o -H newc --quiet) >"$initramfs"

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
  local dir=$1 tool=$2
  shift 2
  "$tool" -q -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" -o Dir::State::Status=/dev/null \
    -o APT::Get::List-Cleanup=0 "$@"
}
prepare_suite() {  # $1: archive (debian, debian-security), $2: suite
  local dir="$cache/apt/$2" uri
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
# Prints the path of a bzImage for kernel $1, downloading it if needed.
fetch_kernel() {
  local label=$1 archive suite meta dir pkg out="$cache/kernels/$1"
  if [ -f "$out/bzImage" ]; then echo "$out/bzImage"; return 0; fi
  case "$label" in
    5.10) archive=debian-security suite=bullseye-security meta= ;;
    6.1) archive=debian suite=bookworm meta=linux-image-amd64 ;;
    6.12) archive=debian-security suite=bookworm-security meta=linux-image-6.12-amd64 ;;
    7.2) archive=debian suite=sid meta=linux-image-amd64 ;;
    *) echo "vm: unknown kernel $label" >&2; return 1 ;;
  esac
  dir=$(prepare_suite "$archive" "$suite") || return 1
  if [ -n "$meta" ]; then
    pkg=$(apt_in "$dir" apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  else
    pkg=$(apt_in "$dir" apt-cache pkgnames linux-image-5.10.0- 2>/dev/null |
      grep -E '^linux-image-5\.10\.0-[0-9]+-amd64$' | sort -V | tail -n 1)
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
  mv "$image" "$out/bzImage"
  echo "$pkg" >"$out/package"
  rm -rf "$out"/*.deb "$out/boot" "$out/usr"
  echo "$out/bzImage"
}

# 3. Boot each kernel. KVM only where the CPU really offers it.
accel=(-accel tcg -cpu max)
if [ -w /dev/kvm ] && grep -qE 'vmx|svm' /proc/cpuinfo; then accel=(-accel kvm -cpu host); fi
args="${BPFBATCH_VM_ARGS:-}"
if [ "${BPFBATCH_VM_FULL:-0}" != 1 ]; then
  # Under TCG every instruction is emulated: the concurrency cases and the
  # 100,000-element drains take minutes there and run on the host instead.
  # (The kernel command line splits words at spaces, so '?' stands for each
  # space; doctest splits filters at commas.)
  args="${args:+$args;}-tce=*under?writers*,*another?thread?inserts*,*every?hash?type?yields?exactly*"
  echo "vm: leaving out the concurrency cases and the 100,000-element drains (BPFBATCH_VM_FULL=1 runs them)"
fi

booted=0
failed=()
missing=()
for label in "${kernels[@]}"; do
  image=$(fetch_kernel "$label") || { echo "vm: kernel $label: could not be downloaded" >&2; missing+=("$label"); continue; }
  for mode in root unprivileged; do
    cmdline="console=ttyS0 panic=-1 loglevel=4 BPFBATCH_REQUIRE_KERNEL=1"
    mode_args="$args"
    if [ "$mode" = unprivileged ]; then
      # The permission suite as uid 65534: everything it may not do is refused.
      cmdline+=" BPFBATCH_VM_UID=65534"
      mode_args="-tc=*as?an?unprivileged?user*"
    fi
    [ -n "$mode_args" ] && cmdline+=" BPFBATCH_VM_ARGS=$mode_args"
    log="$cache/kernels/$label/$mode.log"
    rm -f "$log"
    start=$(date +%s)
    timeout 1500 qemu-system-x86_64 -M pc -m 1024M -smp 2 -nodefaults -no-user-config -display none -monitor none \
      -no-reboot -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 "${accel[@]}" \
      -kernel "$image" -initrd "$initramfs" -append "$cmdline" </dev/null >"$log" 2>&1 || true
    result=$(sed -n 's/.*BPFBATCH-VM-RESULT \([0-9]*\).*/\1/p' "$log" | tail -n 1)
    summary=$(grep -a '\[doctest\] test cases:' "$log" | tail -n 1 | tr -d '\r' || true)
    version=$(sed -n 's/.*BPFBATCH-VM-KERNEL \([^ ]*\).*/\1/p' "$log" | head -n 1 | tr -d '\r')
    echo "vm: $label ($(cat "$cache/kernels/$label/package"), ${version:-unknown release}) $mode:" \
      "${summary:-no summary}, status ${result:-none}, $(($(date +%s) - start)) s"
    booted=$((booted + 1))
    passed=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"${summary:-| 0 passed}")
    if [ "$result" = 0 ] && [ "${passed:-0}" -eq 0 ]; then
      echo "vm: $label $mode ran no test" >&2
      result=none
    fi
    if [ "$result" != 0 ]; then
      failed+=("$label/$mode")
      grep -aE 'ERROR|FAILED|SKIPPED|Kernel panic' "$log" | head -n 20 || true
    fi
  done
done

((${#missing[@]})) && echo "vm: not downloaded: ${missing[*]}" >&2
if ((booted == 0)); then echo "vm: FAILED: no kernel could be booted" >&2; exit 1; fi
if ((${#failed[@]})); then echo "vm: FAILED: ${failed[*]}" >&2; exit 1; fi
echo "vm: every booted kernel passed (${kernels[*]} asked, ${missing[*]:-none} missing)"
