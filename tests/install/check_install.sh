#!/bin/bash
# Installs the build into a scratch prefix and builds an application against
# it twice: with pkg-config, and with CMake's find_package(shoal).
set -eu
build=$1 src=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/ | head -1)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
for f in "$prefix/include/shoal.h" "$libdir/libshoal.a" "$libdir/libshoal.so"; do
    [ -e "$f" ] || { echo "not installed: $f"; exit 1; }
done

# pkg-config, static library
cc -o "$prefix/app_pc" "$src/examples/echo_peer.c" \
    $(pkg-config --cflags shoal) "$libdir/libshoal.a" \
    $(pkg-config --static --libs shoal | sed 's/-lshoal//')
# pkg-config, shared library
cc -o "$prefix/app_so" "$src/examples/echo_peer.c" \
    $(pkg-config --cflags --libs shoal) -Wl,-rpath,"$libdir"
"$prefix/app_so" 127.0.0.1:99999 2>/dev/null && { echo "bad address accepted"; exit 1; }

# CMake package
mkdir -p "$prefix/app"
cat >"$prefix/app/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(app C)
find_package(shoal REQUIRED)
add_executable(app "$src/examples/echo_client.c")
target_link_libraries(app PRIVATE shoal::shoal)
CMAKE
cmake -S "$prefix/app" -B "$prefix/app/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/app/build" >/dev/null
echo "install: ok"
