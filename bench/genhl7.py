"""Deterministic DFT^P03 messages for the HL7 benchmark: one claim each, 1-3 FT1 lines of RPM codes,
time entries and data days carried in 99RPM OBX segments, for a few hundred patients."""
from __future__ import annotations

import random

CODES = [("99453", 1), ("99454", 1), ("99445", 1), ("99457", 1), ("99458", 2), ("99470", 1),
         ("99091", 1)]


def generate(count: int, seed: int = 2026) -> list[str]:
    rng = random.Random(seed)
    messages = []
    for number in range(count):
        patient = rng.randrange(500)
        segments = [
            f"MSH|^~\\&|PM|CLINIC|SCRUBBER|RCM|20260401120000||DFT^P03^DFT_P03|B{number:07d}|P|2.5",
            "EVN|P03|20260401120000",
            f"PID|1||MRN{patient:05d}^^^CLINIC^MR||DOE^JANE||19500201|F",
            "PV1|1|O|||||1234567893^SMITH^ANNA^^^^^^^^^^NPI",
        ]
        for line, (code, units) in enumerate(rng.sample(CODES, rng.randint(1, 3)), start=1):
            day = rng.randint(1, 28)
            ft1 = [""] * 26
            ft1[0], ft1[1], ft1[2], ft1[4], ft1[6] = "FT1", str(line), f"T{line}", f"202604{day:02d}", "CG"
            ft1[10], ft1[11] = str(units), str(50 * units)
            ft1[20], ft1[25] = "1234567893^SMITH^ANNA^^^^^^^^^^NPI", f"{code}^RPM^C4"
            segments.append("|".join(ft1))
        segments.append(f"OBX|1|NM|RPM-MIN^RPM minutes^99RPM||{rng.randint(5, 45)}|min|||||F|||"
                        f"202604{rng.randint(1, 28):02d}1000||rn-7|video")
        segments.append("NTE|1||Reviewed readings")
        days = "~".join(f"202604{d:02d}" for d in sorted(rng.sample(range(1, 29), rng.randint(2, 20))))
        segments.append(f"OBX|2|DT|RPM-DAYS^RPM-DAYS^99RPM||{days}||||||F")
        segments.append("IN1|1|MCR|MEDICARE|MEDICARE" + "|" * 32 + f"M{patient:07d}")
        messages.append("\r".join(segments) + "\r")
    return messages
