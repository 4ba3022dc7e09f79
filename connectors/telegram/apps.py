from django.apps import AppConfig


class TelegramConnectorConfig(AppConfig):
    name = "connectors.telegram"
    label = "connector_telegram"
    verbose_name = "Telegram"

    def ready(self) -> None:
        from connectors.telegram.connector import TelegramConnector
        from hub.sync import registry

        registry.register(TelegramConnector())
