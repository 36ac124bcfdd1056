"""HL7 v2 adapter on hl7apy: DFT^P03 claims, ORU^R01 device data, 99RPM OBX documentation."""
from hl7.errors import HL7SyntaxError
from hl7.reader import read_hl7

__all__ = ["HL7SyntaxError", "read_hl7"]
