# Shared by the bench/*.sh scripts (sourced, not run).

# Installs Debian's redis-server and redis-tools unless redis-server, redis-benchmark and
# redis-cli are all on the PATH.
ensure_redis() {
  if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null \
      && command -v redis-cli >/dev/null; then
    return
  fi
  echo "installing redis-server and redis-tools from Debian packages" >&2
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools >/dev/null
}

# Waits (10 s at most) until the server on port $1 answers PING with PONG (not -LOADING);
# exits the script otherwise.
wait_port() {
  for _ in $(seq 100); do
    redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return
    sleep 0.1
  done
  echo "port $1 did not answer" >&2
  exit 1
}

# Builds ringkv in release mode (in $CARGO_TARGET_DIR, default target/) and runs the Python
# benchmark $1 against it with the remaining arguments.
run_bench_py() {
  local script=$1
  shift
  ensure_redis
  cargo build --release -p ringkv
  python3 "$script" --ringkv "${CARGO_TARGET_DIR:-target}/release/ringkv" "$@"
}
