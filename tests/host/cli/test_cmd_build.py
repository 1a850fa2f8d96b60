"""``spherecode build``'s own checks, made before anything is built (the builds themselves:
tests/boards/test_build.py)."""

from spherecode.host.cli import main


def test_record_refuses_a_synthesis_only_build(capsys):
    assert main(["build", "--board", "ulx3s-85f", "--synth-only", "--record"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["spherecode: error: --record: a synthesis-only build has no post-route figures to record"]


def test_record_refuses_a_folder_it_cannot_write_before_building(tmp_path, monkeypatch, capsys):
    """--record checks that the board's record can be written before the build starts, not after it."""
    import spherecode.boards.records as records

    shipped = tmp_path / "no" / "shipped"
    monkeypatch.setattr(records, "SHIPPED", shipped)
    out = tmp_path / "build"
    assert main(["build", "--board", "ulx3s-85f", "--record", "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"spherecode: error: --record: cannot write in {shipped}: ")
    assert "No such file or directory" in err[0] and not out.exists()


def test_routers_and_seed_are_checked(capsys):
    assert main(["build", "--router", "router3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --router: invalid choice: 'router3'" in err
    assert main(["build", "--seed", "-1"]) == 2
    assert capsys.readouterr().err == "spherecode: error: argument --seed: --seed must be at least 0, got -1\n"
