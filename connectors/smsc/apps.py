from django.apps import AppConfig


class SmscConnectorConfig(AppConfig):
    name = "connectors.smsc"
    label = "connector_smsc"
    verbose_name = "SMSC"
