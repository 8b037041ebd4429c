#!/bin/bash
# pkg-config's output is meant to be split into words, as a user types it.
# shellcheck disable=SC2046
# The install as a user of the library meets it: installs the build into a
# scratch prefix, then checks that
#  - every public header is installed (include/shoal.h, include/shoal/*.h),
#    as the source tree has it;
#  - libshoal.so exports only shoal_ names, and its soname is the ABI's
#    (libshoal.so.ABI, apart from the project version);
#  - shoal.pc, found through PKG_CONFIG_PATH, points into the prefix;
#  - tests/install/app.c (<shoal.h>, <shoal/files.h>: two nodes, a request
#    answered) builds against the installed copy only and RUNS, five ways:
#    pkg-config with the shared library (rpath, then LD_LIBRARY_PATH as the
#    README says for a custom prefix), pkg-config with the static library,
#    and CMake's find_package(shoal) with shoal::shoal and
#    shoal::shoal_static;
#  - the README's plain install into /usr/local, ldconfig and pkg-config
#    work (as root, in a mount namespace: nothing outside sees it).
# Every check runs even when one before it failed; the failures are listed
# at the end.
#   check_install.sh BUILD_DIR SOURCE_DIR ABI_VERSION PROJECT_VERSION
set -u
build=$1 src=$2 abi=$3 version=$4
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix
failures=()
fail() { echo "install: FAIL: $*" >&2; failures+=("$*"); }
# the first errors of a compiler's or CMake's log, for a failure's line
errors_of() { grep -m2 -iE 'error|not found' "$1" | tr '\n' ' ' | head -c 300; }

if ! cmake --install "$build" --prefix "$prefix" >"$scratch/install.log" 2>&1; then
    cat "$scratch/install.log" >&2
    echo "install: FAIL: cmake --install" >&2
    exit 1
fi
archive=$(find "$prefix" -name 'libshoal.a' | head -1)
[ -n "$archive" ] || { echo "install: FAIL: no libshoal.a installed" >&2; exit 1; }
libdir=$(dirname "$archive")

# -------------------------------------------------------------- headers
for h in "$src"/include/shoal.h "$src"/include/shoal/*.h; do
    rel=${h#"$src"/include/}
    if [ ! -f "$prefix/include/$rel" ]; then
        fail "header not installed: include/$rel"
    elif ! cmp -s "$h" "$prefix/include/$rel"; then
        fail "installed include/$rel differs from the source"
    fi
done

# ------------------------------------------------------ shared library
so=$libdir/libshoal.so
if [ ! -e "$so" ]; then
    fail "not installed: $so"
else
    others=$(nm -D --defined-only "$so" | awk '$3 !~ /^shoal_/ {print $3}')
    [ -z "$others" ] ||
        fail "libshoal.so exports $(echo "$others" | wc -l) names without shoal_: $(echo $others | head -c 300)"
    nm -D --defined-only "$so" | grep -q ' T shoal_node_new$' ||
        fail "libshoal.so does not export shoal_node_new"
    soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = "libshoal.so.$abi" ] ||
        fail "soname is '$soname', not libshoal.so.$abi (SHOAL_ABI_VERSION)"
    [ -e "$libdir/libshoal.so.$abi" ] ||
        fail "libshoal.so.$abi (what programs load) is not installed"
fi

# ----------------------------------------------------------- pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig"
if ! pkg-config --exists shoal; then
    fail "pkg-config finds no shoal in $PKG_CONFIG_PATH"
else
    [ "$(pkg-config --modversion shoal)" = "$version" ] ||
        fail "shoal.pc says version $(pkg-config --modversion shoal), not $version"
    pc_prefix=$(realpath -m "$(pkg-config --variable=prefix shoal)")
    [ "$pc_prefix" = "$(realpath "$prefix")" ] ||
        fail "shoal.pc's prefix is $pc_prefix, not $prefix"
fi

# The application sees only the installed copy: it is built from a folder
# of its own, with nothing of the source tree on its include path.
mkdir -p "$scratch/app" "$scratch/share"
cp "$src/tests/install/app.c" "$scratch/app/app.c"
echo "shared" >"$scratch/share/hello.txt"
app=$scratch/app/app.c

# run NAME PROGRAM: runs it (with a deadline) and checks that it answered.
run() {
    local name=$1; shift
    local out
    if ! out=$(timeout 30 "$@" "$scratch/share" 2>&1) ||
       ! grep -q "answered REPL hello" <<<"$out"; then
        fail "$name: did not run to the end: $out"
        return
    fi
    echo "install: $name: $out"
}

# pkg-config, shared library: found through an rpath ...
if cc -Wall -Wextra -Werror -o "$scratch/app_so" "$app" \
        $(pkg-config --cflags --libs shoal) -Wl,-rpath,"$libdir" \
        2>"$scratch/cc.log"; then
    ldd "$scratch/app_so" | grep -q "libshoal.so.$abi => $libdir/libshoal.so.$abi" ||
        fail "app_so does not load libshoal.so.$abi from $libdir: $(ldd "$scratch/app_so" | grep shoal)"
    run "pkg-config, shared, rpath" "$scratch/app_so"
else
    fail "pkg-config, shared: does not build: $(errors_of "$scratch/cc.log")"
fi
# ... and through LD_LIBRARY_PATH, with no rpath
if cc -o "$scratch/app_ld" "$app" $(pkg-config --cflags --libs shoal) \
        2>"$scratch/cc.log"; then
    run "pkg-config, shared, LD_LIBRARY_PATH" \
        env LD_LIBRARY_PATH="$libdir" "$scratch/app_ld"
else
    fail "pkg-config, shared (no rpath): does not build: $(errors_of "$scratch/cc.log")"
fi

# pkg-config, static library: libshoal.a and the libraries it needs
# (Requires.private, Libs.private)
if cc -Wall -Wextra -Werror -o "$scratch/app_static" "$app" \
        $(pkg-config --cflags shoal) "$libdir/libshoal.a" \
        $(pkg-config --static --libs shoal | sed 's/-lshoal\b//') \
        2>"$scratch/cc.log"; then
    ! ldd "$scratch/app_static" | grep -q libshoal ||
        fail "the static build loads libshoal.so"
    run "pkg-config, static" "$scratch/app_static"
else
    fail "pkg-config, static: does not build: $(errors_of "$scratch/cc.log")"
fi

# CMake package: find_package(shoal), shoal::shoal (the shared library)
# and shoal::shoal_static
cat >"$scratch/app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(app C)
find_package(shoal REQUIRED)
add_executable(app app.c)
target_link_libraries(app PRIVATE shoal::shoal)
add_executable(app_static app.c)
target_link_libraries(app_static PRIVATE shoal::shoal_static)
CMAKE
if cmake -S "$scratch/app" -B "$scratch/app/build" \
        -DCMAKE_PREFIX_PATH="$prefix" >"$scratch/cmake.log" 2>&1 &&
   cmake --build "$scratch/app/build" >>"$scratch/cmake.log" 2>&1; then
    ldd "$scratch/app/build/app" | grep -q "$libdir/libshoal.so.$abi" ||
        fail "CMake's shoal::shoal does not load $libdir/libshoal.so.$abi"
    run "CMake find_package, shoal::shoal" "$scratch/app/build/app"
    run "CMake find_package, shoal::shoal_static" \
        "$scratch/app/build/app_static"
else
    fail "CMake find_package: does not build: $(errors_of "$scratch/cmake.log")"
fi

# The README's plain install, into the default prefix /usr/local, then
# ldconfig, then pkg-config with no PKG_CONFIG_PATH: as root, in a mount
# namespace of its own, where /usr/local is an empty tmpfs and /etc a copy
# of what ldconfig, the loader and cc use there, so that nothing outside it
# sees the install. Skipped where namespaces are not allowed.
default_prefix() {
    set -eu
    mount -t tmpfs tmpfs /usr/local
    mkdir "$scratch/etc"
    cp -a /etc/ld.so.conf /etc/ld.so.conf.d /etc/ld.so.cache \
        /etc/alternatives "$scratch/etc/"
    mount --bind "$scratch/etc" /etc
    unset PKG_CONFIG_PATH
    cmake --install "$build" --prefix /usr/local >/dev/null
    cc -o "$scratch/app_default" "$app" $(pkg-config --cflags --libs shoal)
    ! "$scratch/app_default" >/dev/null 2>&1 ||
        echo "default prefix: ran before ldconfig" # not wrong, just unexpected
    ldconfig
    ldd "$scratch/app_default" | grep -q "libshoal.so.$abi => /usr/local/lib" ||
        { echo "default prefix: libshoal.so.$abi not found in /usr/local/lib after ldconfig"; exit 1; }
    "$scratch/app_default" "$scratch/share"
}
if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
    export -f default_prefix
    if out=$(scratch=$scratch build=$build app=$app abi=$abi \
             unshare -m --propagation private bash -c default_prefix 2>&1) &&
       grep -q "answered REPL hello" <<<"$out"; then
        echo "install: default prefix, ldconfig, pkg-config: $out"
    else
        fail "default prefix (/usr/local, ldconfig, pkg-config): $out"
    fi
else
    echo "install: default prefix: skipped (needs root and a mount namespace)"
fi

if [ ${#failures[@]} -gt 0 ]; then
    echo "install: ${#failures[@]} check(s) failed:" >&2
    printf '  %s\n' "${failures[@]}" >&2
    exit 1
fi
echo "install: ok (prefix $prefix: headers, exports, soname libshoal.so.$abi, pkg-config shared and static, find_package shared and static)"
