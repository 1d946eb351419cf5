#!/usr/bin/python3
"""Runs a command with io_uring refused, as the default seccomp profiles of container runtimes
(and Kubernetes' RuntimeDefault) refuse it: io_uring_setup, io_uring_enter and io_uring_register
fail with EPERM. For testing SwiftVMM's fallback from aio=io_uring to worker threads.

    scripts/without-io-uring.py swiftvmm run --disk path=disk.img ...

Uses libseccomp (Debian libseccomp2) through ctypes; the filter is inherited across exec.
"""
import ctypes
import ctypes.util
import errno
import os
import sys

SCMP_ACT_ALLOW = 0x7FFF0000


def scmp_act_errno(code):
    return 0x00050000 | (code & 0x0000FFFF)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: without-io-uring.py COMMAND [ARGUMENT...]")
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    seccomp = ctypes.CDLL(name, use_errno=True)
    seccomp.seccomp_init.restype = ctypes.c_void_p
    seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
    seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    seccomp.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
    context = seccomp.seccomp_init(SCMP_ACT_ALLOW)
    if not context:
        sys.exit("without-io-uring.py: seccomp_init failed")
    for call in (b"io_uring_setup", b"io_uring_enter", b"io_uring_register"):
        number = seccomp.seccomp_syscall_resolve_name(call)
        if number < 0 or seccomp.seccomp_rule_add(context, scmp_act_errno(errno.EPERM), number, 0) != 0:
            sys.exit(f"without-io-uring.py: cannot add a rule for {call.decode()}")
    if seccomp.seccomp_load(context) != 0:
        sys.exit("without-io-uring.py: seccomp_load failed")
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
