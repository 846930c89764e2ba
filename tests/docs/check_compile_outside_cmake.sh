#!/bin/sh
# Installs bnlab from BUILD_DIR into a scratch prefix P, then runs the shell block of
# docs/walkthrough.md between `<!-- compile-command:begin -->` and `<!-- compile-command:end -->`
# (a g++ line that builds examples/walkthrough.cpp against P, then runs it) in a scratch copy of
# the example, so the documented command is known to work. Usage: SCRIPT CMAKE BUILD_DIR SOURCE_DIR
set -eu
cmake=$1 build=$2 src=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$cmake" --install "$build" --prefix "$work/prefix" > "$work/install.log"
sed -n '/<!-- compile-command:begin -->/,/<!-- compile-command:end -->/p' "$src/docs/walkthrough.md" \
  | grep -v -e '^<!--' -e '^```' > "$work/commands.sh"
test -s "$work/commands.sh" || { echo "docs/walkthrough.md: no compile-command block"; exit 1; }
mkdir -p "$work/project/examples"
cp "$src/examples/walkthrough.cpp" "$work/project/examples/"
cd "$work/project"
echo "running, with P=$work/prefix:"
cat "$work/commands.sh"
P="$work/prefix" sh -eu "$work/commands.sh" > "$work/output.txt"
grep -q "d loss / d weight" "$work/output.txt" || { echo "the program built by the documented command printed:"; cat "$work/output.txt"; exit 1; }
echo "compile outside cmake ok"
