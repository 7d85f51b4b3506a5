#!/usr/bin/env python3
"""mptcp-exec: open a Multipath TCP socket (IPPROTO_MPTCP, RFC 8684) and hand it to a
command, so that a program that cannot create MPTCP sockets itself (Node) can use one.

Usage:
  python3 mptcp-exec.py listen ADDR PORT -- CMD [ARGS...]
  python3 mptcp-exec.py connect ADDR PORT [--bind ADDR] [--timeout S] -- CMD [ARGS...]

listen   binds an MPTCP socket to [ADDR]:PORT and listens; connect connects one (from
         --bind when given; default timeout 10 s). Then the process execs CMD with
         "--fd N" appended, N the socket's descriptor (inherited across exec), e.g.
         `node traffic.mjs tcp-recv ... --fd 3`. Node adopts a stream socket's fd with
         net.Socket({fd}) or server.listen({fd}); the kernel keeps it MPTCP.

The subflows are the kernel's path manager's business: `ip mptcp endpoint` and
`ip mptcp limits` in the namespace decide them (see examples/harness/modes.ts).
Exit codes: 1 the socket could not be opened, bound or connected; 2 bad arguments.
"""
import os
import socket
import sys


def usage(msg):
    sys.stderr.write(f"mptcp-exec: {msg}\n" + __doc__.split("\n\n")[1] + "\n")
    sys.exit(2)


def main(argv):
    if "--" not in argv:
        usage("missing -- before the command")
    cut = argv.index("--")
    args, cmd = argv[:cut], argv[cut + 1:]
    if len(args) < 3 or not cmd:
        usage("need MODE ADDR PORT -- CMD")
    mode, addr, port = args[0], args[1], args[2]
    opts = {}
    rest = args[3:]
    while rest:
        if rest[0] not in ("--bind", "--timeout") or len(rest) < 2:
            usage(f"bad argument {rest[0]}")
        opts[rest[0][2:]] = rest[1]
        rest = rest[2:]
    try:
        port = int(port)
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        if not hasattr(socket, "IPPROTO_MPTCP"):
            raise OSError("this Python has no socket.IPPROTO_MPTCP (needs 3.10+)")
        s = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_MPTCP)
        if mode == "listen":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
            s.listen(16)
        elif mode == "connect":
            if "bind" in opts:
                s.bind((opts["bind"], 0))
            s.settimeout(float(opts.get("timeout", "10")))
            s.connect((addr, port))
            s.settimeout(None)
        else:
            usage(f"unknown mode {mode!r}")
    except OSError as e:
        sys.stderr.write(f"mptcp-exec: {mode} [{addr}]:{port}: {e}\n")
        sys.exit(1)
    fd = s.detach()
    os.set_inheritable(fd, True)
    os.execvp(cmd[0], cmd + ["--fd", str(fd)])


if __name__ == "__main__":
    main(sys.argv[1:])
