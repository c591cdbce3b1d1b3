"""The gateway's gunicorn settings: its access log stays off, even though logconfig_dict is set."""
import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from services.gateway import gunicorn_conf


def gunicorn_config() -> Config:
    cfg = Config()
    cfg.set("logconfig_dict", gunicorn_conf.logconfig_dict)
    cfg.set("logger_class", gunicorn_conf.logger_class)
    return cfg


def test_gunicorn_builds_no_access_record_for_a_request():
    cfg = gunicorn_config()
    assert cfg.logger_class is gunicorn_conf.WithoutAccessLog
    log = cfg.logger_class(cfg)
    assert Logger(cfg).access_log_enabled  # what any logconfig_dict turns on in gunicorn itself
    with pytest.raises(AttributeError):  # gunicorn's own logger builds the record from all of these
        Logger(cfg).access(resp=None, req=None, environ=None, request_time=None)
    assert log.access(resp=None, req=None, environ=None, request_time=None) is None  # ours builds none
