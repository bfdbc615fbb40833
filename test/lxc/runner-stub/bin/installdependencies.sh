#!/usr/bin/env bash
# STUB of the GitHub Actions runner's installdependencies.sh (LXC end-to-end
# test). The real one installs libicu and friends with apt-get, as root. This
# one notes who ran it and from where, in a file only root can write.
[ "$(id -u)" = 0 ] || { echo "Need to run with sudo privilege"; exit 1; }
printf '%s %s\n' "$(id -u)" "$(realpath "$0")" >> /var/log/stub-installdependencies.log
