from django.apps import AppConfig


class VkConnectorConfig(AppConfig):
    name = "connectors.vk"
    label = "connector_vk"
    verbose_name = "VK"
