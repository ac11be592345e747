#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in their own build dir (everything
# instrumented: -fsanitize=fuzzer-no-link,address,undefined) and runs each one
# briefly from its seed corpus. ctest runs this ("fuzz: ..."); a longer run is
# in docs/security.md.
#
# Usage: fuzz/smoke.sh [BUILD_DIR]   (default build-fuzz)
# Env:   FUZZ_SECONDS per target (default 10), DORA_FUZZ_JOBS (default 2),
#        DORA_FUZZ_CC / DORA_FUZZ_CXX (default clang-14 / clang++-14, else clang / clang++)
# Exit 77 (ctest: skipped) without clang and its libFuzzer runtime
# (scripts/install-fuzz-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build-fuzz}"
SECS="${FUZZ_SECONDS:-10}"
TARGETS=(config_loader web_config broker_stats schema_registry connect spool_reader offsets_topic)

CXX_FUZZ="${DORA_FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || true)}"
CC_FUZZ="${DORA_FUZZ_CC:-$(command -v clang-14 || command -v clang || true)}"
if [[ -z "$CXX_FUZZ" || -z "$CC_FUZZ" ]]; then
  echo "fuzz smoke: SKIPPED, clang not found (run scripts/install-fuzz-deps.sh)"
  exit 77
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dora-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$WORK/probe.cpp"
if ! "$CXX_FUZZ" -fsanitize=fuzzer "$WORK/probe.cpp" -o "$WORK/probe" 2>"$WORK/probe.log"; then
  echo "fuzz smoke: SKIPPED, $CXX_FUZZ has no libFuzzer runtime (libclang-rt-14-dev; scripts/install-fuzz-deps.sh)"
  exit 77
fi

start=$(date +%s)
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$CC_FUZZ" \
  -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DDORA_FUZZ=ON -DDORA_BUILD_TESTS=OFF -DDORA_BUILD_BENCH=OFF \
  -DDORA_WERROR=OFF >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; exit 1; }
ninja -C "$BUILD" -j"${DORA_FUZZ_JOBS:-2}" "${TARGETS[@]/#/fuzz_}" >"$WORK/build.log" 2>&1 || {
  tail -50 "$WORK/build.log"
  exit 1
}
echo "fuzz smoke: built ${#TARGETS[@]} targets with $("$CXX_FUZZ" --version | head -1) in $(($(date +%s) - start))s"

mkdir -p "$BUILD/fuzz-artifacts"
status=0
for t in "${TARGETS[@]}"; do
  corpus="$WORK/corpus-$t"
  mkdir -p "$corpus"
  cp fuzz/corpus/"$t"/* "$corpus"/
  # The reference config is the best seed for the loader (not copied into fuzz/: it would drift).
  [[ "$t" == config_loader ]] && cp config/exporter.yaml "$corpus/exporter.yaml"
  log="$WORK/$t.log"
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    timeout $((SECS + 120)) "$BUILD/fuzz/fuzz_$t" "$corpus" -max_total_time="$SECS" -timeout=10 \
    -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
    -artifact_prefix="$BUILD/fuzz-artifacts/$t-" >"$log" 2>&1; then
    execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    echo "fuzz smoke: $t OK: ${execs:-?} runs in ${SECS}s, coverage ${cov:-?} edges, corpus $(ls "$corpus" | wc -l) inputs"
  else
    echo "fuzz smoke: $t FAILED (artifacts in $BUILD/fuzz-artifacts):"
    grep -v '^#' "$log" | tail -40
    status=1
  fi
done
exit $status
