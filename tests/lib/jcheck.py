# jcheck.py SELECT FIELD=WANT|FIELD~REGEX... < JSON: checks one record of
# ppmq-broker's admin API (or any JSON document). SELECT picks the newest
# entry of an array with that clientId ("-": the document is the record).
# FIELD is dotted (proxy.tlvs.ssl.cn); values compare as JSON scalars
# without quotes (null, true, 2, text). Prints one "FIELD: got X, want Y"
# per mismatch; exit 0 when all match, 1 on a mismatch, 2 when the
# document or the entry is missing.
import json, re, sys
sel, pairs = sys.argv[1], sys.argv[2:]
try:
    d = json.load(sys.stdin)
except Exception:
    print("not JSON"); sys.exit(2)
if isinstance(d, list):
    hits = [e for e in d if isinstance(e, dict) and e.get("clientId") == sel]
    if not hits:
        print("no entry for client id %r" % sel); sys.exit(2)
    d = hits[-1]
elif isinstance(d, dict) and d.get("status") == 404:
    print("404: %s" % d.get("error")); sys.exit(2)
def show(v):
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    return str(v)
bad = 0
for p in pairs:
    k, op, want = re.match(r"([\w.]+)([=~])(.*)$", p).groups()
    v = d
    for part in k.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    if (show(v) != want) if op == "=" else not re.search(want, show(v)):
        print("%s: got %s, want %s%s" % (k, show(v), "" if op == "=" else "~ ", want))
        bad = 1
sys.exit(bad)
