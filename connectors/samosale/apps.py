from django.apps import AppConfig


class SamosaleConnectorConfig(AppConfig):
    name = "connectors.samosale"
    label = "connector_samosale"
    verbose_name = "SamoSale"

    def ready(self) -> None:
        from connectors.samosale.connector import SamosaleConnector
        from hub.sync import registry

        registry.register(SamosaleConnector())
