from django.apps import AppConfig


class TildaConnectorConfig(AppConfig):
    name = "connectors.tilda"
    label = "connector_tilda"
    verbose_name = "Tilda"
