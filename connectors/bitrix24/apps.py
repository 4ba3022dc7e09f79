from django.apps import AppConfig


class Bitrix24ConnectorConfig(AppConfig):
    name = "connectors.bitrix24"
    label = "connector_bitrix24"
    verbose_name = "Bitrix24 connector"

    def ready(self) -> None:
        from connectors.bitrix24.connector import Bitrix24Connector
        from hub.sync import registry

        registry.register(Bitrix24Connector())
