#!/bin/sh
# scripts/deps.sh run|test|fuzz|bench: installs the Debian packages revd needs (run),
# its test suite needs (test), the libFuzzer build needs (fuzz) or the
# benchmarks' peers need (bench), only those missing. Needs root (or sudo) when
# anything is missing; says what to install otherwise.
set -e
RUN_PKGS="build-essential pkg-config libssl-dev openssl librocksdb-dev libevent-dev liburing-dev libzstd-dev libjansson-dev libnats-dev nats-server libcurl4-openssl-dev"
TEST_PKGS="$RUN_PKGS libcmocka-dev python3 python3-cryptography gnutls-bin faketime nginx-light golang-go rocksdb-tools python3-prometheus-client softhsm2 libengine-pkcs11-openssl caddy varnish lego certbot uacme pebble golang-golang-x-crypto-dev"
case "$1" in
  run) want="$RUN_PKGS" ;;
  test) want="$TEST_PKGS" ;;
  fuzz) want="$RUN_PKGS clang" ;;
  bench) want="$RUN_PKGS python3 python3-cryptography nginx-light curl golang-cfssl gnuplot-nox" ;;
  *) echo "usage: scripts/deps.sh run|test|fuzz|bench" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "revd: installing Debian packages:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "revd: need root to install:$missing (run: apt-get install$missing)" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
