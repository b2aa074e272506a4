#!/usr/bin/env bash
# Makes sure MariaDB (127.0.0.1:3306, root without password, database test)
# and PostgreSQL (127.0.0.1:5432, trust auth, databases test and postgres)
# are running: starts them when installed and stopped, and on Debian as root
# installs them when missing. Exits non-zero when one cannot be had.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ok=0

mariadb_up() {
  port_open 3306 && return 0
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    can_apt || { echo "databases: MariaDB is not installed and cannot be installed here" >&2; return 1; }
    echo "databases: installing MariaDB" >&2
    apt_install mariadb-server mariadb-client || return 1
  fi
  echo "databases: starting MariaDB" >&2
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql >/dev/null 2>&1 || true
  fi
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1 >/dev/null 2>&1 ||
    (/usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 >/dev/null 2>&1 &)
  wait_port 3306 30
}

mariadb_ready() {
  local sql="CREATE DATABASE IF NOT EXISTS test; "
  # root must be able to log in over TCP without a password.
  if ! mariadb -h127.0.0.1 -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" >/dev/null 2>&1 || true
  fi
  mariadb -h127.0.0.1 -uroot -e "$sql" >/dev/null 2>&1
}

postgres_up() {
  port_open 5432 && return 0
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    can_apt || { echo "databases: PostgreSQL is not installed and cannot be installed here" >&2; return 1; }
    echo "databases: installing PostgreSQL" >&2
    apt_install postgresql || return 1
  fi
  echo "databases: starting PostgreSQL" >&2
  local v
  v=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  if [ -n "$v" ]; then
    # trust auth on loopback for the tests
    local hba=/etc/postgresql/$v/main/pg_hba.conf
    if [ -f "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 || true
  fi
  wait_port 5432 30
}

postgres_ready() {
  psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 ||
    psql -h 127.0.0.1 -U postgres -d postgres -c 'CREATE DATABASE test' >/dev/null 2>&1
  psql -h 127.0.0.1 -U postgres -d test -tAc 'SELECT 1' >/dev/null 2>&1
}

if mariadb_up && mariadb_ready; then
  echo "databases: MariaDB ready on 127.0.0.1:3306"
else
  echo "databases: MariaDB is NOT available on 127.0.0.1:3306" >&2
  ok=1
fi
if postgres_up && postgres_ready; then
  echo "databases: PostgreSQL ready on 127.0.0.1:5432"
else
  echo "databases: PostgreSQL is NOT available on 127.0.0.1:5432" >&2
  ok=1
fi
exit $ok
