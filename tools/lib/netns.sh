# shellcheck shell=bash
# Network-namespace helpers for tools/topology (and anything else that builds test networks).
# Source it; every function works only inside the namespaces it is given and never changes the
# root namespace. Requires iproute2 and ethtool; run as root.

# netns_exists NS: true when NS is a named namespace (`ip netns list` may print "NS (id: 3)").
netns_exists() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$1"
}

# netns_pids NS...: pids of every process whose network namespace is one of NS (one per line).
netns_pids() {
  local ns
  for ns in "$@"; do
    if netns_exists "$ns"; then ip netns pids "$ns" 2>/dev/null || true; fi
  done
}

# netns_kill_all GRACE_S NS...: SIGTERM every process in the namespaces, wait up to GRACE_S seconds,
# then SIGKILL what is left and wait for it to be gone. Loops, so processes forked while we kill
# (a shell that spawns a child) are caught too. Returns 1 if something survives SIGKILL.
netns_kill_all() {
  local grace=$1; shift
  local pids deadline sig=TERM rounds=0
  deadline=$(( $(date +%s%N) / 1000000 + grace * 1000 ))
  while :; do
    pids=$(netns_pids "$@" | sort -u | tr '\n' ' ')
    [ -z "${pids// /}" ] && return 0
    if [ "$sig" = TERM ] && [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ]; then
      sig=KILL
    fi
    # shellcheck disable=SC2086
    kill -s "$sig" $pids 2>/dev/null || true
    sleep 0.1
    rounds=$((rounds + 1))
    if [ "$sig" = KILL ] && [ "$rounds" -gt $(( grace * 10 + 100 )) ]; then
      echo "netns: processes survive SIGKILL in $*: $pids" >&2
      return 1
    fi
  done
}

# netns_delete NS...: kill everything inside, then delete the namespaces (absent ones are skipped).
netns_delete() {
  local ns rc=0
  netns_kill_all 3 "$@" || rc=1
  for ns in "$@"; do
    if netns_exists "$ns"; then
      ip netns delete "$ns" 2>/dev/null || { echo "netns: cannot delete $ns" >&2; rc=1; }
    fi
  done
  return $rc
}

# netns_sysctl NS key=value...: sysctl -w inside NS, quietly.
netns_sysctl() {
  local ns=$1; shift
  ip netns exec "$ns" sysctl -qw "$@" >/dev/null
}

# netns_no_offload NS DEV: turn off checksum offload and every segmentation/coalescing offload.
# Needed on veths in front of af_packet/DPDK: with tx checksum offload on, the kernel hands frames
# to the peer with CHECKSUM_PARTIAL (no checksum computed), and with TSO/GSO/GRO a "frame" can be
# 64 KiB, which a real wire would never carry. Fails if one of them stays on.
netns_no_offload() {
  local ns=$1 dev=$2 f left
  ip netns exec "$ns" ethtool -K "$dev" rx off tx off sg off tso off gso off gro off \
    >/dev/null 2>&1 || true
  for f in lro rx-gro-list rx-udp-gro-forwarding tx-udp-segmentation; do
    ip netns exec "$ns" ethtool -K "$dev" "$f" off >/dev/null 2>&1 || true
  done
  left=$(ip netns exec "$ns" ethtool -k "$dev" | awk -F': ' '
    /^(rx-checksumming|tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):/ &&
    $2 ~ /^on/ {print $1}')
  if [ -n "$left" ]; then
    echo "netns: $ns/$dev: cannot turn off: $left" >&2
    return 1
  fi
}
