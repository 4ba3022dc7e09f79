from django.apps import AppConfig


class GreenapiConnectorConfig(AppConfig):
    name = "connectors.greenapi"
    label = "connector_greenapi"
    verbose_name = "Green-API"

    def ready(self) -> None:
        from connectors.greenapi.connector import GreenApiConnector
        from hub.sync import registry

        registry.register(GreenApiConnector())
