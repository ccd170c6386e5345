"""The constructs and the handlers meet only through the configuration JSON: both sides agree."""

from __future__ import annotations

from decimal import Decimal

import pytest

from etl_constructs import ConfigurationError, DataSettings
from etl_constructs import statuses as construct_statuses
from etl_handlers import statuses as handler_statuses
from etl_handlers.core import Config, ConfigError
from etl_handlers.core import statuses as core_statuses
from etl_handlers.core.schema import Schema


def test_default_settings_are_the_handlers_default_config():
    assert Config.from_json(DataSettings().to_json()) == Config()
    assert DataSettings().to_dict() == Config().to_dict()


@pytest.mark.parametrize(
    "settings",
    [
        DataSettings(fee_rate="0.0125", rounding="ROUND_HALF_EVEN"),
        DataSettings(suffixes=(".CSV", ".jsonl"), default_currency="EUR", max_errors=7),
        DataSettings(required_fields=("transaction_id", "amount", "date", "account_id", "merchant")),
        DataSettings(fee_rate=Decimal("0"), max_record_bytes=4096),
    ],
)
def test_every_setting_reaches_the_handlers_unchanged(settings):
    config = Config.from_json(settings.to_json())
    assert config.to_dict() == settings.to_dict()
    assert config.fee_rate == settings.fee_rate


def test_the_constructs_read_the_statuses_of_the_handlers_core():
    # One definition: the constructs' module re-exports the core's names, it defines none of its own.
    for name in construct_statuses.__all__:
        assert getattr(construct_statuses, name) is getattr(core_statuses, name)
    assert handler_statuses.ALL is core_statuses.ALL


def test_a_setting_the_core_refuses_is_refused_at_synth_in_the_same_words():
    with pytest.raises(ConfigError) as core:
        Config(rounding="ROUND_HALF_SIDEWAYS")
    with pytest.raises(ConfigurationError) as synth:
        DataSettings(rounding="ROUND_HALF_SIDEWAYS")
    assert str(core.value) in str(synth.value)


def test_a_schema_reaches_the_handlers_by_its_hash():
    settings = DataSettings(
        schema={"fields": {"id": {"type": "string"}, "amount": {"type": "decimal", "required": True}}}
    )
    document = settings.to_dict()
    assert document["schema_file"] == "etl_schema.json"
    schema = Schema.from_json(settings.schema_document)
    assert Config.from_dict(document, schema).rules == settings.config.rules
    other = Schema.from_dict({"fields": {"amount": {"type": "decimal", "required": True}}})
    with pytest.raises(ConfigError, match="not the configuration's"):
        Config.from_dict(document, other)
