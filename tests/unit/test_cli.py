"""The CLI as a seller uses it: exit codes and messages."""

from pathlib import Path

from typer.testing import CliRunner

from tevo_bridge.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_check_accepts_the_example_config(seller):
    result = runner.invoke(app, ["check", "--config", str(seller)])
    assert result.exit_code == 0, result.output
    assert "config OK" in result.output


def test_check_refuses_the_example_config_without_what_run_needs(tmp_path):
    result = runner.invoke(app, ["check", "--config", str(ROOT / "config.example.toml")])
    assert result.exit_code == 2
    assert "error: [tevo] token/secret are not set" in result.output
    assert "[plugins.sqlite_pos] database: no file at" in result.output


def test_check_masks_secrets(seller):
    result = runner.invoke(app, ["check", "--config", str(seller)])
    assert "Z" * 40 not in result.output and "Y" * 32 not in result.output
    assert "*** (40 characters)" in result.output


def test_check_refuses_a_broken_config_with_exit_2_and_no_traceback(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[tevo]\nreviewer_id = "abc"\n')
    result = runner.invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 2
    assert "reviewer_id" in result.output and "Traceback" not in result.output


def test_sign_prints_the_string_and_signature(monkeypatch):
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "xyz")
    result = runner.invoke(app, ["sign", "GET", "https://api.sandbox.ticketevolution.com/v9/orders?type=Order&state=pending"])
    assert result.exit_code == 0, result.output
    assert "GET api.sandbox.ticketevolution.com/v9/orders?state=pending&type=Order" in result.output
    assert "Kk8pTa3wHQoM8XYvuRVJy9iAXhs15B5XSHQ8I8RT+pM=" in result.output
    assert "sorted" in result.output  # tells the seller their query was unsorted


def test_sign_with_body(monkeypatch):
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "xyz")
    body = '{"reviewer_id":2487,"seats":[911,912,913,914,915]}'
    result = runner.invoke(app, ["sign", "POST", "https://api.sandbox.ticketevolution.com/v9/orders/190840/accept",
                                 "--body", body])
    assert "1QDO6Cs8U05Rb4D2kLZcNuPEl+U00qyOTpPlN7+P5TI=" in result.output


def test_sign_without_secret_says_how_to_fix(monkeypatch):
    monkeypatch.delenv("TEVO_BRIDGE_TEVO__SECRET", raising=False)
    result = runner.invoke(app, ["sign", "GET", "https://api.ticketevolution.com/v9/orders"])
    assert result.exit_code == 2 and "TEVO_BRIDGE_TEVO__SECRET" in result.output


def test_check_warns_but_passes_when_a_delivery_type_cannot_be_fulfilled(seller):
    path = seller
    path.write_text('[fulfillment]\nairbill_dir = "airbills"\n\n[fulfillment.local_pickup]\ncontact_name = "Window 3"\n'
                    '[plugins.sqlite_pos]\ndatabase = "pos.sqlite3"\n')

    result = runner.invoke(app, ["check", "--config", str(path)])

    assert result.exit_code == 0, result.output
    assert ("warning: local pickup orders cannot be fulfilled: [fulfillment.local_pickup] phone_number, "
            "street_address, locality, region, postal_code, time_range are empty") in result.output
    assert "FedEx" not in result.output  # airbill_dir can be created next to the config
