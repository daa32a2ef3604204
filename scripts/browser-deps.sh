#!/usr/bin/env bash
# Installs what the browser tests need: Debian's headless Chromium and its WebDriver
# (chromium-driver). Skipped when /usr/bin/chromedriver is already there, so a warm machine pays
# nothing. Uses sudo when not root (CI runners); set OTTSONLY_SKIP_BROWSER_DEPS=1 to skip.
set -euo pipefail
if [[ "${OTTSONLY_SKIP_BROWSER_DEPS:-}" == "1" || -x /usr/bin/chromedriver ]]; then
  exit 0
fi
sudo=""
if [[ "$(id -u)" != "0" ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core
