from django.apps import AppConfig


def _count_request(metric: object) -> None:
    from hub.metrics import external_request_count

    external_request_count(metric.system, metric.status)  # type: ignore[attr-defined]


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors"

    def ready(self) -> None:
        from connectors.base import metrics

        metrics.add_hook(_count_request)  # /metrics: outbound requests by system and answer
