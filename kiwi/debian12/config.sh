#!/bin/bash
# Runs in the image root after its packages are installed, as kiwi-ng runs a description's
# config.sh: with KIWI's variables (/.profile) and helper functions (/.kconfig).
set -e
test -f /.kconfig && . /.kconfig
test -f /.profile && . /.profile

Echo "Configure image: [$kiwi_iname] $kiwi_iversion ($kiwi_profiles, $kiwi_type)"
baseSetRunlevel 3
baseInsertService ssh
echo "$kiwi_iname $kiwi_iversion $kiwi_profiles $kiwi_type" > /etc/liveboot-kiwi
