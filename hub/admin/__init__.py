from hub.admin import catalog, contacts, lifecycle, sales, segments, sync  # noqa: F401 - registration side effects
