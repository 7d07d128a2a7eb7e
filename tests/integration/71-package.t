#!/usr/bin/env bash
# 71-package.t - the Debian package: `dpkg-buildpackage -us -uc -b` builds
# it from a copy of the tree, lintian finds no error in it, and the demo
# runs from the installed files alone: the package unpacked in a scratch
# root, its ppmq-conform running the whole catalog against its ppmq-broker
# with no variable set.
#
# Needs dpkg-buildpackage, debhelper (dh) and lintian (scripts/install-deps
# installs them); SKIP with the reason without them.
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"
cd "$ROOT" || bail "cannot enter $ROOT"

for tool in dpkg-buildpackage dh lintian; do
	command -v "$tool" >/dev/null 2>&1 ||
		skip_all "$tool not installed (scripts/install-deps installs debhelper and lintian)"
done
[ -d debian ] || skip_all "no debian/ directory"

plan 9

# A copy of the tree: the build cleans where it runs.
SRC=$T/ppmq-0.1.0
mkdir -p "$SRC"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -co --exclude-standard -z | tar -cf - --null -T - | tar -xf - -C "$SRC"
else
	tar -cf - --exclude=./build --exclude=./build-san --exclude=./bin . | tar -xf - -C "$SRC"
fi
(cd "$SRC" && DEB_BUILD_OPTIONS="nocheck parallel=2" timeout 900 \
	dpkg-buildpackage -us -uc -b >"$T/build.log" 2>&1)
rc=$?
DEB=$(ls "$T"/ppmq_*_*.deb 2>/dev/null | head -1)
if [ "$rc" -eq 0 ] && [ -n "$DEB" ]; then
	ok "dpkg-buildpackage -us -uc -b builds $(basename "$DEB")"
else
	not_ok "dpkg-buildpackage -us -uc -b (exit $rc)" "$(tail -15 "$T/build.log")"
	skip_rest "no package"
fi

timeout 300 lintian --tag-display-limit 0 "$DEB" >"$T/lintian.out" 2>&1
errors=$(grep -c '^E: ' "$T/lintian.out")
is "$errors" 0 "lintian: no error"
grep -E '^[WE]: ' "$T/lintian.out" | diag

# The package's contents.
dpkg-deb -c "$DEB" >"$T/contents"
for f in usr/bin/ppmq-conform usr/bin/ppmq-broker usr/bin/proxygen \
	usr/share/man/man1/ppmq-conform.1.gz usr/share/ppmq/targets/ppmq-broker.yml \
	usr/share/ppmq/scripts/gen-certs usr/share/doc/ppmq/validating-a-broker.md; do
	grep -Eq " \./$f(\.gz)?\$" "$T/contents" || missing="${missing:-} $f"
done
is "${missing:-}" "" "the programs, man pages, profiles, certificate script and guides are in it"
is "$(dpkg-deb -f "$DEB" Depends | grep -o 'libyaml[^ ,]*' | head -1)" "libyaml-0-2" \
	"its dependencies are the shared libraries it links"

# Installed in a scratch root, run from there with no variable set.
ROOTFS=$T/root
dpkg-deb -x "$DEB" "$ROOTFS"
check "the installed ppmq-conform runs" bash -c "'$ROOTFS/usr/bin/ppmq-conform' --version >/dev/null"
mkdir -p "$T/elsewhere" "$T/home"
(cd "$T/elsewhere" && env -i PATH=/usr/bin:/bin HOME="$T/home" timeout 600 \
	"$ROOTFS/usr/bin/ppmq-conform" --target ppmq-broker -j 4 \
	--json "$T/demo.json" --html "$T/demo" >"$T/demo.tap" 2>"$T/demo.err")
rc=$?
is "$rc" 0 "the demo from the installed files: exit 0"
[ "$rc" -eq 0 ] || { grep -A8 '^not ok' "$T/demo.tap" | head -40 | diag; head -5 "$T/demo.err" | diag; }
summary=$(grep '^# ppmq-broker: ' "$T/demo.tap")
diag "$summary"
like "$summary" "# ppmq-broker: PASS [0-9]*, NON-STRICT 0, INFO *, FAIL 0, *" "the demo: no FAIL"
is "$(jf "$T/demo.json" "d['profile'].startswith('$ROOTFS/usr/share/ppmq/targets/')")" True \
	"it used the installed profile"
check "the demo's report was written" test -s "$T/demo/index.html"

done_testing
