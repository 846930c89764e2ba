#!/bin/sh
# Installs bnlab from BUILD_DIR into a scratch prefix, builds and runs a consumer project with
# find_package(bnlab), runs the installed `bnlab`, and configures a project that
# add_subdirectory()s the source tree. Usage: check_package.sh CMAKE BUILD_DIR SOURCE_DIR
set -eu
cmake=$1 build=$2 src=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$cmake" --install "$build" --prefix "$work/prefix" > "$work/install.log"
test -x "$work/prefix/bin/bnlab" || { echo "no bin/bnlab after cmake --install"; exit 1; }
"$work/prefix/bin/bnlab" --help | head -3
test -f "$work/prefix/include/bnlab/core/tensor.h" || { echo "headers not installed"; exit 1; }
test -f "$work/prefix/share/man/man1/bnlab.1" || { echo "man page bnlab.1 not installed"; exit 1; }
grep -q "complete -o default -F _bnlab bnlab" "$work/prefix/share/bash-completion/completions/bnlab" \
  || { echo "bash completion not installed"; exit 1; }
"$cmake" -S "$src/tests/package/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" \
         -DCMAKE_BUILD_TYPE=Release > "$work/consumer.log"
"$cmake" --build "$work/consumer" > "$work/consumer-build.log" || { cat "$work/consumer-build.log"; exit 1; }
"$work/consumer/consumer"
"$cmake" -S "$src/tests/package/subproject" -B "$work/subproject" -DBNLAB_SOURCE="$src" > "$work/sub.log" \
  || { cat "$work/sub.log"; exit 1; }
grep -q "bnlab_core" "$work/subproject/Makefile" "$work/subproject/bnlab/Makefile" 2>/dev/null \
  || { echo "add_subdirectory(bnlab): no bnlab_core target"; exit 1; }
echo "package ok"
