#!/usr/bin/env bash
# Shim6 test topology: two multihomed hosts, two ISPs, one router per ISP, in network
# namespaces.
#
#            ISP1 2001:db8:1::/48                      ISP2 2001:db8:2::/48
#
#   2001:db8:1:a::/64   +----+   2001:db8:1:b::/64
#        ::1  eth1 ---- a | r1 | b ---- eth1  ::1
#   +----+        ::ff  +----+  ::ff        +----+
#   | hA |                                  | hB |
#   +----+        ::ff  +----+  ::ff        +----+
#        ::1  eth2 ---- a | r2 | b ---- eth2  ::1
#   2001:db8:2:a::/64   +----+   2001:db8:2:b::/64
#
#   Locators: A1 = 2001:db8:1:a::1  A2 = 2001:db8:2:a::1
#             B1 = 2001:db8:1:b::1  B2 = 2001:db8:2:b::1
#   Routers:  r1 a = 2001:db8:1:a::ff  r1 b = 2001:db8:1:b::ff
#             r2 a = 2001:db8:2:a::ff  r2 b = 2001:db8:2:b::ff
#
# Namespaces for instance ID: s6-hA-ID, s6-hB-ID, s6-r1-ID, s6-r2-ID. The veth pairs are
# created directly inside the namespaces; nothing is ever added to, or changed in, the
# root namespace (its interfaces, routes, rules and firewall are left alone).
#
# Link-local addresses skip DAD too (accept_dad=0 on every interface, set before it goes
# up): a router sends no Neighbor Solicitation for a forwarded packet's next hop until it
# has a non-tentative link-local address on that link (ndisc_send_ns gives up without
# one), so with DAD on, nothing is forwarded for the first 1-2 s after `up` or after a
# link comes back.
#
# Hosts: addresses are added with `nodad`; keep_addr_on_down=1 (a link-down test must not
# renumber the host), accept_ra=0, autoconf=0, forwarding=0. Source-address routing:
#   ip -6 rule from 2001:db8:1::/48 lookup 101 pref 1000  (table 101: default via r1, eth1)
#   ip -6 rule from 2001:db8:2::/48 lookup 102 pref 1001  (table 102: default via r2, eth2)
#   main table: default via r1 (eth1).
# Rule preferences below 1000 are left to the shim6 daemon (it uses 100).
#
# Routers: forwarding=1. Each also routes the hosts' prefixes of the other ISP toward the
# hosts over its own links (r1: 2001:db8:2:a::/64 via A1, 2001:db8:2:b::/64 via B1; r2
# likewise), so all four locator pairs A{1,2} -> B{1,2} work while both ISPs are up.
# nftables table `inet s6` on each router:
#   - ingress filtering (BCP 38) in prerouting: a packet entering from a host link whose
#     source is not that host's prefix of this ISP is dropped and counted in the named
#     counter `ingress_drop` (link-local fe80::/10 and :: stay allowed, for neighbour
#     discovery, DAD and MLD);
#   - silent-loss cuts in forward: the set `cut` holds (in-interface . out-interface)
#     pairs to drop, counted in `cut_drop`;
#   - named counters `fwd_a_to_b` and `fwd_b_to_a` count the packets forwarded per
#     direction (the path a flow took).
#
# Usage: topology.sh COMMAND ID [ARGS...]      (ID: 1-32 of [A-Za-z0-9_-])
#   up ID                          build (tears down leftovers of ID first; on failure
#                                  tears down what it built and exits non-zero)
#   down ID                        kill the processes inside and remove the namespaces
#                                  (never fails if already gone)
#   cut ID isp1|isp2 [both|a-to-b|b-to-a]
#                                  silent 100 % loss in that ISP's router (default both;
#                                  a-to-b is traffic from hA toward hB); idempotent
#   restore ID isp1|isp2           remove that router's cuts
#   linkdown ID a|b isp1|isp2      admin-down the host's interface to that ISP
#   linkup ID a|b isp1|isp2        admin-up it and re-add the routes through it
#   exec ID hA|hB|r1|r2 CMD...     run CMD in that namespace
#   counters ID                    print the routers' nft counters as one JSON line:
#                                  {"r1":{"ingress_drop":{"packets":N,"bytes":N},...},"r2":{...}}
#   ns ID hA|hB|r1|r2              print the namespace name
# Bad arguments: a usage message on stderr and exit 2.
set -euo pipefail

readonly PROG=${0##*/}

usage() {
  cat >&2 <<EOF
usage: $PROG up|down|counters ID
       $PROG cut ID isp1|isp2 [both|a-to-b|b-to-a]
       $PROG restore ID isp1|isp2
       $PROG linkdown|linkup ID a|b isp1|isp2
       $PROG exec ID hA|hB|r1|r2 CMD [ARGS...]
       $PROG ns ID hA|hB|r1|r2
EOF
  exit 2
}

die_usage() {
  echo "$PROG: $*" >&2
  usage
}

check_id() {
  [[ $1 =~ ^[A-Za-z0-9_-]{1,32}$ ]] || die_usage "bad ID '$1' (1-32 of [A-Za-z0-9_-])"
}

check_node() {
  case $1 in hA | hB | r1 | r2) ;; *) die_usage "bad node '$1' (hA|hB|r1|r2)" ;; esac
}

check_isp() {
  case $1 in isp1 | isp2) ;; *) die_usage "bad ISP '$1' (isp1|isp2)" ;; esac
}

ns_name() { # ID NODE
  printf 's6-%s-%s' "$2" "$1"
}

# isp1 -> 1, isp2 -> 2
isp_num() {
  printf '%s' "${1#isp}"
}

ns_exists() {
  [[ -e /run/netns/$1 ]]
}

# Kills what runs inside the namespace (the processes a test left there keep a deleted
# namespace, and its interfaces, alive), then deletes it.
remove_ns() {
  local ns=$1 pids tries=0
  ns_exists "$ns" || return 0
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  if [[ -n $pids ]]; then
    # shellcheck disable=SC2086 # one PID per word
    kill -TERM $pids 2>/dev/null || true
    while [[ -n $pids && $tries -lt 20 ]]; do
      sleep 0.05
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      tries=$((tries + 1))
    done
    if [[ -n $pids ]]; then
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
    fi
  fi
  ip netns del "$ns" 2>/dev/null || true
}

cmd_down() {
  local id=$1 node
  for node in hA hB r1 r2; do
    remove_ns "$(ns_name "$id" "$node")"
  done
}

# The nftables ruleset of router rN: its host links are `a` (hA) and `b` (hB).
router_ruleset() {
  local n=$1
  cat <<EOF
table inet s6 {
	counter ingress_drop {
	}
	counter cut_drop {
	}
	counter fwd_a_to_b {
	}
	counter fwd_b_to_a {
	}
	set cut {
		type ifname . ifname
	}
	chain ingress_filter {
		type filter hook prerouting priority filter; policy accept;
		iifname "a" ip6 saddr != { 2001:db8:$n:a::/64, fe80::/10, :: } counter name "ingress_drop" drop
		iifname "b" ip6 saddr != { 2001:db8:$n:b::/64, fe80::/10, :: } counter name "ingress_drop" drop
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname . oifname @cut counter name "cut_drop" drop
		iifname "a" oifname "b" counter name "fwd_a_to_b"
		iifname "b" oifname "a" counter name "fwd_b_to_a"
	}
}
EOF
}

# Host routes through ethN (the ISP N link): table 10N and, for ISP1, main's default.
# `replace` makes this usable both at setup and after a link-up, since the kernel deletes
# IPv6 routes through an interface when it goes admin-down.
host_routes() {
  local ns=$1 host=$2 n=$3
  local gw="2001:db8:$n:$host::ff"
  ip -n "$ns" -6 route replace "2001:db8:$n:$host::/64" dev "eth$n" table "10$n"
  ip -n "$ns" -6 route replace default via "$gw" dev "eth$n" table "10$n"
  if [[ $n == 1 ]]; then
    ip -n "$ns" -6 route replace default via "$gw" dev eth1
  fi
}

setup_host() {
  local id=$1 node=$2 host=$3 # host: a|b (the subnet letter)
  local ns n
  ns=$(ns_name "$id" "$node")
  ip netns exec "$ns" sysctl -q -w \
    net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1 \
    net.ipv6.conf.all.forwarding=0 \
    net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
    net.ipv6.conf.all.autoconf=0 net.ipv6.conf.default.autoconf=0 \
    net.ipv6.conf.eth1.keep_addr_on_down=1 net.ipv6.conf.eth2.keep_addr_on_down=1 \
    net.ipv6.conf.eth1.accept_ra=0 net.ipv6.conf.eth2.accept_ra=0 \
    net.ipv6.conf.eth1.autoconf=0 net.ipv6.conf.eth2.autoconf=0 \
    net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.eth1.accept_dad=0 net.ipv6.conf.eth2.accept_dad=0 >/dev/null
  for n in 1 2; do
    ip -n "$ns" -6 addr add "2001:db8:$n:$host::1/64" dev "eth$n" nodad
    ip -n "$ns" link set dev "eth$n" up
  done
  for n in 1 2; do
    host_routes "$ns" "$host" "$n"
  done
  ip -n "$ns" -6 rule add from 2001:db8:1::/48 lookup 101 pref 1000
  ip -n "$ns" -6 rule add from 2001:db8:2::/48 lookup 102 pref 1001
}

setup_router() {
  local id=$1 n=$2 other ns
  other=$((3 - n))
  ns=$(ns_name "$id" "r$n")
  ip netns exec "$ns" sysctl -q -w \
    net.ipv6.conf.all.forwarding=1 net.ipv6.conf.default.forwarding=1 \
    net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1 \
    net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
    net.ipv6.conf.all.autoconf=0 net.ipv6.conf.default.autoconf=0 \
    net.ipv6.conf.a.accept_ra=0 net.ipv6.conf.b.accept_ra=0 \
    net.ipv6.conf.a.autoconf=0 net.ipv6.conf.b.autoconf=0 \
    net.ipv6.conf.a.keep_addr_on_down=1 net.ipv6.conf.b.keep_addr_on_down=1 \
    net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.a.accept_dad=0 net.ipv6.conf.b.accept_dad=0 >/dev/null
  router_ruleset "$n" | ip netns exec "$ns" nft -f -
  local side
  for side in a b; do
    ip -n "$ns" -6 addr add "2001:db8:$n:$side::ff/64" dev "$side" nodad
    ip -n "$ns" link set dev "$side" up
    # The host's prefix of the other ISP, through the host's address on this ISP.
    ip -n "$ns" -6 route add "2001:db8:$other:$side::/64" via "2001:db8:$n:$side::1" dev "$side"
  done
}

# Set by cmd_up for its EXIT trap (globals: the trap may run after cmd_up's scope is gone).
UP_ID=''
UP_BUILT=0

up_cleanup() {
  local rc=$?
  if [[ -n $UP_ID && $UP_BUILT != 1 ]]; then
    cmd_down "$UP_ID"
    echo "$PROG: up $UP_ID failed; removed what was built" >&2
    exit $((rc == 0 ? 1 : rc))
  fi
}

cmd_up() {
  local id=$1 node
  cmd_down "$id"
  # On any failure (set -e) or signal, remove whatever was built.
  UP_ID=$id
  trap up_cleanup EXIT
  trap 'exit 130' INT TERM

  for node in hA hB r1 r2; do
    ip netns add "$(ns_name "$id" "$node")"
    ip -n "$(ns_name "$id" "$node")" link set dev lo up
  done
  local hA hB r1 r2
  hA=$(ns_name "$id" hA) hB=$(ns_name "$id" hB) r1=$(ns_name "$id" r1) r2=$(ns_name "$id" r2)
  ip -n "$hA" link add eth1 type veth peer name a netns "$r1"
  ip -n "$hA" link add eth2 type veth peer name a netns "$r2"
  ip -n "$hB" link add eth1 type veth peer name b netns "$r1"
  ip -n "$hB" link add eth2 type veth peer name b netns "$r2"

  setup_router "$id" 1
  setup_router "$id" 2
  setup_host "$id" hA a
  setup_host "$id" hB b
  UP_BUILT=1
  trap - EXIT INT TERM
}

cmd_cut() {
  local id=$1 isp=$2 dir=${3:-both} ns elems
  ns=$(ns_name "$id" "r$(isp_num "$isp")")
  case $dir in
    both) elems='"a" . "b", "b" . "a"' ;;
    a-to-b) elems='"a" . "b"' ;;
    b-to-a) elems='"b" . "a"' ;;
    *) die_usage "bad direction '$dir' (both|a-to-b|b-to-a)" ;;
  esac
  ip netns exec "$ns" nft add element inet s6 cut "{ $elems }"
}

cmd_restore() {
  local id=$1 isp=$2
  ip netns exec "$(ns_name "$id" "r$(isp_num "$isp")")" nft flush set inet s6 cut
}

cmd_link() {
  local updown=$1 id=$2 host=$3 isp=$4 ns n
  case $host in a | b) ;; *) die_usage "bad host '$host' (a|b)" ;; esac
  n=$(isp_num "$isp")
  ns=$(ns_name "$id" "h${host^^}")
  ip -n "$ns" link set dev "eth$n" "$updown"
  if [[ $updown == up ]]; then
    host_routes "$ns" "$host" "$n"
  fi
}

# `nft list counters` as one JSON line per router, merged: {"r1":{...},"r2":{...}}.
cmd_counters() {
  local id=$1 n sep='' body
  printf '{'
  for n in 1 2; do
    body=$(ip netns exec "$(ns_name "$id" "r$n")" nft list counters table inet s6 | awk '
      $1 == "counter" { name = $2 }
      $1 == "packets" && name != "" {
        printf "%s\"%s\":{\"packets\":%s,\"bytes\":%s}", sep, name, $2, $4; sep = ","; name = ""
      }')
    printf '%s"r%s":{%s}' "$sep" "$n" "$body"
    sep=,
  done
  printf '}\n'
}

main() {
  [[ $# -ge 2 ]] || usage
  local cmd=$1 id=$2
  shift 2
  check_id "$id"
  case $cmd in
    up | down | counters)
      [[ $# -eq 0 ]] || usage
      "cmd_$cmd" "$id"
      ;;
    cut)
      [[ $# -ge 1 && $# -le 2 ]] || usage
      check_isp "$1"
      cmd_cut "$id" "$@"
      ;;
    restore)
      [[ $# -eq 1 ]] || usage
      check_isp "$1"
      cmd_restore "$id" "$1"
      ;;
    linkdown | linkup)
      [[ $# -eq 2 ]] || usage
      check_isp "$2"
      cmd_link "${cmd#link}" "$id" "$1" "$2"
      ;;
    exec)
      [[ $# -ge 2 ]] || usage
      check_node "$1"
      local ns
      ns=$(ns_name "$id" "$1")
      shift
      exec ip netns exec "$ns" "$@"
      ;;
    ns)
      [[ $# -eq 1 ]] || usage
      check_node "$1"
      ns_name "$id" "$1"
      echo
      ;;
    *) die_usage "unknown command '$cmd'" ;;
  esac
}

main "$@"
