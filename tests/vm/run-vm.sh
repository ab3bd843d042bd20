#!/usr/bin/env bash
# run-vm.sh - run a command inside a throw-away QEMU VM (Debian stock kernel,
# busybox initramfs, emulated NVMe controller with poll queues) and return the
# command's output and exit status.
#
# Usage: run-vm.sh [options] -- COMMAND [ARG...]
#
# Options:
#   --nvme-poll-queues N   nvme.poll_queues for the guest driver (default 2)
#   --nvme-size SIZE       size of the sparse raw disk image (default 256M)
#   --nvme-image FILE      use FILE as the raw image of nvme0 (not deleted,
#                          guest writes persist) instead of a temporary one
#   --nvme-bad-sector N    reads and writes touching 512-byte sector N of
#                          nvme0's image fail with EIO (QEMU blkdebug under
#                          the drive): the controller completes them with a
#                          media error (2/0x81 Unrecovered Read Error, 2/0x80
#                          Write Fault). Repeatable.
#   --nvme2                add a second controller WITHOUT poll queues
#                          (QEMU max_ioqpairs=1 => the driver cannot carve a
#                          poll queue out of its single I/O queue); it is
#                          nvme1 / /dev/nvme1n1 / /dev/ng1n1 in the guest
#   --nvme2-size SIZE      size of the second disk (default: --nvme-size)
#   --file HOST[:GUEST]    copy HOST into the guest at GUEST (default: same
#                          path).  ELF files get their ldd libraries and the
#                          dynamic loader copied too.  Directories are copied
#                          recursively.  Repeatable.  Paths under /tmp and
#                          /run (a clone in /tmp) survive the guest's tmpfs
#                          mounts there; /proc, /sys and /dev are refused.
#   --env NAME=VALUE       set an environment variable for COMMAND (repeatable)
#   --module 'NAME [PARAM=V...]'  load an extra kernel module (repeatable)
#   --timeout SEC          kill the VM after SEC seconds (default 300)
#   --mem SIZE             guest RAM (default 1G)
#   --smp N                guest CPUs (default 2)
#   --append STR           extra kernel command line
#   --kernel FILE          boot FILE instead of the cached kernel (bzImage or
#                          PVH vmlinux; must match the cached modules)
#   --verbose              kernel messages + harness progress on the console
#   --keep                 keep the build directory (initramfs, console.log)
#
# Guest environment: busybox (all applets) + the --file's; /proc /sys /dev
# (devtmpfs) /tmp /run mounted (tmpfs, holding the --file's placed there); nvme0 = serial ringdvm0001 = /dev/nvme0n1 and
# /dev/ng0n1 (char, passthrough); COMMAND runs via /bin/sh from cwd / with
# stdin </dev/null and stdout/stderr on the serial console.
#
# Output: the guest console is streamed to stdout (CRs stripped).
# Exit status: COMMAND's exit status; 124 on timeout; 125 if the VM died or
# the harness failed inside the guest (no exit marker); 77 if QEMU or the
# kernel cannot be provided on this host (callers treat it as "skip"); 2 on
# usage errors.
#
# Environment: RINGD_VM_CACHE (see fetch-kernel.sh), TMPDIR (build dir parent),
# RINGD_VM_QEMU (qemu binary, default qemu-system-x86_64).
set -euo pipefail

PROG=run-vm.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QEMU=${RINGD_VM_QEMU:-qemu-system-x86_64}

poll_queues=2
nvme_size=256M
nvme_image=""
nvme2=0
nvme2_size=""
bad_sectors=()
timeout_s=300
mem=1G
smp=2
append=""
kernel_override=""
verbose=0
keep=0
files=()
envs=()
extra_modules=()

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die()  { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
udie() { printf '%s: %s\n' "$PROG" "$*" >&2; printf 'try: %s --help\n' "$PROG" >&2; exit 2; }
skip() { printf '%s: SKIP: %s\n' "$PROG" "$*" >&2; exit 77; }
vlog() { [ "$verbose" = 1 ] && printf '%s: %s\n' "$PROG" "$*" >&2; return 0; }

need_arg() { [ $# -ge 2 ] || udie "option $1 needs an argument"; }
while [ $# -gt 0 ]; do
    case $1 in
        --nvme-poll-queues) need_arg "$@"; poll_queues=$2; shift ;;
        --nvme-size)        need_arg "$@"; nvme_size=$2; shift ;;
        --nvme-image)       need_arg "$@"; nvme_image=$2; shift ;;
        --nvme-bad-sector)  need_arg "$@"; bad_sectors+=("$2"); shift ;;
        --nvme2)            nvme2=1 ;;
        --nvme2-size)       need_arg "$@"; nvme2_size=$2; nvme2=1; shift ;;
        --file)             need_arg "$@"; files+=("$2"); shift ;;
        --env)              need_arg "$@"; envs+=("$2"); shift ;;
        --module)           need_arg "$@"; extra_modules+=("$2"); shift ;;
        --timeout)          need_arg "$@"; timeout_s=$2; shift ;;
        --mem)              need_arg "$@"; mem=$2; shift ;;
        --smp)              need_arg "$@"; smp=$2; shift ;;
        --append)           need_arg "$@"; append=$2; shift ;;
        --kernel)           need_arg "$@"; kernel_override=$2; shift ;;
        --verbose|-v)       verbose=1 ;;
        --keep)             keep=1 ;;
        -h|--help)          usage; exit 0 ;;
        --)                 shift; break ;;
        *)                  udie "unknown option: $1 (the command goes after --)" ;;
    esac
    shift
done
[ $# -gt 0 ] || udie "no command given"
case $poll_queues in ''|*[!0-9]*) udie "--nvme-poll-queues must be a number" ;; esac
case $timeout_s in ''|*[!0-9]*) udie "--timeout must be a number of seconds" ;; esac
case $smp in ''|*[!0-9]*) udie "--smp must be a number" ;; esac
for b in "${bad_sectors[@]+"${bad_sectors[@]}"}"; do
    case $b in ''|*[!0-9]*) udie "--nvme-bad-sector must be a sector number, got '$b'" ;; esac
done
[ -n "$nvme2_size" ] || nvme2_size=$nvme_size
for e in "${envs[@]+"${envs[@]}"}"; do
    case $e in [A-Za-z_]*=*) ;; *) udie "--env wants NAME=VALUE, got '$e'" ;; esac
    n=${e%%=*}; case $n in *[!A-Za-z0-9_]*) udie "bad variable name in --env '$e'" ;; esac
done

# --------------------------------------------------------------------------
# host prerequisites: kernel + modules (fetch-kernel.sh), qemu
# --------------------------------------------------------------------------
mod_names=()
for m in "${extra_modules[@]+"${extra_modules[@]}"}"; do
    read -r name _ <<<"$m"; [ -n "$name" ] || udie "empty --module"
    mod_names+=("$name")
done
frc=0
kinfo=$("$HERE/fetch-kernel.sh" "${mod_names[@]+"${mod_names[@]}"}") || frc=$?
case $frc in
    0) ;;
    2) udie "bad --module (see above)" ;;
    *) skip "could not provide the guest kernel/tools (see fetch-kernel.sh errors above)" ;;
esac
KDIR="" VMLINUZ="" MODULES="" KVER=""
while IFS='=' read -r k v; do
    case $k in
        RINGD_VM_KDIR) KDIR=$v ;;
        RINGD_VM_KERNEL) VMLINUZ=$v ;;
        RINGD_VM_MODULES) MODULES=$v ;;
        RINGD_VM_KVER) KVER=$v ;;
    esac
done <<<"$kinfo"
if [ ! -f "$VMLINUZ" ] || [ -z "$MODULES" ]; then skip "fetch-kernel.sh returned no kernel"; fi
vlog "guest kernel $KVER ($VMLINUZ), modules: $MODULES"
[ -z "$kernel_override" ] || VMLINUZ=$kernel_override

command -v "$QEMU" >/dev/null 2>&1 || skip "$QEMU not found (apt-get install qemu-system-x86)"
command -v busybox >/dev/null 2>&1 || skip "busybox not found (apt-get install busybox-static)"
command -v cpio >/dev/null 2>&1 || skip "cpio not found"
BUSYBOX=$(command -v busybox)
if ldd "$BUSYBOX" >/dev/null 2>&1; then
    skip "$BUSYBOX is dynamically linked; install busybox-static"
fi

# --------------------------------------------------------------------------
# build directory (never inside the source tree)
# --------------------------------------------------------------------------
BUILD=$(mktemp -d "${TMPDIR:-/tmp}/ringd-vm.XXXXXX")
qpid=""
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
        kill -TERM "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
    fi
    if [ "$keep" = 1 ]; then
        printf '%s: build directory kept: %s\n' "$PROG" "$BUILD" >&2
    else
        rm -rf "$BUILD"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Is QEMU usable at all (binary runs, TCG available, nvme device built in)?
if ! probe_out=$(printf 'quit\n' | timeout 60 "$QEMU" -machine none -accel tcg -nodefaults \
        -no-user-config -display none -monitor stdio 2>&1); then
    printf '%s\n' "$probe_out" >&2
    skip "$QEMU cannot start (TCG probe failed)"
fi
if ! "$QEMU" -device help 2>/dev/null | grep -q '"nvme"'; then
    skip "$QEMU has no nvme device model"
fi

ROOT=$BUILD/root
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,lib/modules/ringd,ringd}
chmod 1777 "$ROOT/tmp"

# busybox + applet links
cp "$BUSYBOX" "$ROOT/bin/busybox"
while IFS= read -r applet; do
    [ -n "$applet" ] || continue
    case $applet in /*) applet=${applet#/} ;; esac
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$ROOT/$(dirname "$applet")"
    ln -sf /bin/busybox "$ROOT/$applet"
done < <("$ROOT/bin/busybox" --list-full)
[ -e "$ROOT/bin/sh" ] || ln -sf busybox "$ROOT/bin/sh"

# kernel modules
for m in $MODULES; do
    cp "$KDIR/modules/$m.ko" "$ROOT/lib/modules/ringd/$m.ko"
done

# --file's (+ shared libraries)
declare -A libdirs=()
is_elf() { [ -f "$1" ] && [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }
put() {   # put SRC DEST-in-guest (follows symlinks)
    local src=$1 dst=$ROOT$2
    mkdir -p "$(dirname "$dst")"
    rm -rf "$dst"
    cp -L --preserve=mode "$src" "$dst"
}
add_libs() {  # add_libs ELF: copy its shared libraries + loader
    local elf=$1 line lib out
    out=$(ldd "$elf" 2>&1) || {
        # "not a dynamic executable" => static, nothing to do
        case $out in *"not a dynamic executable"*|*"statically linked"*) return 0 ;; esac
        die "ldd $elf failed: $out"
    }
    case $out in *"statically linked"*) return 0 ;; esac
    if grep -q 'not found' <<<"$out"; then
        die "$elf: missing shared libraries on the host:"$'\n'"$(grep 'not found' <<<"$out")"
    fi
    while IFS= read -r line; do
        line=${line#"${line%%[! 	]*}"}   # ldd indents with a TAB
        lib=""
        case $line in
            *"=> /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
            /*)       lib=${line%% (*} ;;
        esac
        lib=${lib%"${lib##*[! 	]}"}
        [ -n "$lib" ] || continue
        [ -e "$ROOT$lib" ] || put "$lib" "$lib"
        libdirs[$(dirname "$lib")]=1
    done <<<"$out"
    any_elf=1
}
any_elf=0
for spec in "${files[@]+"${files[@]}"}"; do
    case $spec in
        *:*) hsrc=${spec%%:*}; gdst=${spec#*:} ;;
        *)   hsrc=$spec; gdst=$spec ;;
    esac
    [ -e "$hsrc" ] || die "--file $hsrc: no such file"
    case $gdst in
        /*) ;;
        *) if [ "$gdst" = "$hsrc" ]; then gdst=$(readlink -f "$hsrc"); else gdst=/$gdst; fi ;;
    esac
    # The guest mounts proc, sysfs and devtmpfs over these: a file placed
    # there would vanish before COMMAND runs. (/tmp and /run are kept: the
    # init copies them onto its tmpfs mounts.)
    case $gdst/ in
        /proc/*|/sys/*|/dev/*)
            top=${gdst#/}; top=/${top%%/*}
            die "--file $spec: the guest mounts its own $top over $gdst; pick another GUEST path (--file HOST:/opt/NAME)" ;;
    esac
    printf '%s\n' "$gdst" >> "$ROOT/ringd/files"
    if [ -d "$hsrc" ]; then
        mkdir -p "$ROOT$gdst"
        cp -aL "$hsrc/." "$ROOT$gdst/"
        while IFS= read -r -d '' f; do
            is_elf "$f" && add_libs "$f"
        done < <(find "$ROOT$gdst" -type f -print0)
    else
        put "$hsrc" "$gdst"
        is_elf "$hsrc" && add_libs "$hsrc"
    fi
done
if [ "$any_elf" = 1 ]; then
    # glibc dlopen()s libgcc_s for pthread_cancel/backtraces; cheap to add.
    g=$(ldconfig -p 2>/dev/null | awk '/libgcc_s\.so\.1 .*x86-64/ {print $NF; exit}') || true
    if [ -n "$g" ] && [ ! -e "$ROOT$g" ]; then put "$g" "$g"; libdirs[$(dirname "$g")]=1; fi
    # ld.so.cache so that libraries in non-default directories are found
    printf '%s\n' "${!libdirs[@]}" > "$ROOT/etc/ld.so.conf"
    ldconfig -r "$ROOT" 2>/dev/null || vlog "ldconfig -r failed (ignored)"
fi

# module parameters for --module's
mkdir -p "$ROOT/ringd/modparams"
for m in "${extra_modules[@]+"${extra_modules[@]}"}"; do
    read -r name params <<<"$m"
    name=${name//-/_}
    [ "$name" != nvme ] || udie "use --nvme-poll-queues instead of --module nvme"
    printf '%s\n' "$params" > "$ROOT/ringd/modparams/$name"
done

# the command, the environment, the parameters
sq() { local s=$1; printf "'%s'" "${s//\'/\'\\\'\'}"; }
nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
{
    printf 'export HOME=/root TMPDIR=/tmp TERM=dumb\n'
    for e in "${envs[@]+"${envs[@]}"}"; do
        printf 'export %s=%s\n' "${e%%=*}" "$(sq "${e#*=}")"
    done
    printf 'cd /\n'
    printf 'exec'
    for a in "$@"; do printf ' %s' "$(sq "$a")"; done
    printf '\n'
} > "$ROOT/ringd/cmd.sh"
{
    printf 'NONCE=%s\n' "$nonce"
    printf 'VERBOSE=%s\n' "$verbose"
    printf 'MODULES=%s\n' "$(sq "$MODULES")"
    printf 'POLL_QUEUES=%s\n' "$poll_queues"
    printf 'NVME_BDFS=%s\n' "$(sq "0000:00:04.0$([ "$nvme2" = 1 ] && printf ' 0000:00:05.0')")"
} > "$ROOT/ringd/config"

cat > "$ROOT/init" <<'INIT'
#!/bin/sh
# ringd-vm guest init (generated by tests/vm/run-vm.sh)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
. /ringd/config

log() { [ "$VERBOSE" = 1 ] && echo "ringd-vm: $*"; return 0; }
fail() {
    echo "ringd-vm: SETUP ERROR: $*"
    echo "RINGD-VM-SETUP-FAILED $NONCE"
    sync
    poweroff -f; echo o >/proc/sysrq-trigger; sleep 10; exit 1
}
waitfor() {  # waitfor TEST-ARGS... (up to ~120s; TCG on a loaded host is slow)
    _w=0
    while ! test "$@"; do
        _w=$((_w + 1)); [ $_w -gt 1200 ] && return 1
        sleep 0.1
    done
}

mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
# /tmp and /run get their own tmpfs, as on a real system. run-vm.sh puts
# each --file at its host path, and a build under /tmp (a clone in /tmp) puts
# binaries and libraries there: move what the initramfs holds there onto
# the new mount instead of hiding it.
mount_keep() {  # mount_keep DIR MODE
    _old=
    if [ -n "$(ls -A "$1")" ]; then
        _old=/.initramfs-${1#/}
        mv "$1" "$_old" && mkdir -m "$2" "$1" || fail "move $1 aside"
    fi
    mount -t tmpfs -o mode="$2" tmpfs "$1" || fail "mount $1"
    if [ -n "$_old" ]; then
        cp -a "$_old/." "$1/" || fail "copy the initramfs's $1 onto its tmpfs"
        rm -rf "$_old"
    fi
}
mount_keep /tmp 1777
mount_keep /run 0755
mount -t tmpfs -o mode=1777 tmpfs /dev/shm 2>/dev/null
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || { ln -s /proc/self/fd/0 /dev/stdin; ln -s /proc/self/fd/1 /dev/stdout; ln -s /proc/self/fd/2 /dev/stderr; }
hostname ringd-vm
# no CR/LF translation: command output reaches the host byte-for-byte
stty -onlcr 2>/dev/null
[ "$VERBOSE" = 1 ] || echo 4 > /proc/sys/kernel/printk
# module autoloading has no modules.dep here; do not spawn modprobe for it
echo /bin/true > /proc/sys/kernel/modprobe 2>/dev/null

# Modules are loaded in dependency order; everything up to and including
# nvme first.  NVMe controllers are then bound one by one (in PCI address
# order, with automatic binding disabled) so that names are deterministic:
# first = nvme0/nvme0n1/ng0n1, second = nvme1/nvme1n1/ng1n1.  Modules after
# nvme in the list come from --module and are loaded after that.
bind_nvme() {
    i=0
    for bdf in $NVME_BDFS; do
        [ -e /sys/bus/pci/devices/$bdf ] || fail "no PCI device $bdf"
        echo "$bdf" > /sys/bus/pci/drivers/nvme/bind || fail "bind $bdf to nvme"
        waitfor -b /dev/nvme${i}n1 || fail "/dev/nvme${i}n1 did not appear"
        waitfor -c /dev/ng${i}n1 || fail "/dev/ng${i}n1 did not appear"
        log "nvme$i: $bdf serial=$(cat /sys/class/nvme/nvme$i/serial 2>/dev/null) io_poll=$(cat /sys/block/nvme${i}n1/queue/io_poll 2>/dev/null)"
        i=$((i + 1))
    done
    echo 1 > /sys/bus/pci/drivers_autoprobe
}
echo 0 > /sys/bus/pci/drivers_autoprobe
for m in $MODULES; do
    params=$(cat /ringd/modparams/$m 2>/dev/null)
    [ "$m" = nvme ] && params="poll_queues=$POLL_QUEUES"
    log "insmod $m $params"
    # shellcheck disable=SC2086
    insmod /lib/modules/ringd/$m.ko $params || fail "insmod $m $params"
    [ "$m" = nvme ] && bind_nvme
done

# Every --file must be where the command expects it; say which is not
# (rather than the command's own "not found").
if [ -f /ringd/files ]; then
    while IFS= read -r f; do
        [ -e "$f" ] || fail "--file $f is missing in the guest (hidden by a mount?)"
    done < /ringd/files
fi

log "running command"
/bin/sh /ringd/cmd.sh </dev/null
rc=$?
sync
echo
echo "RINGD-VM-EXIT=$rc $NONCE"
poweroff -f
echo o > /proc/sysrq-trigger
sleep 10
INIT
chmod 755 "$ROOT/init"

# initramfs: newc cpio (uncompressed: faster than decompressing under TCG)
# plus a hand-made entry for /dev/console so it exists before devtmpfs is
# mounted (creating the node with mknod would need root).
cpio_console() {
    local name=dev/console
    local namesize=$(( ${#name} + 1 ))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        1 $((8#020600)) 0 0 1 0 0 0 0 5 1 "$namesize" 0
    printf '%s\0' "$name"
    # header (110) + name padded to a multiple of 4
    local pad=$(( (4 - (110 + namesize) % 4) % 4 ))
    head -c "$pad" /dev/zero
    local t='TRAILER!!!' tsz=11
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        0 0 0 0 1 0 0 0 0 0 0 "$tsz" 0
    printf '%s\0' "$t"
    head -c $(( (4 - (110 + tsz) % 4) % 4 )) /dev/zero
}
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$BUILD/initrd.img" \
    || die "cpio failed"
cpio_console >> "$BUILD/initrd.img"
vlog "initramfs: $(du -h "$BUILD/initrd.img" | cut -f1)"

# disks (sparse)
if [ -n "$nvme_image" ]; then
    [ -f "$nvme_image" ] || die "--nvme-image $nvme_image: no such file"
    disk1=$nvme_image
else
    disk1=$BUILD/nvme0.img
    truncate -s "$nvme_size" "$disk1" || die "bad --nvme-size $nvme_size"
fi
# Bad sectors: blkdebug between the raw format and the image file. Its
# rules fire on the raw driver's read_aio/write_aio events; QEMU's NVMe
# turns the EIO into a media error status for the guest.
drive1="file=$disk1"
if [ "${#bad_sectors[@]}" -gt 0 ]; then
    for b in "${bad_sectors[@]}"; do
        for ev in read_aio write_aio; do
            printf '[inject-error]\nevent = "%s"\nerrno = "5"\nsector = "%s"\n\n' "$ev" "$b"
        done
    done > "$BUILD/blkdebug.conf"
    drive1="file=blkdebug:$BUILD/blkdebug.conf:$disk1"
    vlog "bad sectors on nvme0: ${bad_sectors[*]}"
fi
qargs=(
    -accel tcg -cpu max -m "$mem" -smp "$smp"
    -nodefaults -no-user-config -display none -monitor none -no-reboot
    -serial "file:$BUILD/console.raw"
    -kernel "$VMLINUZ" -initrd "$BUILD/initrd.img"
    -append "console=ttyS0 panic=-1 $([ "$verbose" = 1 ] || printf quiet) $append"
    -drive "$drive1,if=none,id=nvm,format=raw,cache=unsafe"
    -device "nvme,serial=ringdvm0001,drive=nvm,addr=04.0"
)
if [ "$nvme2" = 1 ]; then
    disk2=$BUILD/nvme1.img
    truncate -s "$nvme2_size" "$disk2" || die "bad --nvme2-size $nvme2_size"
    qargs+=(
        -drive "file=$disk2,if=none,id=nvm2,format=raw,cache=unsafe"
        -device "nvme,serial=ringdvm0002,drive=nvm2,addr=05.0,max_ioqpairs=1"
    )
fi

# --------------------------------------------------------------------------
# run: QEMU writes the serial console to a file; tail streams it to stdout.
# --------------------------------------------------------------------------
: > "$BUILD/console.raw"
start=$(date +%s)
vlog "$QEMU ${qargs[*]}"
timeout --kill-after=10 "$timeout_s" "$QEMU" "${qargs[@]}" </dev/null 2>"$BUILD/qemu.err" &
qpid=$!
# tail exits by itself shortly after QEMU (--pid); both run in the background
# so that signals to this script are handled at once (wait is interruptible).
tail -n +1 -s 0.2 -f --pid="$qpid" "$BUILD/console.raw" | sed -u 's/\r$//' &
tpid=$!
set +e
wait "$qpid"
qrc=$?
wait "$tpid"
set -e
qpid=""
elapsed=$(( $(date +%s) - start ))

if [ -s "$BUILD/qemu.err" ]; then
    # The bad sectors' errors, one line per failed request: counted, not listed.
    injected=0
    [ "${#bad_sectors[@]}" -eq 0 ] || injected=$(grep -c '^qemu-system-[^:]*: aio failed: Input/output error$' "$BUILD/qemu.err" || true)
    if [ "$injected" -gt 0 ]; then
        grep -v '^qemu-system-[^:]*: aio failed: Input/output error$' "$BUILD/qemu.err" | sed "s/^/$PROG: qemu: /" >&2 || true
        printf '%s: qemu: %s requests failed on the bad sectors (--nvme-bad-sector)\n' "$PROG" "$injected" >&2
    else
        sed "s/^/$PROG: qemu: /" "$BUILD/qemu.err" >&2
    fi
fi
marker=$(tr -d '\r' < "$BUILD/console.raw" | sed -n "s/^RINGD-VM-EXIT=\([0-9][0-9]*\) $nonce\$/\1/p" | tail -n 1)
if [ -n "$marker" ]; then
    vlog "guest exit status $marker after ${elapsed}s"
    exit "$marker"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    printf '%s: TIMEOUT: VM killed after %ss without an exit marker\n' "$PROG" "$timeout_s" >&2
    exit 124
fi
if grep -q "RINGD-VM-SETUP-FAILED $nonce" "$BUILD/console.raw"; then
    printf '%s: guest setup failed (see console output above)\n' "$PROG" >&2
    exit 125
fi
if [ "$elapsed" -lt 2 ] && [ "$qrc" != 0 ] && ! [ -s "$BUILD/console.raw" ]; then
    skip "$QEMU failed to start (exit $qrc)"
fi
printf '%s: VM exited (qemu status %s) without an exit marker (kernel panic / init died?)\n' "$PROG" "$qrc" >&2
exit 125
