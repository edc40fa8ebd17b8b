#!/usr/bin/env bash
# Installs what the tests need that npm cannot: Dovecot (IMAP + LMTP) from Debian's packages.
# Runs as part of `npm test`; installing needs root (CI runs as root, with no stdin).
set -euo pipefail
if [ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/lmtp ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "mailwarden tests need Dovecot: run as root, or: sudo apt-get install dovecot-imapd dovecot-lmtpd" >&2
  exit 1
fi
echo "installing dovecot-imapd and dovecot-lmtpd for the tests…" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq dovecot-imapd dovecot-lmtpd >/dev/null
# Debian starts the system Dovecot after install where it can; the tests run their own instances.
(command -v systemctl >/dev/null && systemctl disable --now dovecot >/dev/null 2>&1) || true
