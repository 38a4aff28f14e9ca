#!/usr/bin/env bash
# Debian packages the test suite talks to for real: InfluxDB 1.x (influxd), VictoriaMetrics
# (serves InfluxDB's v2 write API) and Chromium (dashboards are opened in it).
# Installs only what is missing, so a second `make test` does not touch apt.
set -euo pipefail

declare -A wanted=([influxd]=influxdb [victoria-metrics]=victoria-metrics [chromium]=chromium)
missing=()
for command in "${!wanted[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${wanted[$command]}")
done
# Chinese glyphs for Chromium's pages and the bureau's PDF report (names, 两化融合 levels).
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-microhei)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The packages' postinst scripts try to start system services; the tests start their
# own servers on free loopback ports, so a refusal to start here is harmless.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
