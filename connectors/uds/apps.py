from django.apps import AppConfig


class UdsConnectorConfig(AppConfig):
    name = "connectors.uds"
    label = "connector_uds"
    verbose_name = "UDS"

    def ready(self) -> None:
        from connectors.uds.connector import UdsConnector
        from hub.sync import registry

        registry.register(UdsConnector())
