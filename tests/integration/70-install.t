#!/usr/bin/env bash
# 70-install.t - `make install` honours PREFIX and DESTDIR and installs the
# programs, their man pages, the scenario catalog and the target profiles
# (with their launchers); the installed programs run.
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"
cd "$ROOT" || bail "cannot enter $ROOT"

if timeout 300 make -s install PREFIX=/opt/ppmq DESTDIR="$T/stage" >"$T/make.log" 2>&1; then
	ok "make install PREFIX=/opt/ppmq DESTDIR=... succeeds"
else
	not_ok "make install"; sed 's/^/# /' "$T/make.log" | tail -20
fi
R=$T/stage/opt/ppmq
for p in ppmq-broker proxygen ppmq-conform; do
	if [ -x "$R/bin/$p" ] && "$R/bin/$p" --version >/dev/null 2>&1; then
		ok "bin/$p installed and runs"
	else
		not_ok "bin/$p installed and runs"
	fi
done
cnt=$(ls "$R"/share/man/man1/*.1 2>/dev/null | wc -l)
[ "$cnt" -eq 3 ] && ok "three man pages in share/man/man1" || not_ok "man pages: $cnt"
cnt=$(ls "$R"/share/ppmq/scenarios/*.yml 2>/dev/null | wc -l)
[ "$cnt" -eq "$(ls scenarios/*.yml | wc -l)" ] && ok "the scenario catalog in share/ppmq/scenarios ($cnt files)" ||
	not_ok "scenarios: $cnt"
[ -f "$R/share/ppmq/targets/ppmq-broker.yml" ] && [ -x "$R/share/ppmq/targets/launch/rabbitmq.sh" ] &&
	[ -f "$R/share/ppmq/targets/launch/aedes/launcher.js" ] && [ -f "$R/share/ppmq/targets/launch/ppmq-broker.acl" ] &&
	[ -x "$R/share/ppmq/targets/launch/netty/netty.sh" ] && [ -f "$R/share/ppmq/targets/launch/netty/NettyTarget.java" ] &&
	ok "profiles and launchers in share/ppmq/targets" || not_ok "profiles and launchers"
[ -x "$R/share/ppmq/scripts/gen-certs" ] && [ -f "$R/share/doc/ppmq/validating-a-broker.md" ] &&
	[ -f "$R/share/doc/ppmq/ppmq-broker.example.yml" ] && [ -f "$R/share/doc/ppmq/README.md" ] &&
	ok "gen-certs, the guides and the example configuration installed" ||
	not_ok "gen-certs, guides, example: $(ls "$R/share/ppmq/scripts" "$R/share/doc/ppmq" 2>&1 | tr '\n' ' ')"

# The installed copy runs from anywhere, with no variable: its catalog,
# its profiles by name, its launcher, its broker, certificates it makes.
mkdir -p "$T/elsewhere" "$T/home"
want=$(bin/ppmq-conform --list 2>/dev/null | wc -l)
cnt=$(cd "$T/elsewhere" && env -i PATH=/usr/bin:/bin HOME="$T/home" "$R/bin/ppmq-conform" --list 2>/dev/null | wc -l)
[ "$cnt" -gt 100 ] && [ "$cnt" -eq "$want" ] && ok "installed ppmq-conform lists the installed catalog ($cnt lines)" ||
	not_ok "installed catalog listing: $cnt lines, $want expected"
(cd "$T/elsewhere" && env -i PATH=/usr/bin:/bin HOME="$T/home" timeout 120 "$R/bin/ppmq-conform" \
	--target ppmq-broker --only pp1/tcp4/basic,pp2/inet/basic,record/sessions/v2-inet \
	--json "$T/inst.json" >"$T/inst.tap" 2>"$T/inst.err")
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^# ppmq-broker: PASS 12, ' "$T/inst.tap"; then
	ok "the installed copy runs the shipped ppmq-broker profile with no variable set (12 PASS)"
else
	not_ok "the installed copy runs the ppmq-broker profile (exit $rc)" "$(tail -3 "$T/inst.tap")" \
		"$(head -5 "$T/inst.err")"
fi
is "$(jf "$T/inst.json" "d['profile']")" "$R/share/ppmq/targets/ppmq-broker.yml" \
	"the profile found by name is the installed one"
check "its certificates were made under the user's cache" test -s "$T/home/.cache/ppmq/certs/server.pem"
# A build in a directory of its own (make SAN=1: build-san/bin; the clang
# build of .ci/run: build-clang/bin) runs on the source tree's catalog
# and profiles, not on an installed copy.
mkdir -p "$T/tree/build-x/bin"
ln -s "$ROOT/conformance" "$ROOT/scenarios" "$ROOT/scripts" "$T/tree/"
cp bin/ppmq-conform "$T/tree/build-x/bin/"
out=$(cd "$T/elsewhere" && env -i PATH=/usr/bin:/bin HOME="$T/home" \
	"$T/tree/build-x/bin/ppmq-conform" --target ppmq-broker --check-profile 2>&1 | head -1)
is "$out" "target ppmq-broker ($T/tree/conformance/targets/ppmq-broker.yml)" \
	"a program in ROOT/DIR/bin finds the source tree's profiles"
# Nothing lands outside DESTDIR/PREFIX.
[ -z "$(find "$T/stage" -mindepth 1 -maxdepth 1 ! -name opt)" ] && ok "nothing installed outside PREFIX" ||
	not_ok "files outside PREFIX: $(find "$T/stage" -mindepth 1 -maxdepth 1 ! -name opt)"
done_testing
