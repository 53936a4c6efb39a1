"""Clients that misbehave at the HTTP edge, and a process's memory: shared by
tests/integration/test_edge.py and the chaos edge scenarios (tests/chaos/edge.py).
Every connection goes to 127.0.0.1 (from 127.0.0.x source addresses)."""
import socket


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def half_sent(port, n, first_addr=2, naddr=32, head=b"GET /data HTTP/1.1\r\nHost: x\r\nX-a: "):
    """n connections from 127.0.0.<first_addr..> that send a partial head and stall."""
    socks = []
    for i in range(n):
        s = socket.socket()
        try:
            s.bind((f"127.0.0.{first_addr + i % naddr}", 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", port))
            s.sendall(head)
            socks.append(s)
        except OSError:
            s.close()
    return socks


def still_open(socks):
    n = 0
    for s in socks:
        try:
            s.settimeout(0.001)
            if s.recv(1):
                n += 1
        except socket.timeout:
            n += 1
        except OSError:
            pass
    return n
