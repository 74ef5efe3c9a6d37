# tests/cli/natslib.sh: NATS servers for the CLI tests, sourced after lib.sh.
#
# Real nats-server processes on loopback, each with its config, pid, log and
# JetStream store under a directory of the test's own (under $T), stopped by
# pid. Built on the natsh_* functions of scripts/nats.sh (one port plan, one
# config writer). A server named NAME in DIR: DIR/NAME.conf, .pid, .log and
# DIR/NAME/ (its store). Each function waits until its servers answer
# /healthz (JetStream up, in a cluster a meta leader), up to 30 s, and calls
# `fail` otherwise. A test that needs NATS calls nats_require first: it skips
# (exit 77) when nats-server is not installed.
#
#   nats_require
#   nats_start DIR PORT                one JetStream server "solo" (domain hub):
#                                      client PORT, monitoring PORT+1,
#                                      leafnode listener PORT+3
#   nats_cluster_start DIR BASEPORT    hub1..hub3, an R3-capable cluster
#                                      (domain hub): server i uses
#                                      BASEPORT+4(i-1) .. +3 (client,
#                                      monitoring, route, leafnode listener)
#   nats_leaf_start DIR PORT HUBLEAFPORTS DOMAIN
#                                      a leaf server named DOMAIN, JetStream
#                                      domain DOMAIN, client PORT, monitoring
#                                      PORT+1, remote to the hub's leafnode
#                                      ports (comma-separated)
#   nats_url DIR NAME                  a server's client URL ("hub": every hubN)
#   nats_stop DIR                      TERM, then KILL after 5 s, every server
#                                      whose pid file is in DIR
#
# Every pid is also added to BG_PIDS, so lib.sh's exit trap kills what a
# failing test left running.

. "$REPO_ROOT/scripts/nats.sh"

nats_require() {
    command -v nats-server >/dev/null 2>&1 || skip "nats-server is not installed (scripts/deps.sh test)"
    command -v curl >/dev/null 2>&1 || skip "curl is not installed"
}

_nats_track() { BG_PIDS="$BG_PIDS $(cat "$1/$2.pid")"; }

nats_start() {
    local dir=$1 p=$2
    mkdir -p "$dir"
    natsh_conf "$dir/solo.conf" solo "$dir/solo" "$p" $((p + 1)) hub "" "" $((p + 3)) ""
    natsh_launch "$dir" solo "$p" $((p + 1)) || fail "nats_start: could not start nats-server"
    _nats_track "$dir" solo
    natsh_wait "$dir" solo 2>"$T/.natserr" || fail "nats_start: $(cat "$T/.natserr")"
}

nats_cluster_start() {
    local dir=$1 base=$2 i p routes="" name
    mkdir -p "$dir"
    for i in 0 1 2; do routes="$routes${routes:+, }nats-route://127.0.0.1:$((base + 4 * i + 2))"; done
    for i in 0 1 2; do
        p=$((base + 4 * i)); name=hub$((i + 1))
        natsh_conf "$dir/$name.conf" "$name" "$dir/$name" $p $((p + 1)) hub $((p + 2)) "$routes" $((p + 3)) ""
        natsh_launch "$dir" "$name" $p $((p + 1)) || fail "nats_cluster_start: could not start $name"
        _nats_track "$dir" "$name"
    done
    for i in 1 2 3; do
        natsh_wait "$dir" hub$i 2>"$T/.natserr" || fail "nats_cluster_start: $(cat "$T/.natserr")"
    done
}

nats_leaf_start() {
    local dir=$1 p=$2 hubports=$3 domain=$4 remotes="" hp
    mkdir -p "$dir"
    for hp in ${hubports//,/ }; do remotes="$remotes${remotes:+, }\"nats-leaf://127.0.0.1:$hp\""; done
    natsh_conf "$dir/$domain.conf" "$domain" "$dir/$domain" "$p" $((p + 1)) "$domain" "" "" "" "$remotes"
    natsh_launch "$dir" "$domain" "$p" $((p + 1)) || fail "nats_leaf_start: could not start $domain"
    _nats_track "$dir" "$domain"
    natsh_wait "$dir" "$domain" 2>"$T/.natserr" || fail "nats_leaf_start: $(cat "$T/.natserr")"
}

nats_url() { natsh_url "$1" "$2" 2>"$T/.natserr" || fail "nats_url: $(cat "$T/.natserr")"; }

nats_stop() { natsh_stop "$1"; }
