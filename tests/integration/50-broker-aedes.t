#!/usr/bin/env bash
# 50-broker-aedes.t - a bounded sample of the catalog against aedes 1.2 with
# aedes-server-factory's trustProxy (conformance/targets/aedes.yml): as
# shipped (tcp optional, ws without PROXY), and with tcp graded as
# PROXY-enabled behind the launcher's decoder guard; graded as in
# tests/brokers/expect/aedes*.txt (the full runs: tests/brokers/aedes.t).
# shellcheck source=tests/lib/conform.bash
. "$(dirname "$0")/../lib/conform.bash"

DIR=$ROOT/conformance/targets/launch/aedes
NODE=${NODE:-node}
need_conform
command -v "$NODE" >/dev/null || skip_all "node not installed (Debian package nodejs)"
major=$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null)
[ "${major:-0}" -ge 20 ] 2>/dev/null || skip_all "node $major is too old (aedes 1.2 needs 20 or later)"
if [ ! -f "$DIR/node_modules/aedes/package.json" ] || [ ! -f "$DIR/node_modules/aedes-server-factory/package.json" ]; then
	command -v npm >/dev/null || skip_all "aedes packages not installed and npm missing"
	(cd "$DIR" && timeout 120 npm ci --no-audit --no-fund --omit=dev) >"$T/npm.out" 2>&1 ||
		skip_all "aedes packages not installed and 'npm ci' failed (registry unreachable?)"
fi

read -r AT AW AA <<<"$(free_ports 3)"
conform_run shipped 50 AEDES_TCP_PORT="$AT" AEDES_WS_PORT="$AW" AEDES_ADMIN_PORT="$AA" \
	AEDES_TCP_PROXY=optional AEDES_DECODER_GUARD=0 \
	-- --target conformance/targets/aedes.yml -j 4 \
	--only 'mixed/optional/*,record/sessions/optional-*,disabled/v1-header,disabled/plain,record/sessions/disabled-listener'
check_run shipped aedes subset 1
check "every port closed after the run" ports_closed "$AT" "$AW" "$AA"

read -r AT AW AA <<<"$(free_ports 3)"
conform_run enabled 50 AEDES_TCP_PORT="$AT" AEDES_WS_PORT="$AW" AEDES_ADMIN_PORT="$AA" \
	AEDES_TCP_PROXY=enabled AEDES_DECODER_GUARD=1 \
	-- --target conformance/targets/aedes.yml -j 4 --listener tcp --no-preflight \
	--only 'pp1/tcp4/basic,pp1/unknown/short,pp2/inet/basic,pp2/tlv/alpn,mal/v1-octet-256,mal/v2-version-3,record/sessions/v2-inet,record/unauthorized/v2-inet'
check_run enabled aedes-tcp-enabled subset 1
check "every port closed after the run" ports_closed "$AT" "$AW" "$AA"
check "nothing left in TMPDIR after the runs" tmp_empty

done_testing
