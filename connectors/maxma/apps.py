from django.apps import AppConfig


class MaxmaConnectorConfig(AppConfig):
    name = "connectors.maxma"
    label = "connector_maxma"
    verbose_name = "MAXMA"

    def ready(self) -> None:
        from connectors.maxma.connector import MaxmaConnector
        from hub.sync import registry

        registry.register(MaxmaConnector())
