#!/usr/bin/env bash
# Fails when librdkafka leaks out of exporter/src/kafka/ (issue 16: kafka/ is
# the one place that knows librdkafka, and rdkafka is a PRIVATE dependency of
# the dora_kafka library):
#  1. any "rd_kafka_" or "rdkafka.h" in exporter/src outside that directory,
#     comments included, is named as file:line;
#  2. a kafka/ header included from outside kafka/ (exporter/src, bench, fuzz)
#     must not include rdkafka.h, itself or through other kafka/ headers. The
#     tests that use librdkafka directly link it themselves and are not checked.
set -euo pipefail
cd "$(dirname "$0")/.."

hits=$(grep -rnE 'rd_kafka_|rdkafka\.h' exporter/src | grep -v '^exporter/src/kafka/' || true)
if [[ -n "$hits" ]]; then
  sed 's/^/kafka boundary: /' <<<"$hits" >&2
  exit 1
fi

# kafka/ headers reachable from outside kafka/, following kafka/'s own includes.
todo=$(grep -rhoE '#include "kafka/[^"]+"' exporter/src bench fuzz --include='*.h' --include='*.cpp' \
         --exclude-dir=kafka | sed -E 's/#include "(.*)"/\1/' | sort -u)
seen=""
bad=""
while [[ -n "$todo" ]]; do
  next=""
  for h in $todo; do
    [[ " $seen " == *" $h "* ]] && continue
    seen="$seen $h"
    f="exporter/src/$h"
    [[ -f "$f" ]] || continue
    if grep -qE '#include <librdkafka/' "$f"; then bad="$bad $h"; fi
    next="$next $(grep -oE '#include "kafka/[^"]+"' "$f" | sed -E 's/#include "(.*)"/\1/' || true)"
  done
  todo=$(tr ' ' '\n' <<<"$next" | sed '/^$/d' | sort -u)
done
if [[ -n "$bad" ]]; then
  for h in $bad; do
    echo "kafka boundary: exporter/src/$h includes librdkafka's header and is included from outside kafka/" >&2
  done
  exit 1
fi
echo "kafka boundary: no librdkafka outside exporter/src/kafka/, and no kafka/ header used outside it includes it"
