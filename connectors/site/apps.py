from django.apps import AppConfig


class SiteConnectorConfig(AppConfig):
    name = "connectors.site"
    label = "connector_site"
    verbose_name = "Site (1C-Bitrix)"

    def ready(self) -> None:
        from connectors.site.connector import SiteConnector
        from hub.sync import registry

        registry.register(SiteConnector())
