"""Light latency probe: sequential GETs (one every few ms) on one
keep-alive connection, so it measures latency without adding load.

    python3 bench/probe.py URL SECONDS
"""
import http.client
import sys
import time
import urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
seconds = float(sys.argv[2])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
samples = []
errors = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    t0 = time.perf_counter()
    conn.request("GET", url.path)
    res = conn.getresponse()
    res.read()
    samples.append((time.perf_counter() - t0) * 1000)
    if res.status != 200:
        errors += 1
    time.sleep(0.005)
samples.sort()


def pct(p):
    return samples[min(len(samples) - 1, int(len(samples) * p / 100))]


print(f"{len(samples)} requests, {errors} non-200, p50 {pct(50):.2f} ms, p99 {pct(99):.2f} ms, max {samples[-1]:.2f} ms")
