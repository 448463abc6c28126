"""The groups of settings kept in modules of their own, which `Settings` inherits together;
`describe_settings` lists their settings after the core ones, group by group."""

from __future__ import annotations

from dataclasses import dataclass

from api.settings_apps import AppSettings
from api.settings_backup import BackupSettings
from api.settings_export import ExportSettings
from api.settings_jitsi import JitsiSettings
from api.settings_keys import KeySettings
from api.settings_onlyoffice import OnlyofficeSettings
from api.settings_webhooks import WebhookSettings


@dataclass(frozen=True)
class SettingGroups(
    AppSettings,
    WebhookSettings,
    JitsiSettings,
    OnlyofficeSettings,
    BackupSettings,
    KeySettings,
    ExportSettings,
):
    """Apps, webhooks, Jitsi, ONLYOFFICE, backups, key rotation and exports
    (api/settings_*.py)."""


GROUPS = SettingGroups.__bases__
