"""Settings: TOML + environment, clear errors, every key documented in config.example.toml."""

import tomllib
from pathlib import Path

import pytest

from tevo_bridge.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_example_config_loads():
    settings = load_settings(EXAMPLE)
    assert settings.pos.plugin == "sqlite_pos"
    assert settings.store.path == ROOT / "tevo-bridge.sqlite3"  # relative to the file


def _keys(model, prefix=()):
    for name, field in model.model_fields.items():
        sub = field.annotation
        if isinstance(sub, type) and hasattr(sub, "model_fields"):
            yield from _keys(sub, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_setting_is_documented_in_the_example():
    data = tomllib.loads(EXAMPLE.read_text())
    text = EXAMPLE.read_text()
    for key in _keys(Settings):
        if key == ("plugins",):
            continue
        node = data
        for part in key[:-1]:
            node = node.get(part, {})
        assert key[-1] in node or f"# {key[-1]} =" in text, f"{'.'.join(key)} missing from config.example.toml"


def test_example_values_are_the_defaults():
    data = tomllib.loads(EXAMPLE.read_text())
    defaults = Settings().model_dump(mode="json")
    for key in _keys(Settings):
        node, default = data, defaults
        for part in key:
            node = node.get(part) if isinstance(node, dict) else None
            default = default.get(part) if isinstance(default, dict) else None
        if node is None or key == ("plugins",) or key[-1] in ("path", "airbill_dir"):
            continue
        if key[-1] in ("token", "secret", "webhook_token"):
            continue
        if key[-1] == "api_keys":
            assert node == [] and default == []
            continue
        assert node == default, ".".join(key)


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, '[tevo]\nreviewer_id = 1\n[server.order_integration]\napi_keys = ["file-key"]\n')
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__REVIEWER_ID", "4711")
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRET", "s" * 40)
    monkeypatch.setenv("TEVO_BRIDGE_SERVER__ORDER_INTEGRATION__API_KEYS", '["k1", "k2"]')
    settings = load_settings(path)
    assert settings.tevo.reviewer_id == 4711
    assert settings.tevo.secret.get_secret_value() == "s" * 40
    assert [k.get_secret_value() for k in settings.server.order_integration.api_keys] == ["k1", "k2"]


def test_config_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TEVO_BRIDGE_CONFIG", str(write(tmp_path, "[pos]\nplugin = 'csv_pos'\n")))
    assert load_settings().pos.plugin == "csv_pos"


def test_plugin_tables_are_free_form(tmp_path):
    settings = load_settings(write(tmp_path, "[plugins.csv_pos]\ndirectory = 'pos'\nanything = 1\n"))
    assert settings.plugins["csv_pos"] == {"directory": "pos", "anything": 1}


def test_bad_value_names_file_key_and_example(tmp_path):
    path = write(tmp_path, '[tevo]\nreviewer_id = "abc"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message and "[tevo] reviewer_id" in message and "reviewer_id = 4711" in message


def test_misspelt_key_suggests_the_right_one(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'webhook_token'"):
        load_settings(write(tmp_path, '[server]\nwebhok_token = "x"\n'))


def test_bad_secret_value_is_not_echoed(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, "[tevo]\nsecret = 12345678901\n"))
    assert "12345678901" not in str(info.value)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[tevo\n"))
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "nope.toml")


def test_base_url_must_not_carry_the_version(tmp_path):
    with pytest.raises(ConfigError, match="/v9"):
        load_settings(write(tmp_path, '[tevo]\nbase_url = "https://api.ticketevolution.com/v9"\n'))


def test_settings_as_environment_load_back_to_the_same_settings(tmp_path, monkeypatch):
    from tevo_bridge.config import settings_env

    original = load_settings(write(tmp_path, '[tevo]\ntoken = "T"\nsecret = "S"\nreviewer_id = 7\n'
                                             '[server.order_integration]\napi_keys = ["k1", "k2"]\n'
                                             '[plugins.csv_pos]\ndirectory = "pos"\n'))
    for name, value in settings_env(original).items():
        monkeypatch.setenv(name, value)
    reloaded = load_settings()
    assert reloaded.model_dump(mode="json") == original.model_dump(mode="json")
    assert reloaded.secrets() == original.secrets()


# -- environment variables: held to the file's standard ------------------------------------------


def test_a_list_variable_that_is_not_json_is_named_with_the_fix_and_its_keys_unshown(tmp_path, monkeypatch):
    monkeypatch.setenv("TEVO_BRIDGE_SERVER__ORDER_INTEGRATION__API_KEYS", "key-one-secret,key-two-secret")
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, ""))
    message = str(info.value)
    assert "TEVO_BRIDGE_SERVER__ORDER_INTEGRATION__API_KEYS: not valid JSON" in message
    assert """TEVO_BRIDGE_SERVER__ORDER_INTEGRATION__API_KEYS='["a-long-random-key-of-32-or-more-characters"]'""" in message
    assert "secret" not in message.replace("may be a secret", "") and len(message.splitlines()) == 2


def test_a_variable_of_the_wrong_type_names_the_variable_not_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "[tevo]\nreviewer_id = 1\n")
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__REVIEWER_ID", "abc")
    monkeypatch.setenv("TEVO_BRIDGE_SERVER__ORDER_INTEGRATION__API_KEYS", '"one-secret-key"')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith("environment variables: 2 problem(s)") and str(path) not in message
    assert "TEVO_BRIDGE_TEVO__REVIEWER_ID: Input should be a valid integer" in message
    assert "Example: TEVO_BRIDGE_TEVO__REVIEWER_ID=4711" in message
    assert "TEVO_BRIDGE_SERVER__ORDER_INTEGRATION__API_KEYS: Input should be a valid list" in message
    assert "one-secret-key" not in message


def test_an_unknown_variable_is_refused_with_the_closest_name(tmp_path, monkeypatch):
    monkeypatch.setenv("TEVO_BRIDGE_PIPLINE__AUTO_REJECT", "false")
    monkeypatch.setenv("TEVO_BRIDGE_TEVO__SECRT", "do-not-print-me")
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, ""))
    message = str(info.value)
    assert "TEVO_BRIDGE_PIPLINE__AUTO_REJECT: not a tevo-bridge setting" in message
    assert "did you mean TEVO_BRIDGE_PIPELINE__AUTO_REJECT?" in message
    assert "did you mean TEVO_BRIDGE_TEVO__SECRET?" in message and "do-not-print-me" not in message


def test_variables_that_are_not_settings_and_plugin_tables_are_accepted(tmp_path, monkeypatch):
    monkeypatch.setenv("TEVO_BRIDGE_CRASHPOINT", "")
    monkeypatch.setenv("TEVO_BRIDGE_PLUGINS__CSV_POS__DIRECTORY", "pos")
    monkeypatch.setenv("TEVO_BRIDGE_POS__BUDGETS__POS_HOLD", "2.5")
    settings = load_settings(write(tmp_path, ""))
    assert settings.plugins == {"csv_pos": {"directory": "pos"}} and settings.pos.budgets == {"pos_hold": 2.5}


def test_an_environment_error_in_the_cli_is_two_lines_and_exit_2(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tevo_bridge.cli import app

    monkeypatch.setenv("TEVO_BRIDGE_SERVER__ORDER_INTEGRATION__API_KEYS", "k1-secret-value,k2")
    result = CliRunner().invoke(app, ["check", "--config", str(write(tmp_path, ""))])
    assert result.exit_code == 2 and "Traceback" not in result.output and "k1-secret-value" not in result.output
    said, error = result.output.split("\n", 1)  # first the file it read, then the error
    assert said == f"config: {tmp_path / 'config.toml'} (from --config)"
    assert error.startswith("error: environment variables: 1 problem(s)\n")
    assert len(error.strip().splitlines()) == 2
