from django.apps import AppConfig


class WazzupConnectorConfig(AppConfig):
    name = "connectors.wazzup"
    label = "connector_wazzup"
    verbose_name = "Wazzup"

    def ready(self) -> None:
        from connectors.wazzup.connector import WazzupConnector
        from hub.sync import registry

        registry.register(WazzupConnector())
