"""The helpers the embedded default uses to do work without a beat or a worker."""

from __future__ import annotations

from portal import jobs


def test_a_sweep_runs_at_most_once_in_its_period(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(jobs.time, "monotonic", lambda: clock[0])
    sweep = jobs.Sweep(60.0)
    assert sweep.take()
    assert not sweep.take()
    clock[0] += 60.0
    assert not sweep.take()  # not before the whole period has passed
    clock[0] += 0.5
    assert sweep.take()


def test_after_response_runs_once_the_response_is_sent(app):
    ran: list[str] = []
    with app.test_request_context("/"):
        assert jobs.after_response(ran.append, "after")
        response = app.process_response(app.response_class("ok"))
        assert ran == []
    response.close()  # what the server does once the response is sent
    assert ran == ["after"]


def test_outside_a_request_it_runs_at_once_and_a_failure_is_logged(app, caplog):
    ran: list[int] = []
    with app.app_context():
        assert jobs.after_response(ran.append, 1)

        def broken() -> None:
            raise RuntimeError("boom")

        assert jobs.after_response(broken)
    assert ran == [1]
    assert "could not run" in caplog.text
