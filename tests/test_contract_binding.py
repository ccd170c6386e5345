"""The constructs and the handlers meet only through the configuration JSON: both sides agree."""

from __future__ import annotations

from decimal import Decimal

import pytest

from etl_constructs import DataSettings
from etl_constructs import statuses as construct_statuses
from etl_handlers import statuses as handler_statuses
from etl_handlers.core import Config


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


def test_both_sides_name_the_same_statuses():
    assert construct_statuses.ALL == handler_statuses.ALL
    assert set(construct_statuses.FINAL) == handler_statuses.FINAL
