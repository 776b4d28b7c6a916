"""Capture what the service logs, formatted exactly as in production (app.logs)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from app.logs import NoDevServerRequestLines, RequestFields, json_formatter, logging_config


class CapturedLog:
    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    @property
    def text(self) -> str:
        return self._stream.getvalue()

    def lines(self) -> list[dict]:
        """Every line as the JSON object it must be (json.loads fails the test otherwise)."""
        return [json.loads(line) for line in self.text.splitlines()]


@contextmanager
def captured_log(level: str = "DEBUG") -> Iterator[CapturedLog]:
    """The production handler (JSON formatter, request fields) on the root logger at `level`,
    with the production levels of the named loggers (SQLAlchemy stays at WARNING)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestFields())
    handler.addFilter(NoDevServerRequestLines())
    root = logging.getLogger()
    named = {name: logging.getLogger(name) for name in logging_config()["loggers"]}
    saved = root.level, {name: logger.level for name, logger in named.items()}
    root.addHandler(handler)
    root.setLevel(level)
    for name, config in logging_config(level)["loggers"].items():
        named[name].setLevel(config["level"])
    try:
        yield CapturedLog(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, logger in named.items():
            logger.setLevel(saved[1][name])
