"""A short run of the load benchmark (bench/load_bench.py) on PostgreSQL: several client
processes, two gateway processes and two forwarding workers. It checks what must hold under load,
never how fast: no request refused or broken, the outbox drains, every forwarded claim reaches the
clearinghouse under one key with one body, no held claim does. The long run and its figures are
`bench/load_bench.py`."""
from bench.load_bench import report, run
from tests.conftest import _empty_postgres


def test_sustained_submissions_lose_nothing(postgres_url, capsys):
    _empty_postgres(postgres_url).dispose()
    figures = run(postgres_url, seconds=8, clients=3, sample_every=2, quiet=True)
    with capsys.disabled():
        report(figures)
    assert figures["requests"] > 0 and figures["errors"] == 0
    assert figures["states"].get("pending", 0) == 0 and figures["states"].get("dead", 0) == 0
    assert figures["every_key_once"] and figures["delivered_keys"] == figures["queued"] > 0
    assert figures["verdicts"]["block"] > 0 and figures["held"] >= figures["verdicts"]["block"]
    assert figures["held_delivered"] == 0
