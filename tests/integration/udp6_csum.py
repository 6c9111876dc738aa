#!/usr/bin/env python3
"""Check the UDP checksum of IPv6 DNS answers as they arrive on an interface.

    udp6_csum.py DEV MARKER_HEX READY_FILE STOP_FILE MAX_SECONDS

Captures the IPv6 UDP packets from port 53 seen on DEV (an AF_PACKET socket: it sees a packet
redirected to DEV's ingress as well) whose payload holds the bytes MARKER_HEX (an address only
the fault's answers carry), and checks each one's checksum against its pseudo-header, in
software: on a veth the receiving stack trusts a checksum the sender left to the device, so a
wrong one would go unnoticed. Touches READY_FILE once capturing, stops when STOP_FILE exists
or after MAX_SECONDS, and prints "GOOD BAD" (the counts).
"""
import os
import socket
import struct
import sys
import time

ETH_P_IPV6 = 0x86DD
ETH_HLEN = 14


def checksum_ok(src, dst, udp):
    data = src + dst + struct.pack("!I", len(udp)) + b"\0\0\0\x11" + udp
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF and udp[6:8] != b"\0\0"


def main():
    dev, marker, ready, stop, secs = sys.argv[1:6]
    marker = bytes.fromhex(marker)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
    s.bind((dev, 0))
    s.settimeout(0.2)
    with open(ready, "w"):
        pass
    good = bad = 0
    deadline = time.monotonic() + float(secs)
    while time.monotonic() < deadline and not os.path.exists(stop):
        try:
            pkt = s.recv(65535)
        except socket.timeout:
            continue
        ip = pkt[ETH_HLEN:]
        if len(ip) < 48 or ip[0] >> 4 != 6 or ip[6] != socket.IPPROTO_UDP:
            continue
        plen = struct.unpack("!H", ip[4:6])[0]
        udp = ip[40 : 40 + plen]
        if len(udp) != plen or struct.unpack("!H", udp[0:2])[0] != 53 or marker not in udp:
            continue
        if checksum_ok(ip[8:24], ip[24:40], udp):
            good += 1
        else:
            bad += 1
    print(good, bad)


if __name__ == "__main__":
    main()
