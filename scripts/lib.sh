# Shared helpers for the project's scripts. Sourced, not run.

is_ci() { [ "${CI:-}" = "true" ]; }

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  if [ -z "${TXC_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    export TXC_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_protoc() {
  command -v protoc >/dev/null 2>&1 && return 0
  if can_apt; then
    echo "installing protobuf-compiler" >&2
    apt_install protobuf-compiler
    return 0
  fi
  echo "protoc is missing: install protobuf-compiler" >&2
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    port_open "$1" && return 0
    sleep 0.1
  done
  return 1
}
