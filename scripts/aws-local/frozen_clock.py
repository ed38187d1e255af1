"""Runs moto's server with its clock frozen at one instant.

    python frozen_clock.py 2025-04-10T12:00:00Z -H 127.0.0.1 -p 15000

`moto.sh start` uses this when MOTO_CLOCK is set. Two reasons:
* CloudWatch Logs (and moto, which copies the rule) refuses events older than 14 days, so logs
  with fixed timestamps in the past can only be seeded into a server whose "now" is near them;
* everything the server stamps with its own clock (ingestionTime, creationTime, an export
  object's LastModified, a Kinesis record's ApproximateArrivalTimestamp) is then the same on every
  run, so the outputs clients write can be compared byte for byte across reruns.

The clock does not tick (freezegun, tick=False): every request sees the same instant. Sockets and
thread waits use the operating system's clocks, which are not touched.
"""

import sys

from freezegun import freeze_time


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: frozen_clock.py INSTANT [moto_server arguments...]")
    instant, args = sys.argv[1], sys.argv[2:]
    with freeze_time(instant, tick=False):
        from moto.server import main as moto_main

        moto_main(args)


if __name__ == "__main__":
    main()
