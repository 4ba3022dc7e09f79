from django.apps import AppConfig


class SmsruConnectorConfig(AppConfig):
    name = "connectors.smsru"
    label = "connector_smsru"
    verbose_name = "SMS.ru"

    def ready(self) -> None:
        from connectors.smsru.connector import SmsruConnector
        from hub.sync import registry

        registry.register(SmsruConnector())
