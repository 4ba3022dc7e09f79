from django.apps import AppConfig


class LimeConnectorConfig(AppConfig):
    name = "connectors.lime"
    label = "connector_lime"
    verbose_name = "Lime connector"

    def ready(self) -> None:
        from connectors.lime.connector import LimeConnector
        from hub.sync import registry

        registry.register(LimeConnector())
