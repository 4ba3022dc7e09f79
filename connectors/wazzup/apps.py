from django.apps import AppConfig


class WazzupConnectorConfig(AppConfig):
    name = "connectors.wazzup"
    label = "connector_wazzup"
    verbose_name = "Wazzup"
