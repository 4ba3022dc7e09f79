from django.apps import AppConfig


class AmoCRMConnectorConfig(AppConfig):
    name = "connectors.amocrm"
    label = "connector_amocrm"
    verbose_name = "amoCRM connector"

    def ready(self) -> None:
        from connectors.amocrm.connector import AmoCRMConnector
        from hub.sync import registry

        registry.register(AmoCRMConnector())
