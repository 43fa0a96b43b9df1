"""The benchmark's own pieces that need no server: its interleaving, and that the site never serves its floor."""

import time

import pytest

from bench.stats import interleaved


def test_interleaving_rotates_the_order_and_keeps_the_samples_apart():
    calls = []
    first, second, third = (lambda name=name: calls.append(name) for name in "abc")

    samples = interleaved(first, second, third, rounds=3, budget=60)

    assert calls == list("abcbcacab")
    assert [len(kind) for kind in samples] == [3, 3, 3]


def test_each_functions_samples_are_its_own():
    # 0.2 s apart: a loaded machine may stall a call that does nothing for a while, but not for that long.
    slow, quick = interleaved(lambda: time.sleep(0.2), lambda: None, rounds=4, budget=60)

    assert min(slow.wall) >= 0.2 > max(quick.wall)


def test_interleaving_stops_at_its_budget():
    samples = interleaved(lambda: None, lambda: None, rounds=1000, budget=0)

    assert [len(kind) for kind in samples] == [1, 1]


@pytest.mark.django_db
def test_the_site_does_not_mount_the_benchmarks_floor_endpoint(client):
    assert client.get("/bench/floor/vs_abc?credential=x").status_code == 404


def test_the_peer_figure_says_it_did_not_run_without_litellm(monkeypatch, tmp_path):
    from bench.figures import peer_litellm

    monkeypatch.setenv("BENCH_LITELLM", str(tmp_path / "no-litellm-here"))
    [row] = peer_litellm(bench=None)  # nothing of the bench is touched

    assert (row.value, row.status) == ("not run: `make bench-peer` installs it", "info")
