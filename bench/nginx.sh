# bench/nginx.sh: sourced by the bench scripts. nginx_conf DIR PORT writes
# DIR/nginx.conf: the peer the benchmarks run beside revd, one worker,
# 4,096 connections, no access log, serving DIR/www on 127.0.0.1:PORT, and
# its counters (stub_status) at /nginx-status (start it with
# `taskset -c 0 nginx -c DIR/nginx.conf`).
nginx_conf() {
    cat >"$1/nginx.conf" <<NGX
worker_processes 1;
pid $1/nginx.pid;
error_log $1/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$2;
  location / { root $1/www; default_type application/octet-stream; }
  location = /nginx-status { stub_status; } } }
NGX
}
