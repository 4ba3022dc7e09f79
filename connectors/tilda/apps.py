from django.apps import AppConfig


class TildaConnectorConfig(AppConfig):
    name = "connectors.tilda"
    label = "connector_tilda"
    verbose_name = "Tilda"

    def ready(self) -> None:
        from connectors.tilda.connector import TildaConnector
        from hub.sync import registry

        registry.register(TildaConnector())
