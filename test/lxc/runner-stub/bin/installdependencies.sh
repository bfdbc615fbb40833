#!/usr/bin/env bash
# STUB of the GitHub Actions runner's installdependencies.sh (LXC end-to-end
# test). The real one installs libicu and friends with apt-get.
touch "$(dirname "$0")/../.stub-installdependencies-ran"
