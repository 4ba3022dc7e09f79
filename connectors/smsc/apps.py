from django.apps import AppConfig


class SmscConnectorConfig(AppConfig):
    name = "connectors.smsc"
    label = "connector_smsc"
    verbose_name = "SMSC"

    def ready(self) -> None:
        from connectors.smsc.connector import SmscConnector
        from hub.sync import registry

        registry.register(SmscConnector())
