"""Which device observations are physiologic measurements, the data RPM device days count.

Devices send much more than measurements: time synchronisation, device profiles, absolute-time
attributes, measurement context, fitness sets. Only the measurements below make a data day. MDC
codes (ISO/IEEE 11073-10101, as IHE PCD-01 and Continua send them) are matched by their reference
id (OBX-3.2, e.g. MDC_PRESS_BLD_NONINV_SYS) or their numeric code (OBX-3.1); LOINC by code.
"""
from __future__ import annotations

__all__ = ["measurement_kind"]

# reference id -> kind (numeric codes in the comments)
_MDC = {
    "MDC_PRESS_BLD_NONINV_SYS": "blood-pressure",    # 150021
    "MDC_PRESS_BLD_NONINV_DIA": "blood-pressure",    # 150022
    "MDC_PRESS_BLD_NONINV_MEAN": "blood-pressure",   # 150023
    "MDC_PRESS_BLD_ART_SYS": "blood-pressure",       # 150033
    "MDC_PRESS_BLD_ART_DIA": "blood-pressure",       # 150034
    "MDC_PRESS_BLD_ART_MEAN": "blood-pressure",      # 150035
    "MDC_PRESS_BLD_ART_PULM_SYS": "blood-pressure",  # 150045
    "MDC_PRESS_BLD_ART_PULM_DIA": "blood-pressure",  # 150046
    "MDC_PRESS_BLD_ART_PULM_MEAN": "blood-pressure",  # 150047
    "MDC_PULS_OXIM_SAT_O2": "spo2",                  # 150456
    "MDC_PULS_OXIM_PULS_RATE": "pulse",              # 149530
    "MDC_PULS_RATE_NON_INV": "pulse",                # 149546
    "MDC_BLD_PULS_RATE_INV": "pulse",                # 149522
    "MDC_ECG_HEART_RATE": "heart-rate",              # 147842
    "MDC_MASS_BODY_ACTUAL": "body-weight",           # 188736
    "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD": "glucose",  # 160184
    "MDC_CONC_GLU_CAPILLARY_PLASMA": "glucose",      # 160188
    "MDC_CONC_GLU_VENOUS_WHOLEBLOOD": "glucose",     # 160192
    "MDC_CONC_GLU_VENOUS_PLASMA": "glucose",         # 160196
    "MDC_CONC_GLU_ARTERIAL_WHOLEBLOOD": "glucose",   # 160200
    "MDC_CONC_GLU_ARTERIAL_PLASMA": "glucose",       # 160204
    "MDC_CONC_GLU_ISF": "glucose",                   # 160212
    "MDC_CONC_HBA1C": "hba1c",                       # 160220
    "MDC_TEMP_BODY": "body-temperature",             # 150364
    "MDC_TEMP_ORAL": "body-temperature",             # 188424
    "MDC_TEMP_TYMP": "body-temperature",             # 188428
    "MDC_RESP_RATE": "respiration-rate",             # 151562
}
_MDC_CODES = {"150021": "blood-pressure", "150022": "blood-pressure", "150023": "blood-pressure",
              "150033": "blood-pressure", "150034": "blood-pressure", "150035": "blood-pressure",
              "150045": "blood-pressure", "150046": "blood-pressure", "150047": "blood-pressure",
              "150456": "spo2", "149530": "pulse", "149546": "pulse", "149522": "pulse",
              "147842": "heart-rate", "188736": "body-weight", "160184": "glucose",
              "160188": "glucose", "160192": "glucose", "160196": "glucose", "160200": "glucose",
              "160204": "glucose", "160212": "glucose", "160220": "hba1c",
              "150364": "body-temperature", "188424": "body-temperature",
              "188428": "body-temperature", "151562": "respiration-rate"}
_LOINC = {"8480-6": "blood-pressure", "8462-4": "blood-pressure", "8478-0": "blood-pressure",
          "85354-9": "blood-pressure", "29463-7": "body-weight", "3141-9": "body-weight",
          "59408-5": "spo2", "2708-6": "spo2", "8867-4": "heart-rate", "2339-0": "glucose",
          "2345-7": "glucose", "41653-7": "glucose", "4548-4": "hba1c", "8310-5": "body-temperature",
          "9279-1": "respiration-rate"}


def measurement_kind(code: str, text: str, system: str) -> str | None:
    """The kind of physiologic measurement an OBX-3 (code, text, coding system) names, or None."""
    if system in ("LN", "LOINC"):
        return _LOINC.get(code)
    if system == "MDC" or text.startswith("MDC_"):
        return _MDC.get(text) or _MDC_CODES.get(code)
    return _LOINC.get(code)
