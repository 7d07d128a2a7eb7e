#!/usr/bin/env bash
# 05-fuzz-smoke.t - every libFuzzer harness (fuzz/fuzz_*.c) built with
# clang and run a few seconds over its seed corpus (fuzz/corpus/NAME) by
# fuzz/smoke: no crash, no leak, no sanitizer report, no failed check.
# Skipped without clang or without its libFuzzer runtime.
# shellcheck source=tests/lib/proc.bash
. "$(dirname "$0")/../lib/proc.bash"

cc=${FUZZ_CC:-clang}
command -v "$cc" >/dev/null || skip_all "no $cc: the fuzz harnesses need clang's libFuzzer"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
	'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; return (int)(n & 0); }' \
	>"$T/probe.c"
"$cc" -fsanitize=fuzzer,address,undefined -o "$T/probe" "$T/probe.c" 2>/dev/null ||
	skip_all "$cc cannot link -fsanitize=fuzzer,address,undefined (no libFuzzer runtime)"

names=()
for src in "$ROOT"/fuzz/fuzz_*.c; do
	names+=("$(basename "$src" .c)")
done
plan $((1 + ${#names[@]}))

# A make of our own: not the jobserver of a make that may have started us.
if out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" -j2 FUZZ_CC="$cc" fuzz 2>&1); then
	ok "make fuzz builds the ${#names[@]} harnesses"
else
	not_ok "make fuzz builds the ${#names[@]} harnesses" "$(tail -20 <<<"$out")"
	skip_rest "the harnesses did not build"
fi
for name in "${names[@]}"; do
	if out=$("$ROOT/fuzz/smoke" "$name" 2>&1); then
		ok "$out"
	else
		not_ok "$name: no finding" "$out"
	fi
done
done_testing
