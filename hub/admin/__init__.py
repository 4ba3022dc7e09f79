from hub.admin import catalog, contacts, sales, segments, sync  # noqa: F401 - registration side effects
