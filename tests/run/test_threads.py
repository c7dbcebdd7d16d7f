"""One math thread per process: set before the libraries load (the CLI), or by threadpoolctl after."""

from __future__ import annotations

from tests.helpers.probe import probe_build


def test_the_cli_caps_math_threads_before_they_load_inline_and_in_workers(tmp_path):
    for jobs in ("1", "2"):
        for report in probe_build(tmp_path / jobs, jobs, {})[0]:
            assert report["threads"] and set(report["threads"].values()) == {1}, report
            assert report["threadpoolctl_needed"] is False, report  # the variables were in place first


def test_a_users_own_thread_setting_is_kept_and_capped_by_threadpoolctl(tmp_path):
    for report in probe_build(tmp_path, "1", {"OMP_NUM_THREADS": "2"})[0]:
        # BLAS and MKL (whose FFT we run) capped; OpenMP itself may keep the user's 2 (MKL loads it
        # lazily, after the cap), which nothing of ours uses once MKL is at one thread.
        assert report["threads"]["openblas"] == report["threads"].get("mkl", 1) == 1, report
        assert report["threadpoolctl_needed"] is True, report
