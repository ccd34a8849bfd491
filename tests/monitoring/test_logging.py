import io
import json
import logging

from loguru import logger

from trading_bot.config.models import LoggingConfig
from trading_bot.monitoring.logging import configure_logging


def test_known_secrets_are_masked_in_messages_extras_and_exceptions() -> None:
    sink = io.StringIO()
    configure_logging(LoggingConfig(level="DEBUG"), secrets={"sk-live-123456"}, console=sink)
    logger.bind(key="sk-live-123456").info("connecting with sk-live-123456")
    try:
        raise ValueError("bad key sk-live-123456")
    except ValueError:
        logger.exception("failed")
    text = sink.getvalue()
    assert "sk-live-123456" not in text
    assert text.count("***") >= 2


def test_json_logs_are_one_object_per_line() -> None:
    sink = io.StringIO()
    configure_logging(LoggingConfig.model_validate({"level": "info", "json": True}), console=sink)
    logger.info("hello")
    logger.debug("hidden")
    lines = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert [line["record"]["message"] for line in lines] == ["hello"]


def test_file_log_is_masked_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "logs" / "bot.log"
    configure_logging(
        LoggingConfig.model_validate({"file": str(path)}),
        secrets={"hunter2-secret"},
        console=io.StringIO(),
    )
    logger.warning("token=hunter2-secret")
    logger.remove()
    assert path.read_text().strip().endswith("token=***")


def test_library_logs_are_one_masked_line_in_the_bots_log() -> None:
    out = io.StringIO()
    configure_logging(LoggingConfig(), secrets=["lib-s3cret-9"], console=out)
    try:
        raise ConnectionError("closed by lib-s3cret-9")
    except ConnectionError:
        logging.getLogger("aiormq.connection").error("Unexpected connection close", exc_info=True)
    logging.getLogger("chatty").info("not shown")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert (
        "aiormq.connection: Unexpected connection close (ConnectionError: closed by ***)"
        in lines[0]
    )
    assert "Traceback" not in out.getvalue()
