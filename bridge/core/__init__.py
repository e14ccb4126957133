"""Plain value types shared by the engine (``bridge.sync``) and the state store (``bridge.store``).

They sit below both so the store never imports the engine: actions, the planner's state values and the
store effects the executor hands to :meth:`bridge.store.Store.apply`.
"""

from bridge.core import actions as _actions
from bridge.core import attachments as _attachments

# The attachment actions live in their own module; the journal's codec finds them through ACTION_TYPES.
_actions.ACTION_TYPES.update({cls.kind: cls for cls in _attachments.ATTACHMENT_ACTIONS})
