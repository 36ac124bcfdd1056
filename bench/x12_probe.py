"""Differential probe: single random edits of the 837P samples that pyx12 and we both accept,
judged by both, printing where the judgements differ (a measurement, not a test: it never fails).

    .venv/bin/python bench/x12_probe.py --family values --edits 400 --seed 1
    .venv/bin/python bench/x12_probe.py --family envelope --edits 400 --seed 11

Families of edits:
  values      one element's value: cut to one character, a decimal part, a minus or plus sign,
              leading zeros, lower case, a bad date, a trailing space, an exponent, a trailing
              point, a component or repetition separator added; or two segments swapped
  structure   an element deleted or inserted (shifting the rest), a segment moved, a run of
              segments repeated, an impossible date, a qualifier changed, a date range reversed
  envelope    an ISA, GS, ST, SE, GE, IEA or BHT value emptied, given letters, a made-up code, a
              digit more, a bad date or time, lengthened or cut short (ISA values keep their width)
  segments    an ST, SE, GS, GE, IEA or BHT segment dropped, repeated or swapped with a neighbour
  components  one component of a composite emptied, given a made-up code, lengthened, a trailing
              space, letters, dropped, or a component added

"missed" counts edits pyx12 rejects and we accept (assume we are wrong); "extra" edits we reject
and pyx12 accepts (README, "X12: what is checked", says which of those are ours on purpose). SE01
is recounted after every edit. pyx12 crashing on an edit counts as pyx12 rejecting it.
"""
from __future__ import annotations

import argparse
import collections
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_x12_elements import _our_errors, _recounted, _valid_samples  # noqa: E402
from tests.x12oracle import pyx12_errors  # noqa: E402

_ENVELOPE = ("ISA", "GS", "GE", "IEA", "ST", "SE")
_QUALIFIERS = ("IL", "QC", "85", "87", "PR", "DN", "82", "77", "DK", "472", "431", "D9", "G1", "EA", "P", "S")


def _value(parts: list[str], at: int, kind: str, component: str) -> str | None:
    old = parts[at]
    if not old:
        return None
    return {"short": old[:1], "decimal": old + ".5", "negative": "-" + old, "plus": "+" + old,
            "zeros": "00" + old, "lower": old.lower(), "spaced": old + " ", "exponent": old + "E2",
            "point": old + ".", "component": old + component + "X", "repetition": old + "^" + old,
            "date": "20261399" if len(old) == 8 else old[:-1] + "9"}[kind]


def _edit(text: str, family: str, rng: random.Random) -> tuple[list[str], str] | None:
    """The edited segments and a label ('kind SEGMENTnn'), or None when the edit does not apply."""
    element, component, terminator = text[3], text[104], text[105]
    segments = text.split(terminator)
    ids = [s.strip().split(element)[0] for s in segments]
    if family in ("envelope", "segments"):
        wanted = [i for i, sid in enumerate(ids) if sid in (*_ENVELOPE, "BHT")]
    else:
        wanted = [i for i, sid in enumerate(ids) if sid and sid not in _ENVELOPE]
    index = rng.choice(wanted)
    parts = segments[index].strip().split(element)
    sid = parts[0]
    if family == "segments":
        kind = rng.choice(["drop", "repeat", "swap"])
        if kind == "drop":
            del segments[index]
        elif kind == "repeat":
            segments.insert(index, segments[index])
        elif index + 1 < len(segments) and segments[index + 1].strip():
            segments[index], segments[index + 1] = segments[index + 1], segments[index]
        else:
            return None
        return segments, f"{kind} {sid}"
    if family == "structure" and rng.random() < 3 / 7:
        kind = rng.choice(["move", "repeat", "swap"])
        if kind == "move":
            segments.insert(rng.choice(wanted), segments.pop(index))
        elif kind == "repeat":
            end = next((k for k in range(index + 1, len(ids)) if ids[k] == sid), None)
            if end is None or end - index > 12:
                return None
            segments[index:index] = segments[index:end]
        elif index + 1 in wanted:
            segments[index], segments[index + 1] = segments[index + 1], segments[index]
        else:
            return None
        return segments, f"{kind} {sid}"
    if len(parts) < 2:
        return None
    at = rng.randrange(1, len(parts))
    if family == "values":
        kind = rng.choice(["short", "decimal", "negative", "plus", "zeros", "lower", "spaced", "exponent",
                           "point", "component", "repetition", "date"])
        new = _value(parts, at, kind, component)
    elif family == "structure":
        kind = rng.choice(["delete", "insert", "date", "qualifier", "range"])
        if kind == "delete":
            if len(parts) < 3:
                return None
            del parts[at]
            new = None
        elif kind == "insert":
            parts.insert(at, "1")
            new = None
        elif kind == "date":
            new = parts[at][:4] + rng.choice(["0230", "0431", "1301", "0000"]) if (
                len(parts[at]) == 8 and parts[at].isdigit()) else None
        elif kind == "qualifier":
            at, new = 1, rng.choice(_QUALIFIERS)
        else:
            first, dash, last = parts[at].partition("-")
            new = f"{last}-{first}" if dash and len(parts[at]) == 17 and first != last else None
        if kind not in ("delete", "insert") and new is None:
            return None
    elif family == "envelope":
        kind = rng.choice(["empty", "alpha", "code", "digit", "long", "date", "time", "short"])
        old = parts[at]
        if sid == "ISA":
            if at in (11, 16) or kind in ("long", "short"):
                return None
            width = len(old)
            new = {"empty": "", "alpha": "A1B", "code": "ZZ", "digit": "9" * width, "date": "261399",
                   "time": "2599"}[kind][:width].ljust(width)
        else:
            new = {"empty": "", "alpha": "A1B", "code": "ZZ", "digit": old + "9", "long": old + "X" * 40,
                   "date": "20261399", "time": "2599", "short": old[:1]}[kind]
    else:  # components
        composites = [i for i, p in enumerate(parts) if i and component in p]
        if not composites:
            return None
        at = rng.choice(composites)
        pieces = parts[at].split(component)
        number = rng.randrange(len(pieces))
        kind = rng.choice(["empty", "code", "long", "extra", "spaced", "alpha", "drop"])
        old = pieces[number]
        if kind == "extra":
            pieces.append("X")
        elif kind == "drop":
            del pieces[number]
        else:
            pieces[number] = {"empty": "", "code": "ZZ", "long": (old or "A") + "X" * 60, "spaced": old + " ",
                              "alpha": "A1B"}[kind]
        while pieces and not pieces[-1]:
            pieces.pop()
        new = component.join(pieces)
        sid = f"{sid}{at:02d}-{number + 1}"
        at = at if new != parts[at] else 0
        if not at:
            return None
    if new is not None:
        if new == parts[at]:
            return None
        parts[at] = new
    label = sid if family == "components" else f"{sid}{at:02d}"
    segments[index] = ("\n" if index else "") + element.join(parts)
    return segments, f"{kind} {label}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=["values", "structure", "envelope", "segments", "components"],
                        default="values")
    parser.add_argument("--edits", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    samples = _valid_samples()
    rng = random.Random(args.seed)
    missed, extra, examples = collections.Counter(), collections.Counter(), {}
    judged = 0
    while judged < args.edits:
        name, text = rng.choice(samples)
        edited = _edit(text, args.family, rng)
        if edited is None:
            continue
        segments, what = edited
        candidate = _recounted(segments, text[3], text[105])
        if candidate == text:
            continue
        ours = _our_errors(candidate)  # syntax errors; claim edits, which the 999 accepts, aside
        try:
            theirs = pyx12_errors(candidate)
        except Exception as error:  # noqa: BLE001 - pyx12 failing on an input rejects it
            theirs = [f"pyx12 failed: {error!r}"[:120]]
        judged += 1
        if theirs and not ours:
            missed[what] += 1
            examples.setdefault(("missed", what), (name, theirs[0]))
        elif ours and not theirs:
            extra[what] += 1
            examples.setdefault(("extra", what), (name, ours[0]))
    print(f"{judged} edits ({args.family}, seed {args.seed}) of {len(samples)} samples both accept: "
          f"{sum(missed.values())} missed, {sum(extra.values())} extra")
    for title, counts in (("missed (pyx12 rejects, we accept)", missed),
                          ("extra (we reject, pyx12 accepts)", extra)):
        print(f"{title}:")
        for what, count in counts.most_common():
            name, message = examples[(title.split()[0], what)]
            print(f"  {count:4d}  {what:24}  {name}: {message[:100]}")


if __name__ == "__main__":
    main()
