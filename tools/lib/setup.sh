# Shared set-up for tools/test, tools/demo and the benchmarks: Debian packages, hugepages, build.
# Idempotent and quiet: prints only when it changes something or fails.

TETHER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TETHER_BUILD=${TETHER_BUILD:-$TETHER_ROOT/build}

# Everything the build, the tests, the demo and the benchmarks use, from Debian's archive only.
TETHER_PACKAGES=(
  build-essential pkg-config meson ninja-build
  libdpdk-dev dpdk dpdk-dev liburing-dev libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libxxhash-dev nlohmann-json3-dev libyaml-cpp-dev libcpp-httplib-dev libcli11-dev libpcap-dev
  gnuplot-nox python3 python3-yaml python3-prometheus-client iproute2 ethtool iputils-ping curl socat
  valgrind procps kmod tcpdump
  haproxy wrk nftables iptables  # issue 5: sticky tests (wrk, nft/iptables impairments) and the HAProxy comparison
)

log_quiet() {  # runs a command, shows its output only if it fails
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    echo "failed: $*" >&2
    return 1
  fi
}

ensure_packages() {
  local missing=()
  for p in "${TETHER_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  log_quiet apt-get update -qq
  log_quiet apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Reserves 2 MiB hugepages when the kernel allows it; DPDK users fall back to --no-huge otherwise
# (tether_eal_memory_args prints the right EAL flags for either case).
ensure_hugepages() {
  local want=${TETHER_HUGEPAGES:-1024}
  if [ -w /proc/sys/vm/nr_hugepages ] && [ "$(cat /proc/sys/vm/nr_hugepages)" -lt "$want" ]; then
    echo "$want" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
  fi
  if ! mountpoint -q /dev/hugepages 2>/dev/null; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
  fi
}

tether_eal_memory_args() {
  local free
  free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  if mountpoint -q /dev/hugepages 2>/dev/null && [ "${free:-0}" -ge 256 ]; then
    echo "--in-memory"
  else
    echo "--no-huge -m 1024 --no-shconf"
  fi
}

build_tether() {
  local opts=("$@")
  if [ ! -f "$TETHER_BUILD/build.ninja" ]; then
    log_quiet meson setup "$TETHER_BUILD" "$TETHER_ROOT" "${opts[@]}"
  fi
  log_quiet ninja -C "$TETHER_BUILD"
}
