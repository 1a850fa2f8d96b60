import numpy as np
import pytest

from spherecode.host.backends.base import Update
from spherecode.host.loosening import force_loosening
from spherecode.host.backends.reference import ReferenceBackend, random_start


class Scripted:
    """A backend whose move norms are scripted: each call pops (S', S'') for the pair it belongs to."""

    name = "scripted"

    def __init__(self, script):
        self.script = list(script)
        self.calls = []

    def update(self, vectors, beta):
        self.calls.append(beta)
        first = len(self.calls) % 2 == 1
        s = self.script[0][0 if first else 1]
        if not first:
            self.script.pop(0)
        # Tag the vectors with the β that made them, so the test sees which candidate was kept.
        return Update(np.full_like(vectors, beta), s, np.zeros(len(vectors)), {"cycles": 10})


def test_schedule_against_hand_computed_trace():
    # n=1: l=2, β'=4, β''=8;        S'=1 < S''=2 → raise, l = 4
    # n=2: β'=8, β''=12;            S'=3 > S''=1 → keep r', l = 4
    # n=3: β'=8, β''=32/3;          S'=S''      → raise (S' > S'' is false), l = 16/3
    # n=4: β'=32/3, β''=40/3;       S'=5 < S''=6 → raise, l = 20/3
    backend = Scripted([(1, 2), (3, 1), (1, 1), (5, 6)])
    out = force_loosening(backend, np.zeros((3, 2)), 4, keep_trace=True)
    expected = [(4, 8), (8, 12), (8, 32 / 3), (32 / 3, 40 / 3)]
    assert [b for s in out.trace for b in (s.beta_keep, s.beta_raise)] == pytest.approx(
        [b for pair in expected for b in pair]
    )
    assert backend.calls == pytest.approx([b for pair in expected for b in pair])
    assert [s.raised for s in out.trace] == [True, False, True, True]
    assert out.l == pytest.approx(20 / 3)
    assert np.all(out.vectors == pytest.approx(40 / 3))  # the last kept candidate is r''
    assert out.stats["updates"] == 8 and out.stats["cycles"] == 80 and out.stats["update_seconds"] >= 0


def test_keeping_the_first_candidate_keeps_its_vectors():
    backend = Scripted([(2, 1)])
    out = force_loosening(backend, np.zeros((2, 2)), 1)
    assert out.l == 2.0 and np.all(out.vectors == 4.0)


def test_callback_sees_every_step():
    seen = []
    force_loosening(Scripted([(1, 2)] * 5), np.zeros((2, 2)), 5, on_iteration=seen.append)
    assert [s.n for s in seen] == [1, 2, 3, 4, 5]


def test_zero_iterations_refused():
    with pytest.raises(ValueError):
        force_loosening(ReferenceBackend(), np.eye(3), 0)


def test_beta_grows_on_a_real_run():
    r = random_start(20, 3, np.random.default_rng(0))
    out = force_loosening(ReferenceBackend(), r, 200, keep_trace=True)
    raised = [s.n for s in out.trace if s.raised]
    assert len(raised) > 50
    assert out.l == pytest.approx(2.0 * np.prod([1 + 1 / n for n in raised]))
    assert all((s.s_keep > s.s_raise) != s.raised for s in out.trace)


@pytest.mark.parametrize("iterations", [1, 2, 7, 50])
def test_max_beta_is_reached_when_every_iteration_raises(iterations):
    from spherecode.host.loosening import max_beta

    backend = Scripted([(0.0, 1.0)] * iterations)  # S' ≤ S'' every time: l is raised every iteration
    force_loosening(backend, random_start(4, 3, np.random.default_rng(0)), iterations)
    assert max(backend.calls) == pytest.approx(max_beta(iterations))
