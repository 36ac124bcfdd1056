"""Fuzz the X12 tokenizer and 837P reader (through `read_input`, as `rpm-scrubber check` reads a
file): any bytes give claims or an InputError / malformed-message result."""
from fuzzing import fuzz, seeds


def make_target():
    from scrubber.inputs import InputError, read_input

    def target(data: bytes) -> None:
        try:
            read_input(data, "fuzz.837")
        except InputError:
            pass
    return target


if __name__ == "__main__":
    fuzz("x12", make_target, seeds("x12_837p", "x12_other"))
