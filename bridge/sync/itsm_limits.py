"""The ITSM field lengths a cycle's plan needs: read from the connector before the pure planner runs.

Only the fields that ``to_itsm``/``both`` rules without their own ``max_length`` and the templates of
ITSM states write are asked about,
so a mapping that writes nothing back costs no request. A connector without field lengths (RT: none;
the memory fakes) is left alone. A failed read is logged and the plan goes on without limits: the
vendor then cuts the text as it always did (ServiceNow silently), which is no reason to stop syncing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bridge.errors import ConnectorError
from bridge.logging import get_logger
from bridge.mapping.schema import ItsmStateTarget, TemplateValue
from bridge.mapping.schema import Mapping as MappingSpec

if TYPE_CHECKING:
    from bridge.sync.engine import Engine

log = get_logger(__name__)


def written_fields(spec: MappingSpec) -> list[str]:
    """The ITSM fields ``to_itsm``/``both`` rules and the templates of ITSM states (close notes built from
    the issue) write, whose length is the vendor's to say."""
    rules = {
        rule.itsm for rule in spec.fields.values()
        if rule.itsm and rule.direction in ("to_itsm", "both") and rule.max_length is None and not rule.user
    }
    states = {
        name for target in spec.status.to_itsm.values() if isinstance(target, ItsmStateTarget)
        for name, value in target.fields.items() if isinstance(value, TemplateValue)
    }
    return sorted(rules | states)


def itsm_limits_for(engine: Engine, spec: MappingSpec) -> dict[str, int]:
    """ITSM field → the most characters it keeps, for :attr:`bridge.core.state.PlanInput.itsm_limits`."""
    lengths = getattr(engine.itsm, "field_lengths", None)
    fields = written_fields(spec)
    if not callable(lengths) or not fields:
        return {}
    try:
        found = lengths(spec.route.record_type, fields)
    except ConnectorError as exc:
        log.warning("could not read the ITSM field lengths; texts written back are not cut by bridge",
                    mapping=spec.name, error=str(exc))
        return {}
    return {str(k): int(v) for k, v in dict(found).items()}


__all__ = ["itsm_limits_for", "written_fields"]
