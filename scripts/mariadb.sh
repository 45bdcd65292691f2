#!/usr/bin/env bash
# A throwaway MariaDB server for the local twin and its tests: the stand-in of the source's
# RDS MySQL 8.4 (lib/source/source-stack.ts), on loopback only, never the system service.
#
#   scripts/mariadb.sh start <dir> <port>   fresh datadir and TLS files under <dir>, server on
#                                           127.0.0.1:<port>; prints one JSON line (host, port,
#                                           socket, caFile, adminUser, adminPassword, pidFile, dataDir)
#   scripts/mariadb.sh stop <dir>           shuts that server down; safe to call twice
#
# Like the RDS instance: TLS required on TCP (require_secure_transport, a throwaway CA and a
# certificate for 127.0.0.1 and localhost), row-based binlog (CDC), UTC, MySQL 8.4's default
# sql_mode, utf8mb4 with MySQL 8's default collation, and an admin user with every privilege and
# the grant option (RDS's master user). The server reads no option file (--no-defaults), binds
# 127.0.0.1 only and keeps its socket, pid file and logs in <dir>. Run as root or not.
# Needs Debian's mariadb-server (apt-get install -y mariadb-server) and openssl.
# MARIADB_START_TIMEOUT (seconds, default 60) bounds the wait for the server to accept connections.
set -euo pipefail

usage() {
  echo "usage: $0 start <dir> <port> | $0 stop <dir>" >&2
  exit 2
}

fail() {
  echo "mariadb.sh: $*" >&2
  exit 1
}

# Debian puts mariadbd in /usr/sbin, which a non-root PATH may lack.
find_tool() {
  local name=$1 candidate
  if candidate=$(command -v "$name" 2>/dev/null); then
    echo "$candidate"
    return 0
  fi
  for candidate in "/usr/sbin/$name" "/usr/bin/$name" "/usr/local/sbin/$name" "/usr/local/bin/$name"; do
    if [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# A JSON string literal (paths may hold quotes or backslashes; control characters are refused).
json_string() {
  local value=$1
  if [[ $value == *[[:cntrl:]]* ]]; then
    fail "cannot put a value with control characters into the JSON line: ${value@Q}"
  fi
  value=${value//\\/\\\\}
  value=${value//\"/\\\"}
  printf '"%s"' "$value"
}

# The pid in <dir>/mariadb.pid when that process is alive and is a mariadbd (not a recycled pid).
running_pid() {
  local pid_file=$1 pid
  [ -s "$pid_file" ] || return 1
  pid=$(tr -dc '0-9' <"$pid_file")
  [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/comm" ]; then
    case "$(cat "/proc/$pid/comm")" in
      mariadbd | mysqld) ;;
      *) return 1 ;;
    esac
  fi
  echo "$pid"
}

# Waits up to $2 seconds for process $1 to exit.
wait_exit() {
  local pid=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

make_tls() {
  local tls=$1
  mkdir -p "$tls"
  chmod 700 "$tls"
  local subject="/O=Undercurrent local twin"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 \
    -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" \
    -subj "$subject/CN=Undercurrent twin throwaway CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -sha256 \
    -keyout "$tls/server-key.pem" -out "$tls/server.csr" \
    -subj "$subject/CN=127.0.0.1" 2>/dev/null
  printf '%s\n' \
    'basicConstraints=critical,CA:FALSE' \
    'keyUsage=critical,digitalSignature,keyEncipherment' \
    'extendedKeyUsage=serverAuth' \
    'subjectAltName=IP:127.0.0.1,DNS:localhost' >"$tls/server.ext"
  openssl x509 -req -sha256 -days 30 -in "$tls/server.csr" \
    -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial \
    -extfile "$tls/server.ext" -out "$tls/server-cert.pem" 2>/dev/null
  # Throwaway: nothing else is ever signed with this CA.
  rm -f "$tls/ca-key.pem" "$tls/server.csr" "$tls/server.ext" "$tls/ca.srl"
  chmod 600 "$tls/server-key.pem"
  chmod 644 "$tls/ca.pem" "$tls/server-cert.pem"
}

# The server's character-set directory plus MySQL 8's default collation, which MariaDB 10.11
# lacks (11.4.5 adds it as an alias): utf8mb4_0900_ai_ci with MySQL's id 255, accent- and
# case-insensitive and NO PAD as in MySQL, built on MariaDB's UCA 4.0.0 weights (MySQL uses UCA
# 9.0.0: the orders differ for characters outside UCA 4.0.0, e.g. emoji, which all compare equal
# here). The rule is a no-op tailoring; a collation with no rule or with a UCA version setting
# crashes mariadbd 10.11 at startup. Without it the migrations' COLLATE clauses are rejected.
make_charsets() {
  local mariadbd=$1 target=$2 source
  source=$("$mariadbd" --no-defaults --verbose --help 2>/dev/null | awk '$1 == "character-sets-dir" { print $2 }')
  [ -n "$source" ] && [ -r "$source/Index.xml" ] || fail "cannot find mariadbd's character-sets-dir (Index.xml); reinstall mariadb-server."
  mkdir -p "$target"
  cp "$source"/*.xml "$target/"
  # MariaDB 11.4.5 and later know the collation (MDEV-20912): nothing to add.
  local version
  version=$("$mariadbd" --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1)
  if [ "$(printf '%s\n' 11.4.5 "$version" | sort -V | head -n 1)" = 11.4.5 ]; then
    return 0
  fi
  awk '
    /<\/charsets>/ {
      print "<charset name=\"utf8mb4\">"
      print "  <collation name=\"utf8mb4_0900_ai_ci\" id=\"255\">"
      print "    <flag>nopad</flag>"
      print "    <rules><reset>a</reset><i>a</i></rules>"
      print "  </collation>"
      print "</charset>"
    }
    { print }
  ' "$source/Index.xml" >"$target/Index.xml"
}

start() {
  local dir=$1 port=$2
  [[ $port =~ ^[0-9]+$ ]] && ((port >= 1 && port <= 65535)) || fail "port must be an integer from 1 to 65535 (got '$port')."

  local mariadbd install_db client
  mariadbd=$(find_tool mariadbd) || fail "mariadbd is not installed: run apt-get install -y mariadb-server (Debian's package)."
  install_db=$(find_tool mariadb-install-db) || fail "mariadb-install-db is not installed: run apt-get install -y mariadb-server."
  client=$(find_tool mariadb) || fail "the mariadb client is not installed: run apt-get install -y mariadb-server."
  command -v openssl >/dev/null || fail "openssl is not installed: run apt-get install -y openssl."

  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  local data="$dir/data" tls="$dir/tls" socket="$dir/mariadb.sock" pid_file="$dir/mariadb.pid"
  local error_log="$dir/error.log"
  if running_pid "$pid_file" >/dev/null; then
    fail "a server from $dir is already running (pid $(cat "$pid_file")): run '$0 stop $dir' first."
  fi
  if [ -e "$data" ]; then
    fail "$data already exists: start initializes a fresh datadir; give a new directory or remove that one."
  fi
  # sun_path holds 108 bytes with the terminating NUL.
  ((${#socket} <= 107)) || fail "the socket path $socket is longer than 107 bytes: use a shorter <dir>."

  local os_user run_as=()
  os_user=$(id -un)
  # mariadbd refuses to run as root unless told to; the files then belong to root.
  if [ "$(id -u)" = 0 ]; then run_as=(--user=root); fi

  make_tls "$tls"
  make_charsets "$mariadbd" "$dir/charsets"

  # Socket authentication only: root@localhost and the caller's OS account log in through the
  # socket in <dir>, with no password anywhere; over TCP only the admin user created below exists.
  if ! "$install_db" --no-defaults "${run_as[@]}" --datadir="$data" \
    --auth-root-authentication-method=socket --auth-root-socket-user="$os_user" \
    --skip-test-db --skip-name-resolve --innodb-log-file-size=48M >"$dir/install-db.log" 2>&1; then
    echo "mariadb.sh: mariadb-install-db failed; last lines of $dir/install-db.log:" >&2
    tail -n 20 "$dir/install-db.log" >&2
    exit 1
  fi

  # MySQL 8.4's default collation, defined by make_charsets on MariaDB 10.11.
  local collation=utf8mb4_0900_ai_ci
  local options=(
    --no-defaults
    "${run_as[@]}"
    --datadir="$data"
    --socket="$socket"
    --pid-file="$pid_file"
    --log-error="$error_log"
    --bind-address=127.0.0.1
    --port="$port"
    --skip-name-resolve
    # TLS: required on TCP (the socket counts as secure, as in MySQL), TLS 1.2 and 1.3.
    --require-secure-transport=ON
    --ssl-ca="$tls/ca.pem"
    --ssl-cert="$tls/server-cert.pem"
    --ssl-key="$tls/server-key.pem"
    --tls-version=TLSv1.2,TLSv1.3
    # Binlog for CDC, as the RDS parameter group sets it (binlog_format=ROW, full row images).
    --log-bin="$data/binlog"
    --binlog-format=ROW
    --binlog-row-image=FULL
    --server-id=1
    # MySQL 8.4's defaults where MariaDB's differ.
    --sql-mode=ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION
    --character-sets-dir="$dir/charsets/"
    --character-set-server=utf8mb4
    --collation-server="$collation"
    --explicit-defaults-for-timestamp=ON
    --default-storage-engine=InnoDB
    --transaction-isolation=REPEATABLE-READ
    --lower-case-table-names=0
    # RDS runs in UTC.
    --default-time-zone=+00:00
    # A small, throwaway server: little memory; durability of a crash is not needed.
    --innodb-buffer-pool-size=64M
    --innodb-log-file-size=48M
    --innodb-flush-log-at-trx-commit=2
    --sync-binlog=0
    --skip-symbolic-links
    --local-infile=0
  )
  # Background, with no tie to the caller's stdio (execFile waits for its pipes to close).
  "$mariadbd" "${options[@]}" </dev/null >>"$dir/mariadbd.out" 2>&1 &
  local pid=$!

  local timeout=${MARIADB_START_TIMEOUT:-60} started=0 i
  local sql=("$client" --no-defaults --protocol=socket --socket="$socket" --user="$os_user" --batch --skip-column-names)
  for ((i = 0; i < timeout * 10; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    if "${sql[@]}" -e 'SELECT 1' >/dev/null 2>&1; then
      started=1
      break
    fi
    sleep 0.1
  done
  if ((started == 0)); then
    local why="did not accept connections within ${timeout}s"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait_exit "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
    else
      why="exited during startup"
    fi
    {
      echo "mariadb.sh: mariadbd on 127.0.0.1:$port $why; last lines of $error_log:"
      tail -n 25 "$error_log" 2>/dev/null || echo "(no error log)"
      # What mariadbd printed before it opened its error log (bad options, a crash).
      if [ -s "$dir/mariadbd.out" ]; then
        echo "last lines of $dir/mariadbd.out:"
        tail -n 10 "$dir/mariadbd.out"
      fi
    } >&2
    exit 1
  fi

  # Like RDS's master user: every privilege, with the grant option, from the loopback address.
  local password
  password=$(openssl rand -hex 24)
  # Anonymous accounts and the proxy grant for root@<hostname> (a host name, which
  # --skip-name-resolve ignores) go first.
  if ! "${sql[@]}" <<SQL; then
DELETE FROM mysql.global_priv WHERE User = '';
DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';
FLUSH PRIVILEGES;
CREATE USER 'twin_admin'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO 'twin_admin'@'127.0.0.1' WITH GRANT OPTION;
SQL
    kill -TERM "$pid" 2>/dev/null || true
    wait_exit "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
    fail "creating twin_admin failed (server stopped); see $error_log."
  fi

  local line
  line="{\"host\":\"127.0.0.1\",\"port\":$port,\"socket\":$(json_string "$socket"),\"caFile\":$(json_string "$tls/ca.pem")"
  line+=",\"adminUser\":\"twin_admin\",\"adminPassword\":\"$password\",\"pidFile\":$(json_string "$pid_file")"
  line+=",\"dataDir\":$(json_string "$data")}"
  (umask 077 && printf '%s\n' "$line" >"$dir/server.json")
  printf '%s\n' "$line"
}

stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  local pid_file="$dir/mariadb.pid" pid
  pid=$(running_pid "$pid_file") || return 0
  # SIGTERM is mariadbd's normal shutdown (as mariadb-admin shutdown), with no credentials needed.
  kill -TERM "$pid" 2>/dev/null || return 0
  if ! wait_exit "$pid" "${MARIADB_STOP_TIMEOUT:-30}"; then
    echo "mariadb.sh: mariadbd (pid $pid) did not shut down within ${MARIADB_STOP_TIMEOUT:-30}s; killing it." >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait_exit "$pid" 5 || fail "mariadbd (pid $pid) is still running after SIGKILL."
  fi
}

case "${1:-}" in
  start)
    [ $# -eq 3 ] || usage
    start "$2" "$3"
    ;;
  stop)
    [ $# -eq 2 ] || usage
    stop "$2"
    ;;
  *) usage ;;
esac
