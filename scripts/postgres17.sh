#!/usr/bin/env bash
# Builds a PostgreSQL of version 17 or later (the server programs only)
# from a Debian source package into a private prefix, for the tests of
# what older servers lack (datasource/postgres MERGE … RETURNING). Debian
# bookworm ships PostgreSQL 15 only, and the binary packages of later
# Debian releases need a newer glibc, so the source is fetched through apt
# (private apt state: the system's sources are not touched) and compiled
# with the system's gcc. Nothing else is downloaded.
#
# Prefix: $TXC_PG17_PREFIX, default /var/cache/txc/postgresql-17 (readable
# by the OS user postgres, which runs the test servers when the tests run
# as root). A prefix holding bin/postgres is reused. Prints the prefix.
# Exits non-zero when it cannot build.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

prefix=${TXC_PG17_PREFIX:-/var/cache/txc/postgresql-17}

[ -x "$prefix/bin/postgres" ] && [ -x "$prefix/bin/initdb" ] && { echo "$prefix"; exit 0; }

mkdir -p "$(dirname "$prefix")"
# One build at a time: test packages run in parallel and each may ask.
exec 9>"$prefix.lock"
flock 9
[ -x "$prefix/bin/postgres" ] && [ -x "$prefix/bin/initdb" ] && { echo "$prefix"; exit 0; }

command -v apt-get >/dev/null || { echo "postgres17: apt-get is needed to fetch the source" >&2; exit 1; }
# The compiler, and bison and flex (PostgreSQL 18's release tarball no
# longer carries the generated parsers), from the system's own Debian.
missing=()
for tool in gcc make bison flex perl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  can_apt || { echo "postgres17: ${missing[*]} needed" >&2; exit 1; }
  echo "postgres17: installing ${missing[*]}" >&2
  apt_install "${missing[@]}"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/txc-pg17-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

# Private apt state: one suite's deb-src only, lists and cache in $work.
# fetch suite package: downloads the package's source into $work/src.
fetch() {
  local suite=$1 pkg=$2
  rm -rf "$work/lists" "$work/cache" "$work/src"
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
  cat >"$work/apt.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  local opts=(-o "Dir::Etc::sourcelist=$work/apt.sources" -o Dir::Etc::sourceparts=- \
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root -qq)
  echo "postgres17: fetching the source of $pkg (Debian $suite) through apt" >&2
  apt-get "${opts[@]}" update >/dev/null &&
    (cd "$work/src" && apt-get "${opts[@]}" source --download-only "$pkg" >/dev/null)
}

# Trixie's PostgreSQL 17, else sid's PostgreSQL 18 (MERGE … RETURNING is
# in both; the archive's mirror may not serve every version it lists).
fetched=
for cand in trixie:postgresql-17 sid:postgresql-18; do
  if fetch "${cand%%:*}" "${cand#*:}"; then fetched=${cand#*:}; break; fi
done
[ -n "$fetched" ] || { echo "postgres17: no PostgreSQL 17 or later source could be fetched through apt" >&2; exit 1; }
orig=$(ls "$work"/src/"$fetched"_*.orig.tar.* | grep -v '\.asc$' | head -1)
tar -xf "$orig" -C "$work/src"
srcdir=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name "postgresql-*" | head -1)

echo "postgres17: building $(basename "$srcdir") into $prefix" >&2
cd "$srcdir"
./configure --prefix="$prefix" --without-icu --without-readline --without-zlib \
  --without-openssl --without-llvm >"$work/configure.log" 2>&1 ||
  { tail -30 "$work/configure.log" >&2; exit 1; }
# The generated headers first, alone: a parallel build once compiled a
# file that includes utils/errcodes.h before that header existed.
make -s -C src/backend generated-headers >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; exit 1; }
make -j"$(nproc)" -s >>"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; exit 1; }
make -s install DESTDIR="$work/dest" >"$work/install.log" 2>&1 || { tail -30 "$work/install.log" >&2; exit 1; }
# Staged, then moved into place whole: a prefix is either complete or absent.
rm -rf "$prefix"
mv "$work/dest$prefix" "$prefix"
chmod -R a+rX "$prefix"
echo "postgres17: built in $(($(date +%s) - start)) s" >&2
echo "$prefix"
