#!/usr/bin/env bash
# Installs what the tests need that npm cannot, from Debian's packages: Dovecot (IMAP + LMTP) for
# the mail tests, Chromium for the HTML report tests (driven headless by playwright-core, which
# downloads no browser of its own), and PostgreSQL (the second backend; the tests start their own
# throw-away server, never the system one). Runs as part of `npm test`; installing needs root (CI runs as
# root, with no stdin). Nothing is installed when everything is there already.
set -euo pipefail
packages=()
if ! { [ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/lmtp ]; }; then
  packages+=(dovecot-imapd dovecot-lmtpd)
fi
if [ ! -x /usr/bin/chromium ]; then
  packages+=(chromium)
fi
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  packages+=(postgresql)
fi
if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "mailwarden tests need ${packages[*]}: run as root, or: sudo apt-get install ${packages[*]}" >&2
  exit 1
fi
echo "installing ${packages[*]} for the tests…" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${packages[@]}" >/dev/null
# Debian starts the system Dovecot after install where it can; the tests run their own instances.
(command -v systemctl >/dev/null && systemctl disable --now dovecot >/dev/null 2>&1) || true
(command -v systemctl >/dev/null && systemctl disable --now postgresql >/dev/null 2>&1) || true
