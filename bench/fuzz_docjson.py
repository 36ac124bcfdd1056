"""Fuzz the documentation JSON reader (format v1): any bytes give documentation or a
DocumentationError naming where (a JSON path, or a line and column for text that is not JSON)."""
from fuzzing import ROOT, fuzz


def make_target():
    from scrubber.docjson import DocumentationError, load_documentation

    def target(data: bytes) -> None:
        try:
            load_documentation(data.decode("utf-8", errors="replace"))
        except DocumentationError as error:
            if not error.errors or not all(where and message for where, message in error.errors):
                raise AssertionError(f"an error that does not say where: {error.errors}") from None
    return target


if __name__ == "__main__":
    fuzz("docjson", make_target, [ROOT / "scrubber" / "demo" / "documentation.json",
                                  *sorted((ROOT / "tests" / "data").glob("*.json"))])
