"""Build 837P interchanges and DFT^P03 messages for tests, with envelopes and counts right."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Line:
    code: str
    date: str  # YYYYMMDD or YYYYMMDD-YYYYMMDD
    units: str = "1"
    charge: str = "50"
    credit: bool = False


@dataclass
class ClaimSpec:
    claim_id: str
    lines: list[Line]
    mrn: str | None = "MRN-1"
    member_id: str | None = "MEMBER-1"
    provider: str = "1234567893"
    frequency: str = "1"
    payer: str = "MEDICARE"
    pwk: list[str] = field(default_factory=list)
    obx: list[str] = field(default_factory=list)


def _claim_segments(spec: ClaimSpec) -> list[str]:
    total = sum(float(line.charge) for line in spec.lines)
    segments = [f"CLM*{spec.claim_id}*{total:g}***11:B:{spec.frequency}*Y*A*Y*Y"]
    segments += [f"PWK*OZ*EL***AC*{control}" for control in spec.pwk]
    if spec.frequency in ("7", "8"):  # a replacement or void names the payer's number of the claim
        segments.append(f"REF*F8*ICN-{spec.claim_id}")
    if spec.mrn:
        segments.append(f"REF*EA*{spec.mrn}")
    segments.append("HI*ABK:I10")
    for number, line in enumerate(spec.lines, start=1):
        qualifier = "RD8" if "-" in line.date else "D8"
        segments += [f"LX*{number}", f"SV1*HC:{line.code}*{line.charge}*UN*{line.units}***1",
                     f"DTP*472*{qualifier}*{line.date}"]
    return segments


def x12_837(claims: list[ClaimSpec], control: str = "000000001") -> str:
    """One interchange, one group, one transaction set; a subscriber loop per claim."""
    body = ["BHT*0019*00*0123*20260401*1200*CH", "NM1*41*2*DEMO BILLING*****46*TGJ23",
            "PER*IC*BILLING*TE*5555550100", "NM1*40*2*CLEARINGHOUSE*****46*66783JJT"]
    hl = 0
    for provider in dict.fromkeys(c.provider for c in claims):
        hl += 1
        parent = hl
        body += [f"HL*{hl}**20*1", f"NM1*85*2*DEMO CLINIC*****XX*{provider}",
                 "N3*1 MAIN ST", "N4*SPRINGFIELD*IL*627010000", "REF*EI*123456789"]
        for claim in (c for c in claims if c.provider == provider):
            hl += 1
            member = claim.member_id or ""
            body += [f"HL*{hl}*{parent}*22*0", "SBR*P*18*******MB",
                     f"NM1*IL*1*DOE*JANE****MI*{member}" if member else "NM1*IL*1*DOE*JANE",
                     "N3*2 OAK AVE", "N4*CHICAGO*IL*606010000", "DMG*D8*19500201*F",
                     f"NM1*PR*2*PAYER*****PI*{claim.payer}"]
            body += _claim_segments(claim)
    st = ["ST*837*0001*005010X222A1"] + body
    st.append(f"SE*{len(st) + 1}*0001")
    isa = (f"ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *260401*1200*^*"
           f"00501*{control}*0*T*:")
    segments = [isa, "GS*HC*SUBMITTER*RECEIVER*20260401*1200*1*X*005010X222A1", *st, "GE*1*1",
                f"IEA*1*{control}"]
    return "~\n".join(segments) + "~\n"


def dft_p03(control: str, lines: list[Line], mrn: str | None = "MRN-1",
            member_id: str | None = "MEMBER-1", provider: str = "1234567893",
            obx: list[str] | None = None, version: str = "2.5") -> str:
    pid3 = f"{mrn}^^^CLINIC^MR" if mrn else ""
    segments = [
        f"MSH|^~\\&|PM|CLINIC|SCRUBBER|RCM|20260401120000||DFT^P03|{control}|P|{version}",
        "EVN|P03|20260401120000",
        f"PID|1||{pid3}||DOE^JANE||19500201|F",
        "PV1|1|O",
    ]
    for number, line in enumerate(lines, start=1):
        kind = "CD" if line.credit else "CG"
        date = line.date.replace("-", "^")
        fields = [""] * 26
        fields[0], fields[1], fields[2], fields[4], fields[6] = "FT1", str(number), f"T{number}", date, kind
        fields[10], fields[11] = line.units, line.charge
        fields[20] = f"{provider}^SMITH^ANNA^^^^^^^^^^NPI" if provider else ""
        fields[25] = f"{line.code}^RPM^C4"
        segments.append("|".join(fields))
    segments += obx or []
    in1 = ["IN1", "1", "MCR", "MEDICARE", "MEDICARE"] + [""] * 32
    in1[36] = member_id or ""
    segments.append("|".join(in1))
    return "\r".join(segments) + "\r"


def obx_minutes(set_id: int, minutes: int, stamp: str, mode: str = "", performer: str = "rn-7",
                activity: str | None = "Reviewed readings; adjusted plan") -> list[str]:
    segments = [f"OBX|{set_id}|NM|RPM-MIN^RPM minutes^99RPM||{minutes}|min|||||F|||{stamp}||"
                f"{performer}|{mode}"]
    if activity:
        segments.append(f"NTE|1||{activity}")
    return segments


def obx_dates(set_id: int, code: str, dates: list[str]) -> list[str]:
    return [f"OBX|{set_id}|DT|{code}^{code}^99RPM||{'~'.join(dates)}||||||F"]
