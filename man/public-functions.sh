#!/bin/sh
# Print the public functions <ringd.h> declares (inline ones included), one
# a line: man/meson.build makes a link page to libringd(3) for each, and
# tests/tree/test_man.c checks the result against libringd.so's exports.
# A declaration starts a line with its return type and has the name
# followed by "(" on that line.
exec sed -nE 's/^[a-z][a-z0-9_ ]*[ *]+(ringd_[a-z0-9_]+)\(.*/\1/p' "$1"
