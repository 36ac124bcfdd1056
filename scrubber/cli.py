"""The command line: `rpm-scrubber check`, `demo` and `rules`."""
from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import click

from scrubber.catalogue import Profile, ProfileError, catalogue, parse_profile
from scrubber.checker import Checker, ClaimResult
from scrubber.docjson import DocumentationError, load_documentation
from scrubber.documentation import Documentation
from scrubber.findings import Verdict
from scrubber.inputs import InputError, read_items
from scrubber.report import as_json, as_text, rule_table

PROGRESS_ABOVE = 200


class _UsageFailure(click.ClickException):
    """Exit status 2 with a one-line message and no results."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"rpm-scrubber: error: {self.format_message()}", err=True)


def _read_bytes(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as error:
        raise _UsageFailure(f"{name}: cannot read ({error.strerror or error})") from None


def _profile(name: str) -> Profile:
    shipped = catalogue()
    if name in shipped.profiles:
        return shipped.profiles[name]
    path = Path(name)
    if path.suffix == ".toml" and path.is_file():
        try:
            return parse_profile(path.read_text("utf-8"), shipped.rules, shipped.codes)
        except (ProfileError, UnicodeDecodeError) as error:
            raise _UsageFailure(f"{name}: {error}") from None
    try:
        return shipped.profile(name)
    except ProfileError as error:
        raise _UsageFailure(str(error)) from None


def _documentation(paths: tuple[str, ...]) -> Documentation:
    documentation = Documentation()
    for name in paths:
        try:
            text = _read_bytes(name).decode("utf-8-sig")
            documentation = documentation.combined(load_documentation(text))
        except UnicodeDecodeError:
            raise _UsageFailure(f"{name}: documentation is not UTF-8 text") from None
        except DocumentationError as error:
            first_path, first_message = error.errors[0]
            more = f" (and {len(error.errors) - 1} more)" if len(error.errors) > 1 else ""
            raise _UsageFailure(f"{name}: invalid documentation at {first_path}: "
                                f"{first_message}{more}") from None
    return documentation


def run_check(files, docs, profile_name) -> list[ClaimResult]:
    """Read and recognise every file, then check every claim in order."""
    profile = _profile(profile_name)
    documentation = _documentation(tuple(docs))
    items = []
    for name in files:
        try:
            items.extend(read_items(_read_bytes(name), name))
        except InputError as error:
            raise _UsageFailure(str(error)) from None
    checker = Checker(catalogue(), profile, documentation)
    results: list[ClaimResult] = []
    show = sys.stderr.isatty() and len(items) > PROGRESS_ABOVE
    with click.progressbar(items, label="checking claims", file=sys.stderr,
                           hidden=not show) as bar:
        for item in bar:
            result = checker.check(item)
            if result is not None:
                results.append(result)
    return results


@click.group()
@click.version_option(package_name="rpm-claim-scrubber")
def main() -> None:
    """Claim scrubber for Remote Physiologic Monitoring (RPM) billing."""


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--docs", "docs", multiple=True, help="Documentation JSON (version 1); repeatable.")
@click.option("--profile", "profile_name", default="medicare", show_default=True,
              help="Payer profile name, or a profile TOML file.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--db", default=None, help="Check against the service's ledger (service only).")
@click.option("--acks", type=click.Path(file_okay=False), default=None,
              help="Write the acknowledgements into DIR.")
@click.option("--split", type=click.Path(file_okay=False), default=None,
              help="Write the outbound 837P into DIR.")
def check(files, docs, profile_name, output, db, acks, split) -> None:
    """Check claims in X12 837P or HL7 DFT^P03 FILES ('-' for stdin)."""
    for option, value in (("--db", db), ("--acks", acks), ("--split", split)):
        if value is not None:
            raise _UsageFailure(f"{option} is not available in this version yet")
    results = run_check(files, docs, profile_name)
    click.echo(as_json(results) if output == "json" else as_text(results))
    if any(r.verdict is Verdict.BLOCK for r in results):
        sys.exit(1)


@main.command()
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def demo(output) -> None:
    """Check the demo set shipped with the package and print the report."""
    folder = resources.files("scrubber.demo")
    with resources.as_file(folder) as path:
        files = [str(path / "batch.837"), str(path / "dft_p03.hl7")]
        results = run_check(files, [str(path / "documentation.json")], "medicare")
    click.echo(as_json(results) if output == "json" else as_text(results))
    if output == "text":
        click.echo("\nThis was the demo set shipped in scrubber/demo/. Check your own files with:\n"
                   "  rpm-scrubber check --docs DOCUMENTATION.json FILE...")


@main.command()
def rules() -> None:
    """Print the rule table (Markdown), generated from the rule catalogue."""
    click.echo(rule_table(catalogue()))


if __name__ == "__main__":
    main()
