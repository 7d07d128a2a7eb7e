# shellcheck shell=bash
# common.sh - helpers shared by the launchers next to it (mosquitto.sh,
# rabbitmq.sh), sourced from the launcher's own directory so that it works
# both from the source tree and installed in share/ppmq/targets/launch/.
# Not a launcher itself. The sourcing script sets ME (its name, for
# messages) first; usage prints the script's own header comment.

say() { printf '%s: %s\n' "$ME" "$*"; }
die() { printf '%s: %s\n' "$ME" "$1" >&2; exit "${2:-1}"; }
usage() { sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'; }

# free_port: a TCP port free on 127.0.0.1 now, in 20000-60000 but below the
# kernel's ephemeral range (the broker binds seconds later: an outgoing
# connection must not take the port meanwhile).
free_port() {
	python3 -c 'import random, socket
hi = 60000
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    hi = low - 1 if low > 21000 else hi
except Exception:
    pass
while True:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randint(20000, hi)))
        print(s.getsockname()[1])
        break
    except OSError:
        pass
    finally:
        s.close()' 2>/dev/null || echo $((20000 + RANDOM % 12000))
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# gone PID: true when PID no longer runs (a zombie waiting for its parent
# counts as gone: it has finished its cleanup).
gone() {
	local st
	[ -r "/proc/$1/stat" ] || return 0
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

# wait_gone PID TENTHS: wait for a process to end; true when it did.
wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		gone "$1" && return 0
		sleep 0.1
	done
	gone "$1"
}
