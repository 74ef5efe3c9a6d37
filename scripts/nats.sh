#!/usr/bin/env bash
# scripts/nats.sh: the NATS topology of docs/edge.md on loopback, for the demo
# and the tests: a JetStream hub (one server or a 3-node cluster, JetStream
# domain "hub") and N leaf-node servers (domains site1..siteN), each leaf a
# site's local server that edges read.
#
#   scripts/nats.sh start DIR [--port BASE] [--cluster 1|3] [--leaves N]
#   scripts/nats.sh stop DIR
#   scripts/nats.sh url DIR NAME      NAME: hub1..hub3, site1..siteN, or "hub"
#                                     (every hub server's URL, comma-separated)
#   scripts/nats.sh status DIR
#
# Ports: server k (hubs first, then leaves) takes the block BASE+4k ..
# BASE+4k+3: client, monitoring (HTTP /healthz), cluster route, leafnode
# listener (BASE defaults to 4222). Everything a server writes stays in DIR:
# NAME.conf, NAME.pid, NAME.log, NAME/ (its JetStream store); DIR/servers has
# one line "NAME CLIENTURL MONITORPORT" per server started. `stop` stops by
# the pids in DIR (TERM, then KILL after 5 s) and nothing else.
#
# Sourced (`. scripts/nats.sh`), it only defines the natsh_* functions, which
# tests/cli/natslib.sh builds on. Exit status: 0 done, 1 failed (one line on
# stderr saying what), 2 usage.

natsh_die() { echo "nats.sh: $*" >&2; return 1; }

# natsh_conf FILE NAME STORE CLIENT MON DOMAIN CLUSTERPORT ROUTES LEAFLISTEN
#            LEAFREMOTES: writes one server's config. CLUSTERPORT, LEAFLISTEN
# empty: no cluster / no leafnode listener. ROUTES: "nats-route://..., ...".
# LEAFREMOTES: "nats-leaf://..., ..." (one remote with several URLs).
natsh_conf() {
    local f=$1 name=$2 store=$3 client=$4 mon=$5 domain=$6
    local cport=$7 routes=$8 llisten=$9 lremotes=${10}
    {
        echo "server_name: $name"
        echo "listen: 127.0.0.1:$client"
        echo "http: 127.0.0.1:$mon"
        echo "jetstream {"
        echo "  store_dir: \"$store\""
        echo "  domain: $domain"
        echo "}"
        if [ -n "$cport" ]; then
            echo "cluster {"
            echo "  name: revd-$domain"
            echo "  listen: 127.0.0.1:$cport"
            echo "  routes: [$routes]"
            echo "}"
        fi
        if [ -n "$llisten" ]; then
            echo "leafnodes { listen: 127.0.0.1:$llisten }"
        fi
        if [ -n "$lremotes" ]; then
            echo "leafnodes { remotes: [ { urls: [$lremotes] } ] }"
        fi
    } >"$f"
}

# natsh_launch DIR NAME CLIENT MON: starts nats-server on DIR/NAME.conf in
# the background, its pid in DIR/NAME.pid, its output in DIR/NAME.log.
natsh_launch() {
    local dir=$1 name=$2 client=$3 mon=$4
    command -v nats-server >/dev/null 2>&1 || { natsh_die "nats-server is not installed (scripts/deps.sh)"; return 1; }
    mkdir -p "$dir/$name" || return 1
    # setsid: the server outlives this script and a Ctrl-C at the terminal.
    setsid nats-server -c "$dir/$name.conf" >"$dir/$name.log" 2>&1 </dev/null &
    echo $! >"$dir/$name.pid"
    echo "$name nats://127.0.0.1:$client $mon" >>"$dir/servers"
}

# natsh_http_ok PORT PATH: 0 when GET http://127.0.0.1:PORT/PATH answers
# 200 within 2 s (curl where installed, else bash's /dev/tcp).
natsh_http_ok() {
    local port=$1 path=$2 line=""
    if command -v curl >/dev/null 2>&1; then
        curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port$path"
        return
    fi
    { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
    read -r -t 2 line <&3
    exec 3<&-
    [[ "$line" == "HTTP/1."?" 200"* ]]
}

# natsh_wait DIR NAME [SECONDS]: waits until NAME answers /healthz on its
# monitoring port (200 once JetStream is up and, in a cluster, has a meta
# leader), up to SECONDS (default 30). 1 if it died or did not answer.
natsh_wait() {
    local dir=$1 name=$2 secs=${3:-30} mon pid i
    mon=$(awk -v n="$name" '$1 == n { p = $3 } END { print p }' "$dir/servers" 2>/dev/null)
    pid=$(cat "$dir/$name.pid" 2>/dev/null)
    [ -n "$mon" ] && [ -n "$pid" ] || { natsh_die "$name: not started in $dir"; return 1; }
    for ((i = 0; i < secs * 10; i++)); do
        natsh_http_ok "$mon" /healthz && return 0
        kill -0 "$pid" 2>/dev/null || {
            natsh_die "$name exited: $(tail -3 "$dir/$name.log" | tr '\n' ' ')"; return 1; }
        sleep 0.1
    done
    natsh_die "$name did not answer http://127.0.0.1:$mon/healthz within ${secs}s (see $dir/$name.log)"
}

# natsh_stop DIR: TERM every server whose pid file is in DIR, KILL those
# still alive after 5 s; removes the pid files and DIR/servers.
natsh_stop() {
    local dir=$1 f pid pids="" i alive
    for f in "$dir"/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        case "$pid" in '' | *[!0-9]*) continue ;; esac
        kill -TERM "$pid" 2>/dev/null && pids="$pids $pid"
    done
    for ((i = 0; i < 50; i++)); do
        alive=""
        for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    for pid in $alive; do kill -KILL "$pid" 2>/dev/null; done
    rm -f "$dir"/*.pid "$dir/servers"
    return 0
}

# natsh_url DIR NAME: a server's client URL; "hub": every hubN's, comma-separated.
natsh_url() {
    local dir=$1 name=$2 u
    if [ "$name" = hub ]; then
        u=$(awk '$1 ~ /^hub[0-9]*$/ { printf "%s%s", s, $2; s = "," }' "$dir/servers" 2>/dev/null)
    else
        u=$(awk -v n="$name" '$1 == n { p = $2 } END { print p }' "$dir/servers" 2>/dev/null)
    fi
    [ -n "$u" ] || { natsh_die "no server named $name in $dir/servers"; return 1; }
    echo "$u"
}

# natsh_start DIR BASE CLUSTER LEAVES: the whole topology (see the top);
# the one place the port plan is spelt out. Prints "NAME URL" per server.
natsh_start() {
    local dir=$1 base=$2 cluster=$3 leaves=$4 i k p routes="" lremotes="" name
    mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
    [ -s "$dir/servers" ] && { natsh_die "$dir already has servers (scripts/nats.sh stop $dir)"; return 1; }
    for ((i = 0; i < cluster; i++)); do
        p=$((base + 4 * i))
        [ "$cluster" -gt 1 ] && routes="$routes${routes:+, }nats-route://127.0.0.1:$((p + 2))"
        lremotes="$lremotes${lremotes:+, }\"nats-leaf://127.0.0.1:$((p + 3))\""
    done
    for ((i = 0; i < cluster; i++)); do
        p=$((base + 4 * i)); name=hub$((i + 1))
        if [ "$cluster" -gt 1 ]; then
            natsh_conf "$dir/$name.conf" "$name" "$dir/$name" $p $((p + 1)) hub $((p + 2)) "$routes" $((p + 3)) ""
        else
            natsh_conf "$dir/$name.conf" "$name" "$dir/$name" $p $((p + 1)) hub "" "" $((p + 3)) ""
        fi
        natsh_launch "$dir" "$name" $p $((p + 1)) || return 1
    done
    for ((i = 0; i < cluster; i++)); do natsh_wait "$dir" hub$((i + 1)) || return 1; done
    for ((k = 1; k <= leaves; k++)); do
        p=$((base + 4 * (cluster + k - 1))); name=site$k
        natsh_conf "$dir/$name.conf" "$name" "$dir/$name" $p $((p + 1)) "$name" "" "" "" "$lremotes"
        natsh_launch "$dir" "$name" $p $((p + 1)) || return 1
    done
    for ((k = 1; k <= leaves; k++)); do natsh_wait "$dir" site$k || return 1; done
    awk '{ print $1, $2 }' "$dir/servers"
}

natsh_usage() {
    echo "usage: scripts/nats.sh start DIR [--port BASE] [--cluster 1|3] [--leaves N]" >&2
    echo "       scripts/nats.sh stop DIR | url DIR NAME | status DIR" >&2
    return 2
}

natsh_main() {
    local cmd=${1:-} dir=${2:-} base=4222 cluster=3 leaves=0
    [ -n "$cmd" ] && [ -n "$dir" ] || { natsh_usage; return; }
    shift 2
    case "$cmd" in
    start)
        while [ $# -gt 0 ]; do
            case "$1" in
            --port) base=${2:-}; shift 2 || { natsh_usage; return; } ;;
            --cluster) cluster=${2:-}; shift 2 || { natsh_usage; return; } ;;
            --leaves) leaves=${2:-}; shift 2 || { natsh_usage; return; } ;;
            *) natsh_usage; return ;;
            esac
        done
        [ "$cluster" = 1 ] || [ "$cluster" = 3 ] || { natsh_usage; return; }
        [[ "$base" =~ ^[0-9]{4,5}$ && "$leaves" =~ ^[0-9]{1,3}$ ]] && [ "$base" -ge 1024 ] &&
            [ $((base + 4 * (cluster + leaves))) -le 65536 ] || { natsh_usage; return; }
        natsh_start "$dir" "$base" "$cluster" "$leaves" || { natsh_stop "$dir"; return 1; }
        ;;
    stop) natsh_stop "$dir" ;;
    url) [ $# -eq 1 ] || { natsh_usage; return; }; natsh_url "$dir" "$1" ;;
    status)
        local name url mon
        [ -f "$dir/servers" ] || { natsh_die "no servers started in $dir"; return; }
        while read -r name url mon; do
            if natsh_http_ok "$mon" /healthz; then echo "$name $url ok"
            else echo "$name $url down"; fi
        done <"$dir/servers"
        ;;
    *) natsh_usage ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    natsh_main "$@"
    exit $?
fi
