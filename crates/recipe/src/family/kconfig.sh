# /.kconfig: the helper functions a KIWI config.sh calls, as liveboot provides them (a
# description's config.sh sources it: `test -f /.kconfig && . /.kconfig`). Any other KIWI helper
# is reported by name, rather than failing as an unknown command further down.

Echo() {
    echo "$@"
}

Debug() {
    if [ "${DEBUG:-0}" = 1 ]; then echo "+++++> $*"; fi
}

baseService() {
    # baseService NAME on|off
    if [ "$2" = off ]; then baseRemoveService "$1"; else baseInsertService "$1"; fi
}

baseInsertService() {
    systemctl enable "$1"
}

baseRemoveService() {
    systemctl disable "$1"
}

suseService() { baseService "$@"; }
suseInsertService() { baseInsertService "$@"; }
suseRemoveService() { baseRemoveService "$@"; }

baseSetRunlevel() {
    case "$1" in
        1) target=rescue.target ;;
        2|3) target=multi-user.target ;;
        5) target=graphical.target ;;
        *) target="$1" ;;
    esac
    systemctl set-default "$target"
}

baseCleanMount() {
    :
}

command_not_found_handle() {
    echo "config.sh calls '$1': not a command in the image, and not one of the KIWI helper functions liveboot provides (Echo Debug baseService baseInsertService baseRemoveService suseService suseInsertService suseRemoveService baseSetRunlevel baseCleanMount)" >&2
    return 127
}
