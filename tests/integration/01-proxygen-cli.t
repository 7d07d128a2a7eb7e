#!/usr/bin/env bash
# 01-proxygen-cli.t - proxygen's command line: headers byte for byte, the
# output formats, the malformation catalog, usage errors (exit 2 with a
# message naming the option and the value), --help and --version.
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"

PG=$PROXYGEN

pg() { timeout 10 "$PG" "$@"; }

[ -x "$PG" ] || bail "$PG is not built (make bin/proxygen)"

SIG=0d0a0d0a000d0a515549540a

# ---- byte-exact headers ------------------------------------------------------

got=$(pg header --v1 --src 192.0.2.1:40000 --dst 198.51.100.1:1883 --format raw | hexof)
is "$got" "$(texthex $'PROXY TCP4 192.0.2.1 198.51.100.1 40000 1883\r\n')" "v1 TCP4 raw, byte for byte"

got=$(pg header --v1 --format raw | hexof)
is "$got" "$(texthex $'PROXY TCP4 192.0.2.1 198.51.100.1 40000 1883\r\n')" "v1 defaults are 192.0.2.1:40000 -> 198.51.100.1:1883"

got=$(pg header --v1 --src '[2001:db8::7]:5' --dst '[2001:db8::1]:65535' --format raw | hexof)
is "$got" "$(texthex $'PROXY TCP6 2001:db8::7 2001:db8::1 5 65535\r\n')" "v1 TCP6 raw"

got=$(pg header --unknown --format raw | hexof)
is "$got" "$(texthex $'PROXY UNKNOWN\r\n')" "v1 UNKNOWN short form (--unknown implies v1)"

got=$(pg header --v1 --unknown-long --format raw | hexof)
is "$got" "$(texthex $'PROXY UNKNOWN 192.0.2.1 198.51.100.1 40000 1883\r\n')" "v1 UNKNOWN long form"

got=$(pg header --format hex)
is "$got" "${SIG}2111000cc0000201c63364019c40075b" "v2 default (PROXY, INET, STREAM) in hex"

got=$(pg header --v2 --src 203.0.113.9:0 --dst 10.0.0.1:65535 --format hex)
is "$got" "${SIG}2111000ccb0071090a0000010000ffff" "v2 INET with ports 0 and 65535"

got=$(pg header --src '[2001:db8::1]:40000' --dst '[2001:db8::100]:1883' --format hex)
is "$got" "${SIG}2121002420010db800000000000000000000000120010db80000000000000000000001009c40075b" \
	"v2 INET6 in hex"

got=$(pg header --family inet6 --src 192.0.2.44:1 --dst 192.0.2.45:2 --format hex)
is "$got" "${SIG}2121002400000000000000000000ffffc000022c00000000000000000000ffffc000022d00010002" \
	"--family inet6 writes IPv4 addresses IPv4-mapped"

got=$(pg header --local --format hex)
is "$got" "${SIG}20000000" "v2 LOCAL without addresses: 16 bytes, UNSPEC/UNSPEC"

got=$(pg header --local --src 127.0.0.1:1 --dst 127.0.0.1:2 --format hex)
is "$got" "${SIG}2011000c7f0000017f00000100010002" "v2 LOCAL with addresses"

got=$(pg header --family unspec --format hex)
is "$got" "${SIG}21000000" "v2 PROXY UNSPEC: no address block"

got=$(pg header --unix-src /tmp/c.sock --unix-dst /tmp/s.sock --proto dgram --format hex)
want="${SIG}213200d8$(texthex /tmp/c.sock)$(printf '0%.0s' $(seq 1 $(( (108 - 11) * 2 ))))$(texthex /tmp/s.sock)$(printf '0%.0s' $(seq 1 $(( (108 - 11) * 2 ))))"
is "$got" "$want" "v2 UNIX DGRAM: two 108-byte paths"

got=$(pg header --authority mqtt.example.com --alpn mqtt --format hex)
is "$got" "${SIG}21110026c0000201c63364019c40075b020010$(texthex mqtt.example.com)010004$(texthex mqtt)" \
	"v2 TLVs AUTHORITY then ALPN, in command-line order"

got=$(pg header --tlv 0xE1=hex:0102 --tlv 5=id-1 --noop 2 --format hex)
is "$got" "${SIG}2111001dc0000201c63364019c40075be1000201020500046964$(texthex -1)0400020000" \
	"--tlv with hex and text values, --noop 2"

got=$(pg header --ssl-cn client-1 --ssl-version TLSv1.3 --format hex)
want_ssl="07""00000000""210007$(texthex TLSv1.3)""220008$(texthex client-1)"
is "$got" "${SIG}21110029c0000201c63364019c40075b20001a${want_ssl}" \
	"SSL TLV: client 0x07 with a CN, verify 0, VERSION then CN sub-TLVs"

got=$(pg header --aws-vpce vpce-1 --azure-linkid 0x01020304 --gcp-psc 258 --format hex)
is "$got" "${SIG}2111002ac0000201c63364019c40075bea000701$(texthex vpce-1)ee00050104030201e00009010000000000000102" \
	"AWS (0xEA), Azure (0xEE, LE) and GCP (0xE0, BE) TLVs with sub-type 0x01"

# CRC32C: checked against an independent implementation.
pg header --authority broker --crc32c --format raw > "$T/crc.bin"
crc=$("$PY" - "$T/crc.bin" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
def crc32c(data):
    c = 0xFFFFFFFF
    for x in data:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c ^ 0xFFFFFFFF
# find the CRC32C TLV (type 3, length 4) after the 16+12 byte fixed+INET part
p = 28
while p + 3 <= len(b):
    t, l = b[p], b[p+1] << 8 | b[p+2]
    if t == 3 and l == 4:
        sent = bytes(b[p+3:p+7])
        b[p+3:p+7] = b'\0\0\0\0'
        print("ok" if crc32c(bytes(b)).to_bytes(4, 'big') == sent else "mismatch %s" % sent.hex())
        break
    p += 3 + l
else:
    print("no crc tlv")
EOF
)
is "$crc" "ok" "--crc32c: the checksum matches an independent CRC32C"

# ---- formats -------------------------------------------------------------------

raw=$(pg header --authority x --format raw | hexof)
hex=$(pg header --authority x --format hex)
is "$raw" "$hex" "--format hex is the raw bytes in hex"

b64=$(pg header --v1 --format base64 | "$PY" -c 'import base64,sys; print(base64.b64decode(sys.stdin.read().strip()).hex())')
is "$b64" "$(pg header --v1 --format raw | hexof)" "--format base64 decodes to the raw bytes"

c=$(pg header --format c)
chex=$(printf '%s\n' "$c" | grep -o '0x[0-9a-f][0-9a-f]' | sed 's/0x//' | tr -d '\n')
clen=$(printf '%s\n' "$c" | sed -n 's/.*\[\([0-9]*\)\].*/\1/p')
if [ "$chex" = "$(pg header --format hex)" ] && [ "$clen" = 28 ]; then
	ok "--format c: a C array of the 28 bytes"
else
	not_ok "--format c: a C array of the 28 bytes"; diag "$c"
fi

# ---- mutations -------------------------------------------------------------------

pg mutations --format tsv > "$T/m.tsv"
count=$(wc -l < "$T/m.tsv")
if [ "$count" -ge 40 ]; then ok "mutations: $count entries (>= 40)"; else not_ok "mutations: $count entries (>= 40)"; fi

bad_rows=$(awk -F'\t' 'NF != 5 || ($2 != 1 && $2 != 2) || ($3 != "reject" && $3 != "incomplete" && $3 != "not-proxy" && $3 != "limit") || $5 == ""' "$T/m.tsv" | wc -l)
is "$bad_rows" 0 "mutations --format tsv: name, version, verdict, reason, description on every row"

dups=$(cut -f1 "$T/m.tsv" | sort | uniq -d | wc -l)
is "$dups" 0 "mutation names are unique"

jcount=$(pg mutations --format json | "$PY" -c 'import json,sys; a=json.load(sys.stdin); print(len(a) if all({"name","version","verdict","reason","description"} <= set(x) for x in a) else -1)')
is "$jcount" "$count" "mutations --format json: same entries, every field present"

first=$(pg mutations | head -1)
case "$first" in
NAME*VERDICT*DESCRIPTION) ok "mutations --format text has a title line" ;;
*) not_ok "mutations --format text has a title line"; diag "$first" ;;
esac
textrows=$(pg mutations | tail -n +2 | wc -l)
is "$textrows" "$count" "mutations text: one line per malformation"

v1only=$(pg mutations --v1 --format tsv | awk -F'\t' '$2 != 1' | wc -l)
v1count=$(pg mutations --v1 --format tsv | wc -l)
if [ "$v1only" = 0 ] && [ "$v1count" -gt 0 ] && [ "$v1count" -lt "$count" ]; then
	ok "mutations --v1 lists only v1 malformations ($v1count)"
else
	not_ok "mutations --v1 lists only v1 malformations"
fi

base1=$(pg header --v1 --format hex)
base2=$(pg header --v2 --format hex)
mfail=0
while IFS=$'\t' read -r name ver _; do
	out=$(pg header --mutate "$name" --format hex 2>"$T/err")
	rc=$?
	base=$base1
	[ "$ver" = 2 ] && base=$base2
	if [ $rc -ne 0 ] || [ -z "$out" ] || [ "$out" = "$base" ]; then
		mfail=$((mfail + 1))
		diag "--mutate $name: rc=$rc out='$out' $(cat "$T/err")"
	fi
done < "$T/m.tsv"
is "$mfail" 0 "every --mutate NAME (all $count) produces bytes that differ from the valid header"

got=$(pg header --mutate v2-version-0 --format hex)
is "${got:24:2}" "01" "--mutate v2-version-0: byte 13 is 0x01 (version 0, PROXY)"

got=$(pg header --mutate v1-tab --format raw | tr '\t' '#')
is "$got" $'PROXY TCP4#192.0.2.1 198.51.100.1 40000 1883\r' "--mutate v1-tab puts a tab in the line"

got=$(pg header --mutate v2-crc-wrong --authority a --format hex)
case "$got" in
"${SIG}21"*) ok "--mutate applies to the header the other options describe" ;;
*) not_ok "--mutate applies to the header the other options describe"; diag "$got" ;;
esac

# ---- usage errors ------------------------------------------------------------------

# each line: the expected part of stderr | the arguments
usage_fail=0
usage_cases=0
while IFS='|' read -r want args; do
	usage_cases=$((usage_cases + 1))
	# shellcheck disable=SC2086
	eval "set -- $args"
	pg "$@" > /dev/null 2> "$T/err"
	rc=$?
	err=$(cat "$T/err")
	if [ $rc -ne 2 ] || [[ "$err" != *"$want"* ]]; then
		usage_fail=$((usage_fail + 1))
		diag "proxygen $args: rc=$rc, stderr: $err" "want rc=2 and: $want"
	fi
done <<'EOF'
--src '1.2.3.4:99999': port 99999 out of range|header --src 1.2.3.4:99999
--dst '300.1.1.1:5': '300.1.1.1' is not an IPv4 address|header --dst 300.1.1.1:5
--src '2001:db8::1:5': IPv6 addresses go in brackets|header --src 2001:db8::1:5
--format 'foo': expected raw, hex, c or base64|header --format foo
--tlv '300=x': TYPE: 300 out of range 0..255|header --tlv 300=x
--tlv 'x': expected TYPE=VALUE|header --tlv x
--tlv '1=hex:abc': VALUE: odd number of hex digits|header --tlv 1=hex:abc
--family 'ipx': expected inet, inet6, unix or unspec|header --family ipx
--noop '-1'|header --noop -1
--ssl-verify 'x'|header --ssl-verify x
--mutate 'nope': unknown malformation|header --mutate nope
unknown or ambiguous option '--bogus'|header --bogus
option '--src' needs a value|header --src
option '--local' takes no value|header --local=1
unexpected argument 'extra'|header extra
need v2|header --v1 --authority x
--local is a v2 command|header --v1 --local
--unknown is a v1 form|header --v2 --unknown
--v1 and --v2 given together|header --v1 --v2
different families|header --src 192.0.2.1:1 --dst [::1]:2
damages a v2 header, not v1|header --v1 --mutate v2-version-0
missing command|
unknown command 'bogus'|bogus
--format 'xml': expected text, tsv or json|mutations --format xml
--target HOST:PORT is required|send
--target 'nohost': missing ':PORT'|send --target nohost
--transport 'foo': expected tcp, tls, ws or wss|send --target 127.0.0.1:1 --transport foo
--mqtt '4.0': expected 3.1.1 or 5|send --target 127.0.0.1:1 --mqtt 4.0
--timeout 'soon'|send --target 127.0.0.1:1 --timeout soon
--raw-hex 'zz'|send --target 127.0.0.1:1 --raw-hex zz
--bind 'localhost': not an IPv4 or IPv6 address|send --target 127.0.0.1:1 --bind localhost
choose one of --no-header, --raw-hex|send --target 127.0.0.1:1 --no-header --v1
--ca and --insecure exclude each other|send --target 127.0.0.1:1 --transport tls --ca x --insecure
need --transport tls or wss|send --target 127.0.0.1:1 --insecure
--delay needs --split|send --target 127.0.0.1:1 --delay 10
--coalesce cannot be combined with --split|send --target 127.0.0.1:1 --coalesce --split 3
--listen IP:PORT is required|relay --target 127.0.0.1:1
--target HOST:PORT is required|relay --listen 127.0.0.1:0
--source 'bogus': expected client, fixed:IP:PORT or random:CIDR|relay --listen 127.0.0.1:0 --target 127.0.0.1:1 --source bogus
--source 'random:10.0.0.0/33'|relay --listen 127.0.0.1:0 --target 127.0.0.1:1 --source random:10.0.0.0/33
--src: the relay takes the addresses from each connection|relay --listen 127.0.0.1:0 --target 127.0.0.1:1 --src 1.2.3.4:5
--max-conns '0': must be at least 1|relay --listen 127.0.0.1:0 --target 127.0.0.1:1 --max-conns 0
EOF
is "$usage_fail" 0 "bad arguments: exit 2 and a message naming the option and the value ($usage_cases cases)"

# ---- help and version -----------------------------------------------------------------

hfail=0
for cmd in "" header mutations send relay flood; do
	# shellcheck disable=SC2086
	out=$(pg $cmd --help)
	rc=$?
	if [ $rc -ne 0 ] || [[ "$out" != Usage:* ]]; then
		hfail=$((hfail + 1))
		diag "proxygen $cmd --help: rc=$rc"
	fi
done
is "$hfail" 0 "--help at the top and on every subcommand: exit 0, usage on stdout"

out=$(pg help relay)
case "$out" in
"Usage: proxygen relay"*) ok "proxygen help COMMAND" ;;
*) not_ok "proxygen help COMMAND" ;;
esac

out=$(pg --version)
rc=$?
if [ $rc -eq 0 ] && [[ "$out" =~ ^proxygen\ \(ppmq\)\ [0-9]+\.[0-9]+ ]]; then
	ok "--version: exit 0, '$out'"
else
	not_ok "--version"; diag "rc=$rc out=$out"
fi

done_testing
