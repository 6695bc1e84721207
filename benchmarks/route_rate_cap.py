"""A route's rate cap in segments, measured where it counts: submit_sm PDUs arriving at an SMSC.

    python benchmarks/route_rate_cap.py                 # cap 200/s, 3-part messages, 4 s of sending
    python benchmarks/route_rate_cap.py --cap 50 --seconds 2

A route with ``rate = CAP`` and ``rate_unit = "segments"`` sends 3-part messages through a routed
transport to the SMSC simulator (real sockets). A sampler counts the submit_sm PDUs the simulator has
accepted every 5 ms; the rate between slice arrivals over the steady part (after the bucket's initial burst) is printed as a
ratio of the cap, for segments and for messages (which should come out at a third of it). The same
route with ``rate_unit = "messages"`` is run beside it: there the messages, not the segments, come out
at the cap.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from msgbridge.adapters.base import open_transport
from msgbridge.core.message import Message
from msgbridge.routing.config import RateUnit, Route, RoutingConfig
from msgbridge.routing.transport import RoutedTransport
from msgbridge.simulators.smsc import SmscSimulator

THREE_PARTS = "x" * 400  # GSM-7: 153 characters per part, 3 parts


async def measure(cap: float, unit: RateUnit, seconds: float) -> tuple[float, float]:
    """(segments/s, messages/s) accepted by the simulator over the steady part of the run."""
    sim = SmscSimulator(users={"u": "p"}, dlr_delay_ms=0, seed=1)
    async with sim.serve("127.0.0.1", 0):
        child = open_transport(f"smpp://u:p@127.0.0.1:{sim.port}?window=100&dlr=no")
        routing = RoutingConfig(routes=(Route("capped", ("sms",), rate=cap, rate_unit=unit),))
        count = int(cap * seconds) + 50  # more than the cap lets through in ``seconds``
        async with RoutedTransport({"sms": child}, routing) as t:
            samples: list[tuple[float, int]] = []

            async def sample() -> None:
                while True:
                    samples.append((time.monotonic(), len(sim.submitted)))
                    await asyncio.sleep(0.005)

            batch = [Message(to="+77011234567", sender="Bench", text=THREE_PARTS) for _ in range(count)]
            tasks = [asyncio.create_task(sample()), asyncio.create_task(t.send(batch))]
            await asyncio.sleep(seconds)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    # The moments a slice arrived (the count went up), past the first quarter (the bucket's initial burst):
    # measured from one arrival to another, the rate does not depend on where a sample fell in a slice.
    arrivals = [(t, n) for (t, n), (_, before) in zip(samples[1:], samples, strict=False) if n > before]
    steady = arrivals[len(arrivals) // 4 :]
    (t0, n0), (t1, n1) = steady[0], steady[-1]
    segments_per_second = (n1 - n0) / (t1 - t0)
    return segments_per_second, segments_per_second / 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    for unit in (RateUnit.SEGMENTS, RateUnit.MESSAGES):
        segments, messages = asyncio.run(measure(args.cap, unit, args.seconds))
        counted = segments if unit is RateUnit.SEGMENTS else messages
        print(
            f"rate_unit={unit.value:<9} cap {args.cap:g}/s: {segments:7.1f} segments/s, {messages:7.1f} messages/s"
            f" -> {unit.value} at {counted / args.cap:.2f} of the cap"
        )


if __name__ == "__main__":
    main()
