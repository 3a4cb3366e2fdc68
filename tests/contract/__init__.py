"""Contract suites every connector must pass (vdirsyncer's tests/storage model).

`mail_source_suite.MailSourceContract` and `draft_sink_suite.DraftSinkContract`
are abstract test classes; a `test_<connector>_contract.py` module subclasses
them and provides the `harness` fixture documented at the top of each suite.
"""
