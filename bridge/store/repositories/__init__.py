"""The store's repositories, one per responsibility; :class:`bridge.store.Store` combines them."""
