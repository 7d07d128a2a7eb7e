# shellcheck shell=bash
# tap.bash - TAP output for the shell tests: the bottom layer of tests/lib
# (tap.bash <- proc.bash <- broker.bash <- lb.bash; conform.bash on
# proc.bash). Sourced once (a second source is a no-op).
#
# The plan goes first (`plan N`) or last (done_testing prints it when no
# plan was given). End every test with done_testing: it exits 0 when no
# point failed, 1 otherwise.
#
#   plan N                      1..N
#   ok DESC                     one passing point
#   not_ok DESC [LINE...]       one failing point, LINEs as diagnostics
#   is GOT WANT DESC            equal strings
#   like GOT GLOB DESC          GOT matches the shell pattern GLOB
#   check DESC COMMAND...       the command's status decides
#   skip DESC REASON            a skipped point
#   skip_rest REASON            every point left in the plan skipped; exit 0
#   skip_all REASON             the whole file skipped (1..0); exit 0
#   bail REASON                 Bail out!; exit 1
#   diag [LINE...]              "# " before each LINE (or each stdin line)
#   done_testing                the plan if not given yet; exit status

[ -n "${_PPMQ_TAP_LOADED:-}" ] && return 0
_PPMQ_TAP_LOADED=1

_tap_n=0
_tap_fail=0
_tap_plan=

plan() {
	_tap_plan=$1
	echo "1..$1"
}
ok() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $*"
}
not_ok() {
	_tap_n=$((_tap_n + 1))
	_tap_fail=$((_tap_fail + 1))
	echo "not ok $_tap_n - $1"
	shift
	[ $# -eq 0 ] || diag "$@"
}
diag() {
	if [ $# -eq 0 ]; then
		sed 's/^/# /'
	else
		printf '%s\n' "$@" | sed 's/^/# /'
	fi
}
is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3" "got:  '$1'" "want: '$2'"
	fi
}
like() {
	# shellcheck disable=SC2053 # $2 is a pattern on purpose
	if [[ "$1" == $2 ]]; then
		ok "$3"
	else
		not_ok "$3" "got:  '$1'" "want: $2"
	fi
}
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d" "failed: $*"; fi
}
skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}
skip_rest() {
	while [ "$_tap_n" -lt "${_tap_plan:-0}" ]; do
		_tap_n=$((_tap_n + 1))
		echo "ok $_tap_n # SKIP $1"
	done
	done_testing
}
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}
bail() {
	echo "Bail out! $*"
	exit 1
}
done_testing() {
	if [ -z "$_tap_plan" ]; then
		echo "1..$_tap_n"
	elif [ "$_tap_n" -ne "$_tap_plan" ]; then
		diag "planned $_tap_plan points, ran $_tap_n"
	fi
	exit $((_tap_fail > 0))
}
