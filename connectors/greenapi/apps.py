from django.apps import AppConfig


class GreenapiConnectorConfig(AppConfig):
    name = "connectors.greenapi"
    label = "connector_greenapi"
    verbose_name = "Green-API"
