from django.apps import AppConfig


class WebhookConnectorConfig(AppConfig):
    name = "connectors.webhook"
    label = "connector_webhook"
    verbose_name = "Generic HTTP connector"

    def ready(self) -> None:
        from connectors.webhook.connector import WebhookConnector
        from hub.sync import registry

        registry.register(WebhookConnector())
