"""OpenPGM's side of bench_net.py: a ZeroMQ pgm:// / epgm:// publisher or subscriber.

Run with Debian's interpreter, which has python3-zmq (libzmq 4.3 on OpenPGM 5.3):

    /usr/bin/python3 bench/zmq_peer.py pub  "pgm://10.9.0.1;239.192.0.1:7500" COUNT SIZE RATE_KBIT
    /usr/bin/python3 bench/zmq_peer.py sub  "pgm://10.9.0.2;239.192.0.1:7500" COUNT SIZE TIMEOUT

Prints one JSON line: messages, bytes, first/last receive time, CPU seconds of this process.
"""

import json
import resource
import sys
import time

import zmq


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    mode, endpoint, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ctx = zmq.Context()
    if mode == "pub":
        rate = int(sys.argv[5])
        s = ctx.socket(zmq.PUB)
        s.setsockopt(zmq.RATE, rate)
        s.setsockopt(zmq.RECOVERY_IVL, 10000)
        s.setsockopt(zmq.SNDBUF, 8 * 1024 * 1024)
        s.setsockopt(zmq.SNDHWM, 0)
        s.setsockopt(zmq.LINGER, 10000)
        s.connect(endpoint)
        time.sleep(1.0)  # let the receivers join
        msg = b"x" * size
        t0 = time.monotonic()
        for _ in range(count):
            s.send(msg)
        t1 = time.monotonic()
        time.sleep(float(sys.argv[6]) if len(sys.argv) > 6 else 5.0)  # serve repairs
        print(json.dumps({"sent": count, "send_seconds": t1 - t0, "cpu": cpu()}))
        s.close()
        ctx.term()
        return
    timeout = float(sys.argv[5])
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.RCVBUF, 8 * 1024 * 1024)
    s.setsockopt(zmq.RCVHWM, 0)
    s.setsockopt(zmq.RECOVERY_IVL, 10000)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(endpoint)
    print(json.dumps({"ready": True}), flush=True)
    n = nbytes = 0
    first = last = 0.0
    s.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
    try:
        while n < count:
            m = s.recv()
            last = time.monotonic()
            if n == 0:
                first = last
            n += 1
            nbytes += len(m)
    except zmq.Again:
        pass
    print(json.dumps({"received": n, "bytes": nbytes, "first": first, "last": last, "cpu": cpu()}))


if __name__ == "__main__":
    main()
