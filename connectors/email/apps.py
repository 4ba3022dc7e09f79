from django.apps import AppConfig


class EmailConnectorConfig(AppConfig):
    name = "connectors.email"
    label = "connector_email"
    verbose_name = "E-mail"
