from django.apps import AppConfig


class VkConnectorConfig(AppConfig):
    name = "connectors.vk"
    label = "connector_vk"
    verbose_name = "VK"

    def ready(self) -> None:
        from connectors.vk.connector import VkConnector
        from hub.sync import registry

        registry.register(VkConnector())
