"""The front's data tables and account file: every row checked against the client's reading of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from msgbridge.config import load_config
from msgbridge.core.errors import ConfigError, ErrorCode
from msgbridge.core.status import DeliveryStatus
from msgbridge.service.smppfront.accounts import (
    AccountBook,
    check_password,
    create_account,
    read_accounts,
    remove_account,
)
from msgbridge.service.smppfront.receipts import MESSAGE_STATE, parts_of, target_for, wanted
from msgbridge.service.smppfront.status import COMMAND_STATUS, PREFERRED, STAND_IN
from msgbridge.smpp.receipt_text import MESSAGE_STATES
from msgbridge.smpp.status import STATUS_TABLE, lookup


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_reads_back_through_the_clients_table(code: ErrorCode) -> None:
    status = COMMAND_STATUS[code]
    expected = STAND_IN.get(code, code)
    assert lookup(status).code is expected
    assert status in STATUS_TABLE and status != 0


@pytest.mark.parametrize("code", list(PREFERRED))
def test_each_preferred_row_is_one_of_the_rows_of_its_code(code: ErrorCode) -> None:
    rows = [s for s, row in STATUS_TABLE.items() if row.code is code]
    assert PREFERRED[code] in rows


@pytest.mark.parametrize("status", list(DeliveryStatus))
def test_every_status_has_a_message_state(status: DeliveryStatus) -> None:
    assert MESSAGE_STATE[status] in MESSAGE_STATES


def test_registered_delivery_masks() -> None:
    assert target_for("acme", 0) is None
    target = target_for("acme", 0x01)
    assert target is not None and target.url == "smpp://acme" and target.format == "smpp" and target.mask == 1
    assert wanted(DeliveryStatus.DELIVERED, 1) and wanted(DeliveryStatus.UNDELIVERABLE, 1)
    assert not wanted(DeliveryStatus.DELIVERED, 2) and wanted(DeliveryStatus.EXPIRED, 2)
    assert not wanted(DeliveryStatus.SUBMITTED, 1) and wanted(DeliveryStatus.SUBMITTED, 0x11)
    assert not wanted(DeliveryStatus.DELIVERED, 0x10)
    assert parts_of("5.2941.abcdef/3") == 3 and parts_of("5.2941.abcdef") == 1 and parts_of(None) == 1


def test_accounts_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    account, password = create_account(
        path, "billing", transports=["SMS"], tps=50, allow=["10.0.0.0/8"], mo=["+7701"]
    )
    assert len(password) == 8 and password not in path.read_text()
    [read] = read_accounts(path).values()
    assert read == account and read.transports == ("sms",) and read.mo == ("7701",)
    assert check_password(read, password) and not check_password(read, password + "x")
    assert read.allows("10.1.2.3") and not read.allows("192.0.2.1")
    assert AccountBook(path).get("billing") == account
    with pytest.raises(ConfigError, match="exists already"):
        create_account(path, "billing")
    with pytest.raises(ConfigError, match="system_id"):
        create_account(path, "bad:name")
    with pytest.raises(ConfigError, match="1-8"):
        create_account(path, "other", password="123456789")
    remove_account(path, "billing")
    assert read_accounts(path) == {}


def test_smpp_front_section(tmp_path: Path) -> None:
    file = tmp_path / "msgbridge.toml"
    file.write_text('[smpp_front]\nlisten = "0.0.0.0:2775"\n[smpp_front.routes]\n"+7701" = "billing"\n')
    front = load_config(str(file), env={}).smpp_front
    assert front is not None and front.address == ("0.0.0.0", 2775) and front.routes == {"7701": "billing"}
    assert front.accounts == str(tmp_path / "msgbridge-smpp-users.toml")
    assert (
        load_config(str(file), env={"MSGBRIDGE_SMPP_FRONT_LISTEN": "127.0.0.1:0"}).smpp_front.listen
        == "127.0.0.1:0"
    )  # type: ignore[union-attr]
    assert front.slow_reader == 10.0 and front.enquire_link == 30.0 and front.session_init == 30.0
    file.write_text('[smpp_front]\nslow_reader = 2.5\n')
    assert load_config(str(file), env={}).smpp_front.slow_reader == 2.5  # type: ignore[union-attr]
    env = {"MSGBRIDGE_SMPP_FRONT_SLOW_READER": "4"}
    assert load_config(str(file), env=env).smpp_front.slow_reader == 4.0  # type: ignore[union-attr]
    file.write_text('[smpp_front]\nsession_init = 5\n')
    assert load_config(str(file), env={}).smpp_front.session_init == 5.0  # type: ignore[union-attr]
    env = {"MSGBRIDGE_SMPP_FRONT_SESSION_INIT": "7"}
    assert load_config(str(file), env=env).smpp_front.session_init == 7.0  # type: ignore[union-attr]
    file.write_text('[smpp_front]\nslow_reader = 0\n')
    with pytest.raises(ConfigError, match="slow_reader must be more than 0"):
        load_config(str(file), env={})
    file.write_text('[smpp_front]\ntls_cert = "c.pem"\n')
    with pytest.raises(ConfigError, match="together"):
        load_config(str(file), env={})
    file.write_text("[serve]\n")
    assert load_config(str(file), env={}).smpp_front is None
