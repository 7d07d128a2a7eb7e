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
	[ -f "$R/share/ppmq/targets/launch/aedes/launcher.js" ] &&
	[ -x "$R/share/ppmq/targets/launch/netty/netty.sh" ] && [ -f "$R/share/ppmq/targets/launch/netty/NettyTarget.java" ] &&
	ok "profiles and launchers in share/ppmq/targets" || not_ok "profiles and launchers"
# The installed runner reads the installed catalog.
cnt=$("$R/bin/ppmq-conform" --list --scenarios "$R/share/ppmq/scenarios" 2>/dev/null | wc -l)
want=$(bin/ppmq-conform --list 2>/dev/null | wc -l)
[ "$cnt" -gt 100 ] && [ "$cnt" -eq "$want" ] && ok "installed ppmq-conform lists the installed catalog ($cnt lines)" ||
	not_ok "installed catalog listing: $cnt lines, $want expected"
# Nothing lands outside DESTDIR/PREFIX.
[ -z "$(find "$T/stage" -mindepth 1 -maxdepth 1 ! -name opt)" ] && ok "nothing installed outside PREFIX" ||
	not_ok "files outside PREFIX: $(find "$T/stage" -mindepth 1 -maxdepth 1 ! -name opt)"
done_testing
