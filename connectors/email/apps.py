from django.apps import AppConfig


class EmailConnectorConfig(AppConfig):
    name = "connectors.email"
    label = "connector_email"
    verbose_name = "E-mail"

    def ready(self) -> None:
        from connectors.email.connector import EmailConnector
        from hub.sync import registry

        registry.register(EmailConnector())
