from django.apps import AppConfig


class SmsruConnectorConfig(AppConfig):
    name = "connectors.smsru"
    label = "connector_smsru"
    verbose_name = "SMS.ru"
