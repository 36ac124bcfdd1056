"""Deterministic 837P batches for the benchmarks: N claims of RPM codes for a few thousand patients,
in transaction sets of at most 1,000 claims (as the guide recommends keeping sets modest)."""
from __future__ import annotations

import random
import sys
from collections.abc import Iterator

CODES = [("99453", 1), ("99454", 1), ("99445", 1), ("99457", 1), ("99458", 2), ("99470", 1),
         ("99091", 1), ("99213", 1)]
PROVIDERS = ["1234567893", "1999999984", "1417913585", "1306849450"]
SET_SIZE = 1000


def _set(rng: random.Random, number: int, first: int, count: int) -> list[str]:
    body = [f"BHT*0019*00*B{number:06d}*20260401*1200*CH",
            "NM1*41*2*BENCH BILLING*****46*TGJ23", "PER*IC*BILLING*TE*5555550100",
            "NM1*40*2*CLEARINGHOUSE*****46*66783JJT"]
    hl = 0
    for provider in PROVIDERS:
        hl += 1
        parent = hl
        body += [f"HL*{hl}**20*1", f"NM1*85*2*BENCH CLINIC*****XX*{provider}", "N3*1 MAIN ST",
                 "N4*SPRINGFIELD*IL*627010000", "REF*EI*123456789"]
        for index in range(first, first + count):
            if PROVIDERS[index % len(PROVIDERS)] != provider:
                continue
            hl += 1
            patient = rng.randrange(5000)
            lines = rng.sample(CODES, rng.randint(1, 3))
            charges = [50 * units for _, units in lines]
            body += [f"HL*{hl}*{parent}*22*0", "SBR*P*18*******MB",
                     f"NM1*IL*1*DOE*JANE****MI*M{patient:07d}", "N3*2 OAK AVE",
                     "N4*CHICAGO*IL*606010000", "DMG*D8*19500201*F",
                     "NM1*PR*2*MEDICARE*****PI*MEDICARE",
                     f"CLM*B{index:08d}*{sum(charges)}***11:B:1*Y*A*Y*Y", f"REF*EA*MRN{patient:07d}",
                     "HI*ABK:I10"]
            for line, ((code, units), charge) in enumerate(zip(lines, charges, strict=True), start=1):
                day = rng.randint(1, 31)
                body += [f"LX*{line}", f"SV1*HC:{code}*{charge}*UN*{units}***1",
                         f"DTP*472*D8*202603{day:02d}"]
    control = f"{number:04d}"
    return [f"ST*837*{control}*005010X222A1", *body, f"SE*{len(body) + 2}*{control}"]


def generate(claims: int, seed: int = 2026) -> Iterator[str]:
    """The interchange as text chunks (one per transaction set), so big files stream to disk."""
    rng = random.Random(seed)
    sets = (claims + SET_SIZE - 1) // SET_SIZE
    yield ("ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *260401*1200*^*00501*"
           "000000001*0*T*:~\nGS*HC*SUBMITTER*RECEIVER*20260401*1200*1*X*005010X222A1~\n")
    for number in range(1, sets + 1):
        first = (number - 1) * SET_SIZE
        yield "~\n".join(_set(rng, number, first, min(SET_SIZE, claims - first))) + "~\n"
    yield f"GE*{sets}*1~\nIEA*1*000000001~\n"


if __name__ == "__main__":
    for chunk in generate(int(sys.argv[1])):
        sys.stdout.write(chunk)
