from django.apps import AppConfig


class TelegramConnectorConfig(AppConfig):
    name = "connectors.telegram"
    label = "connector_telegram"
    verbose_name = "Telegram"
