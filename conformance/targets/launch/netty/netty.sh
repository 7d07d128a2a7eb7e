#!/usr/bin/env bash
# netty.sh - build and run NettyTarget.java (next to this script): Netty's
# HAProxyMessageDecoder in front of a minimal MQTT server, on tcp, ssl, ws
# and wss listeners, with an HTTP API that shows the address the decoder
# handed over for each client (see the comment at the top of the Java file).
#
#   netty.sh [run]    build if needed, then run it in the foreground (exec java)
#   netty.sh build    build only; print the directory of the classes
#   netty.sh check    exit 0 when java, javac and the Netty jars are here,
#                     else print what is missing and exit 4
#   netty.sh --help
#
# The program is compiled against Debian's Netty (libnetty-java; javac from
# default-jdk-headless) into NETTY_BUILD_DIR/<hash>, where the hash covers
# the source, the jars and the compiler: a change of any of them builds
# again, otherwise the classes are reused. Two launchers building at once
# do not clash (each compiles in its own directory, the first rename wins).
#
# Environment (besides what NettyTarget.java reads):
#   JAVA, JAVAC         the programs (default: from PATH)
#   NETTY_JAR_DIR       where the Netty jars are (default /usr/share/java)
#   NETTY_BUILD_DIR     where the classes go (default: build/netty of the
#                       source tree this script is in, else
#                       ${XDG_CACHE_HOME:-~/.cache}/ppmq/netty)
#   NETTY_CERT_DIR      for ssl/wss when NETTY_CERT / NETTY_KEY are unset:
#                       server.pem and server.key there, made by
#                       scripts/gen-certs when missing and the script is there
#   NETTY_JAVA_OPTS     JVM options (default: a small heap, quick start)
set -u

ME=netty.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=conformance/targets/launch/common.sh
. "$HERE/../common.sh"

SRC=$HERE/NettyTarget.java
# What the program uses, and what those need (codec-http: the WebSocket
# upgrade; the rest: the transport). One jar each; all from libnetty-java.
JARS="netty-common netty-buffer netty-resolver netty-transport netty-codec netty-handler
      netty-codec-haproxy netty-codec-http"
JAR_DIR=${NETTY_JAR_DIR:-/usr/share/java}
JAVA=${JAVA:-java}
JAVAC=${JAVAC:-javac}
TREE=$(cd "$HERE/../../../.." 2>/dev/null && pwd)

classpath() {
	local j cp=""
	for j in $JARS; do
		cp="$cp${cp:+:}$JAR_DIR/$j.jar"
	done
	printf '%s' "$cp"
}

cmd_check() {
	local j missing=""
	command -v "$JAVA" >/dev/null 2>&1 || missing="$missing java($JAVA)"
	command -v "$JAVAC" >/dev/null 2>&1 || missing="$missing javac($JAVAC)"
	for j in $JARS; do
		[ -r "$JAR_DIR/$j.jar" ] || missing="$missing $j.jar"
	done
	if [ -n "$missing" ]; then
		say "missing:$missing (Debian: apt-get install default-jdk-headless libnetty-java)"
		return 4
	fi
	return 0
}

build_dir() {
	if [ -n "${NETTY_BUILD_DIR:-}" ]; then
		printf '%s' "$NETTY_BUILD_DIR"
	elif [ -n "$TREE" ] && [ -f "$TREE/Makefile" ] && [ -d "$TREE/conformance/targets" ]; then
		printf '%s' "$TREE/build/netty"
	else
		printf '%s' "${XDG_CACHE_HOME:-$HOME/.cache}/ppmq/netty"
	fi
}

# cmd_build: compile when no classes match the hash; prints their directory.
cmd_build() {
	local dir hash out tmp j
	cmd_check >&2 || return 4
	dir=$(build_dir)
	hash=$({
		cat "$SRC"
		"$JAVAC" -version 2>&1
		for j in $JARS; do
			printf '%s %s\n' "$j" "$(stat -L -c '%s %Y' "$JAR_DIR/$j.jar")"
		done
	} | sha256sum | cut -c1-16)
	out=$dir/$hash
	if [ -f "$out/NettyTarget.class" ]; then
		printf '%s\n' "$out"
		return 0
	fi
	mkdir -p "$dir" || die "cannot create $dir"
	tmp=$(mktemp -d "$dir/.build.XXXXXX") || die "cannot create a directory in $dir"
	say "compiling $SRC into $out" >&2
	if ! "$JAVAC" -nowarn -encoding UTF-8 -d "$tmp" -cp "$(classpath)" "$SRC" >"$tmp.log" 2>&1; then
		cat "$tmp.log" >&2
		rm -rf "$tmp" "$tmp.log"
		die "javac failed"
	fi
	rm -f "$tmp.log"
	chmod 755 "$tmp"
	# The first one to finish wins; a later one drops its copy.
	mv -T "$tmp" "$out" 2>/dev/null || rm -rf "$tmp"
	[ -f "$out/NettyTarget.class" ] || die "no classes in $out"
	printf '%s\n' "$out"
}

# certs: NETTY_CERT / NETTY_KEY for the TLS listeners, from NETTY_CERT_DIR.
certs() {
	local d=${NETTY_CERT_DIR:-}
	[ -n "${NETTY_SSL_PORT:-}${NETTY_WSS_PORT:-}" ] || return 0
	[ -n "${NETTY_CERT:-}" ] && [ -n "${NETTY_KEY:-}" ] && return 0
	[ -n "$d" ] || die "ssl/wss need NETTY_CERT and NETTY_KEY, or NETTY_CERT_DIR" 2
	if [ ! -s "$d/server.pem" ] || [ ! -s "$d/server.key" ]; then
		[ -x "$TREE/scripts/gen-certs" ] || die "no server.pem / server.key in $d (make them with scripts/gen-certs $d)" 2
		say "making test certificates in $d"
		"$TREE/scripts/gen-certs" "$d" || die "scripts/gen-certs $d failed"
	fi
	export NETTY_CERT=$d/server.pem NETTY_KEY=$d/server.key
}

cmd_run() {
	local classes
	classes=$(cmd_build) || exit $?
	certs
	# shellcheck disable=SC2086 # NETTY_JAVA_OPTS is a list of options
	exec "$JAVA" ${NETTY_JAVA_OPTS:--Xss512k -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xshare:auto} \
		-cp "$classes:$(classpath)" NettyTarget
}

case "${1:-run}" in
run) cmd_run ;;
build) cmd_build ;;
check) cmd_check ;;
-h | --help | help) usage ;;
*) die "unknown command '$1' (try --help)" 2 ;;
esac
