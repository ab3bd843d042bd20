#!/usr/bin/env bash
# fetch-kernel.sh - make sure the host tools needed by run-vm.sh are installed
# and that Debian's stock kernel (vmlinuz + the kernel modules we need) is in
# the cache.  Downloads happen only on a cold cache.
#
# Usage: fetch-kernel.sh [--no-install] [--update] [MODULE...]
#
#   MODULE...     extra kernel modules to extract (default set: nvme, which
#                 pulls in nvme-core and its dependencies).  Dependencies are
#                 resolved from the modules' own "depends=" modinfo field.
#   --no-install  never run apt-get install (fail if a tool is missing).
#   --update      ask apt for the current kernel package even if a kernel is
#                 cached (by default the cached kernel is reused without
#                 touching apt, so runs are fast, offline and reproducible).
#
# Environment:
#   RINGD_VM_CACHE     cache directory (default /var/cache/ringd-vm); keep it
#                      outside the source tree.
#   RINGD_VM_KPKG      kernel meta package (default linux-image-amd64).
#
# stdout (machine readable, nothing else is printed there):
#   RINGD_VM_KDIR=<dir>        directory of the cached kernel
#   RINGD_VM_KVER=<uname -r of the guest kernel>
#   RINGD_VM_VMLINUZ=<path>    the package's bzImage
#   RINGD_VM_KERNEL=<path>     what to boot: an uncompressed ELF vmlinux when the
#                              kernel supports PVH entry (QEMU then skips the
#                              in-guest decompression: ~5 s faster under TCG),
#                              else the bzImage
#   RINGD_VM_MODULES=<names>   load order; file is $RINGD_VM_KDIR/modules/<name>.ko
# All progress/diagnostics go to stderr.  Exit status 0 on success, 2 if a
# requested module does not exist, 1 on other errors.
set -euo pipefail

PROG=fetch-kernel.sh
CACHE=${RINGD_VM_CACHE:-/var/cache/ringd-vm}
KPKG=${RINGD_VM_KPKG:-linux-image-amd64}
DEFAULT_MODULES="nvme"
REQUIRED_PKGS="qemu-system-x86 busybox-static cpio kmod xz-utils"

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

install=1
update=0
# shellcheck disable=SC2206
modules=($DEFAULT_MODULES)
while [ $# -gt 0 ]; do
    case $1 in
        --no-install) install=0 ;;
        --update) update=1 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        -*) die "unknown option: $1" ;;
        *) modules+=("$1") ;;
    esac
    shift
done
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

# --------------------------------------------------------------------------
# 1. host packages
# --------------------------------------------------------------------------
ensure_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$install" = 1 ] || die "missing packages: ${missing[*]} (install them, or drop --no-install)"
    [ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}"
    log "installing: ${missing[*]}"
    if ! apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
        log "apt-get install failed; running apt-get update and retrying"
        apt-get update >&2 || die "apt-get update failed"
        apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
            || die "apt-get install ${missing[*]} failed"
    fi
}
# shellcheck disable=SC2086
ensure_pkgs $REQUIRED_PKGS

# --------------------------------------------------------------------------
# 2. cache directory + lock (concurrent runs on a cold cache must not race)
# --------------------------------------------------------------------------
# A read-only cache (e.g. prepared by root, used by a normal user) is fine as
# long as nothing has to be added to it.
writable=1
if ! mkdir -p "$CACHE/debs" "$CACHE/kernels" 2>/dev/null || [ ! -w "$CACHE" ]; then
    writable=0
    [ -d "$CACHE/kernels" ] || die "cache directory $CACHE is not writable (run once as root, or set RINGD_VM_CACHE to a writable directory outside the source tree)"
fi
need_writable() {
    [ "$writable" = 1 ] || die "$1, but cache $CACHE is not writable (run once as root, or set RINGD_VM_CACHE)"
}
if [ "$writable" = 1 ]; then
    exec 9>"$CACHE/.lock"
    if command -v flock >/dev/null 2>&1; then
        flock -w 600 9 || die "timed out waiting for lock $CACHE/.lock"
    fi
fi

# --------------------------------------------------------------------------
# 3. which kernel package?  (apt-cache works offline from the package lists)
# --------------------------------------------------------------------------
resolve_kpkg() {
    local pkg ver
    pkg=$(apt-cache depends "$KPKG" 2>/dev/null \
          | awk '$1 ~ /^\|?Depends:$/ && $2 ~ /^linux-image-[0-9]/ {print $2; exit}') || true
    [ -n "$pkg" ] || return 1
    ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '/^Version:/ {print $2; exit}') || true
    [ -n "$ver" ] || return 1
    printf '%s %s\n' "$pkg" "$ver"
}

kdir=""
if [ "$update" = 0 ] && [ -f "$CACHE/current" ] \
   && [ -f "$CACHE/kernels/$(cat "$CACHE/current")/.complete" ]; then
    kdir="$CACHE/kernels/$(cat "$CACHE/current")"
elif r=$(resolve_kpkg); then
    kpkg=${r% *}; kver_deb=${r#* }
    kdir="$CACHE/kernels/${kpkg}_${kver_deb//:/%3a}"
else
    if [ -f "$CACHE/current" ]; then
        log "warning: cannot resolve $KPKG with apt-cache; using cached kernel $(cat "$CACHE/current")"
        kdir="$CACHE/kernels/$(cat "$CACHE/current")"
    else
        die "cannot resolve the kernel package behind $KPKG (apt-cache depends $KPKG); try: apt-get update"
    fi
fi

# --------------------------------------------------------------------------
# 4. download + extract (only if not cached)
# --------------------------------------------------------------------------
normalize() { printf '%s' "${1//-/_}"; }

# Extract the package into a scratch dir inside the cache (same filesystem,
# never the source tree).  Sets $scratch and $moddir.
scratch=""
cleanup() { [ -n "$scratch" ] && rm -rf "$scratch"; return 0; }
trap cleanup EXIT

find_deb() {
    local pkg=$1 ver=$2 f
    f="$CACHE/debs/${pkg}_${ver//:/%3a}_amd64.deb"
    [ -s "$f" ] && { printf '%s\n' "$f"; return 0; }
    return 1
}

extract_deb() {
    local deb=$1
    scratch=$(mktemp -d "$CACHE/.extract.XXXXXX")
    log "extracting $(basename "$deb")"
    dpkg-deb -x "$deb" "$scratch" || die "dpkg-deb -x $deb failed"
    local d
    for d in "$scratch"/lib/modules/* "$scratch"/usr/lib/modules/*; do
        [ -d "$d/kernel" ] && { moddir=$d; break; }
    done
    [ -n "${moddir:-}" ] || die "no lib/modules/<version>/kernel in $deb"
}

if [ ! -f "$kdir/.complete" ]; then
    [ -n "${kpkg:-}" ] || die "cached kernel $kdir is incomplete and apt-cache cannot resolve $KPKG"
    need_writable "kernel $kpkg $kver_deb is not cached yet"
    if ! deb=$(find_deb "$kpkg" "$kver_deb"); then
        log "downloading $KPKG and $kpkg ($kver_deb) into $CACHE/debs"
        # apt drops privileges to _apt for downloads; let it write there.
        chown _apt "$CACHE/debs" 2>/dev/null || true
        (cd "$CACHE/debs" && apt-get download "$KPKG" "$kpkg=$kver_deb" >&2) \
            || { log "apt-get download failed; running apt-get update and retrying";
                 { [ "$(id -u)" = 0 ] && apt-get update >&2; } || true
                 (cd "$CACHE/debs" && apt-get download "$KPKG" "$kpkg=$kver_deb" >&2); } \
            || die "apt-get download $kpkg=$kver_deb failed"
        deb=$(find_deb "$kpkg" "$kver_deb") || die "downloaded package not found in $CACHE/debs"
    fi
    extract_deb "$deb"
    kver=$(basename "$moddir")
    rm -rf "$kdir.tmp"; mkdir -p "$kdir.tmp/modules"
    vmlinuz=""
    for f in "$scratch"/boot/vmlinuz-*; do [ -f "$f" ] && { vmlinuz=$f; break; }; done
    [ -n "$vmlinuz" ] || die "no /boot/vmlinuz-* in $deb"
    cp "$vmlinuz" "$kdir.tmp/vmlinuz"
    cp "$scratch"/boot/config-* "$kdir.tmp/config" 2>/dev/null || true
    printf '%s\n' "$kver" > "$kdir.tmp/kver"
    printf '%s\n' "$(basename "$deb")" > "$kdir.tmp/package"
    cp "$moddir/modules.builtin" "$kdir.tmp/modules.builtin" 2>/dev/null || : > "$kdir.tmp/modules.builtin"
    rm -rf "$kdir"; mv "$kdir.tmp" "$kdir"
    : > "$kdir/.complete"
fi
kver=$(cat "$kdir/kver")

# Uncompressed vmlinux for PVH boot (only if the kernel has CONFIG_PVH=y).
make_vmlinux() {
    local magic off comp
    [ -f "$kdir/config" ] || dpkg-deb --fsys-tarfile "$CACHE/debs/$(cat "$kdir/package")" \
        | tar -xO --wildcards './boot/config-*' > "$kdir/config" 2>/dev/null || true
    grep -qx 'CONFIG_PVH=y' "$kdir/config" 2>/dev/null || return 1
    for comp in xz zstd gzip; do
        case $comp in
            xz)   magic='\xfd7zXZ\x00' ;;
            zstd) magic='\x28\xb5\x2f\xfd' ;;
            gzip) magic='\x1f\x8b\x08' ;;
        esac
        command -v "$comp" >/dev/null 2>&1 || continue
        for off in $(LC_ALL=C grep -obUaP "$magic" "$kdir/vmlinuz" 2>/dev/null | cut -d: -f1 | head -n 5); do
            case $comp in
                xz)   tail -c +$((off + 1)) "$kdir/vmlinuz" | xz -dc --single-stream ;;
                zstd) tail -c +$((off + 1)) "$kdir/vmlinuz" | zstd -dcq ;;
                gzip) tail -c +$((off + 1)) "$kdir/vmlinuz" | gzip -dc ;;
            esac > "$kdir/.vmlinux.tmp" 2>/dev/null
            if [ "$(head -c 4 "$kdir/.vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
                mv "$kdir/.vmlinux.tmp" "$kdir/vmlinux"
                log "extracted uncompressed vmlinux ($comp) for PVH boot"
                return 0
            fi
        done
    done
    rm -f "$kdir/.vmlinux.tmp"
    return 1
}
if [ ! -f "$kdir/vmlinux" ] && [ ! -f "$kdir/.no-vmlinux" ] && [ "$writable" = 1 ]; then
    make_vmlinux || { log "no PVH-capable vmlinux; booting the bzImage"; : > "$kdir/.no-vmlinux"; }
fi
boot_kernel=$kdir/vmlinuz
[ -f "$kdir/vmlinux" ] && boot_kernel=$kdir/vmlinux
if [ "$writable" = 1 ]; then
    basename "$kdir" > "$CACHE/current.tmp" && mv "$CACHE/current.tmp" "$CACHE/current"
fi

# --------------------------------------------------------------------------
# 5. modules: <kdir>/modules/<name>.ko (decompressed) + <name>.dep (deps)
# --------------------------------------------------------------------------
is_builtin() {
    local n; n=$(normalize "$1")
    sed -e 's#.*/##' -e 's/\.ko.*$//' -e 'y/-/_/' "$kdir/modules.builtin" | grep -qxF "$n"
}

have_module() { local n; n=$(normalize "$1"); [ -f "$kdir/modules/$n.ko" ] && [ -f "$kdir/modules/$n.dep" ]; }

declare -A index=()
build_index() {
    [ ${#index[@]} -gt 0 ] && return 0
    if [ -z "$scratch" ]; then
        local deb; deb="$CACHE/debs/$(cat "$kdir/package")"
        [ -s "$deb" ] || die "module not cached and $deb is gone; remove $kdir and rerun"
        extract_deb "$deb"
    fi
    local f b
    while IFS= read -r -d '' f; do
        b=${f##*/}; b=${b%%.ko*}
        index[$(normalize "$b")]=$f
    done < <(find "$moddir/kernel" -name '*.ko*' -print0)
}

extract_module() {   # $1 = module name; recursively pulls dependencies
    local n src tmp deps d
    n=$(normalize "$1")
    have_module "$n" && return 0
    if is_builtin "$n"; then return 0; fi
    need_writable "module $n is not cached yet"
    build_index
    src=${index[$n]:-}
    if [ -z "$src" ]; then
        printf '%s: error: kernel module %s does not exist in kernel %s\n' "$PROG" "$1" "$kver" >&2
        exit 2
    fi
    tmp="$kdir/modules/.tmp.$n.ko"   # modinfo insists on a .ko suffix
    mkdir -p "$kdir/modules"
    case $src in
        *.ko)     cp "$src" "$tmp" ;;
        *.ko.xz)  xz -dc "$src" > "$tmp" ;;
        *.ko.zst) command -v zstd >/dev/null || ensure_pkgs zstd; zstd -qdc "$src" > "$tmp" ;;
        *.ko.gz)  gzip -dc "$src" > "$tmp" ;;
        *) die "unknown module compression: $src" ;;
    esac
    deps=$(modinfo -F depends "$tmp") || die "modinfo -F depends $src failed"
    deps=${deps//,/ }
    for d in $deps; do
        extract_module "$d"
    done
    mv "$tmp" "$kdir/modules/$n.ko"
    # only non-builtin deps
    local out=""
    for d in $deps; do is_builtin "$d" || out="$out $(normalize "$d")"; done
    printf '%s\n' "${out# }" > "$kdir/modules/$n.dep"
    log "module $n (deps: ${out# })"
}

for m in "${modules[@]}"; do extract_module "$m"; done

# load order: depth-first post-order over the .dep files
declare -A seen=()
order=()
visit() {
    local n d; n=$(normalize "$1")
    [ -n "${seen[$n]:-}" ] && return 0
    seen[$n]=1
    if is_builtin "$n"; then return 0; fi
    have_module "$n" || die "internal: module $n missing from cache"
    local deps; read -r deps < "$kdir/modules/$n.dep" || true
    for d in $deps; do visit "$d"; done
    order+=("$n")
}
for m in "${modules[@]}"; do visit "$m"; done

printf 'RINGD_VM_KDIR=%s\n' "$kdir"
printf 'RINGD_VM_KVER=%s\n' "$kver"
printf 'RINGD_VM_VMLINUZ=%s\n' "$kdir/vmlinuz"
printf 'RINGD_VM_KERNEL=%s\n' "$boot_kernel"
printf 'RINGD_VM_MODULES=%s\n' "${order[*]}"
