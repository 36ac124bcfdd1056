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


def test_auto_analyze_analyzes_a_table_once_its_changes_pass_autovacuums_threshold(postgres_url):
    """The benches' stand-in for autovacuum on a server that has it off: a table changed by more
    than 50 + 10 % of its rows is analyzed within a few of its checks; inactive, it does nothing."""
    import time

    from sqlalchemy import create_engine, text

    from bench.figures import AutoAnalyze

    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            # autovacuum is kept off this table, whatever the server's setting, so only the bench analyzes it
            connection.execute(text("CREATE TABLE grown (n integer) WITH (autovacuum_enabled = false)"))
            connection.execute(text("INSERT INTO grown SELECT generate_series(1, 200)"))

            def analyses() -> int:
                connection.execute(text("SELECT pg_stat_clear_snapshot()"))
                return connection.execute(text(
                    "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'grown'")).scalar_one()

            with AutoAnalyze(postgres_url, active=False, every=0.1) as idle:
                time.sleep(1)
            assert idle.analyzed == 0 and analyses() == 0
            with AutoAnalyze(postgres_url, active=True, every=0.1) as auto:
                deadline = time.monotonic() + 30
                while analyses() == 0 and time.monotonic() < deadline:
                    time.sleep(0.1)
            assert analyses() >= 1 and auto.analyzed >= 1
    finally:
        engine.dispose()
