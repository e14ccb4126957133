"""Plain value types shared by the engine (``bridge.sync``) and the state store (``bridge.store``).

They sit below both so the store never imports the engine: actions, the planner's state values and the
store effects the executor hands to :meth:`bridge.store.Store.apply`.
"""
