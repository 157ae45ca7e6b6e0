"""Reading YAML that comes from outside (call documents, scenario files) within bounds.

PyYAML's safe loader still expands aliases: a few hundred bytes of nested aliases stand for
a billion nodes, and whatever walks the parsed document (our line index, marshmallow) then
takes exponential time. Here the composer counts every node as it is built, an alias as
the whole subtree it stands for (sizes are memoised, so counting is linear in the text),
and refuses the document the moment the expanded count, the nesting depth or the text
size passes its limit: the CPU spent before refusing is bounded by the limits, not by the
expansion. Anchors and aliases themselves stay allowed (scenario files share participants
through them, and ``yaml.safe_dump`` writes them for repeated objects).

Under eventlet (a service), :func:`off_hub` runs the parse in a real OS thread, so even a
document at the limits never stalls the service's timers, health or other requests.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode

T = TypeVar("T")


@dataclass(frozen=True)
class YamlLimits:
    max_bytes: int  # UTF-8 size of the text
    max_nodes: int  # every node counted, an alias as the whole subtree it repeats
    max_depth: int  # nesting of sequences and mappings

    def describe(self) -> str:
        return (f"at most {self.max_bytes:,} bytes, {self.max_nodes:,} nodes with aliases "
                f"expanded, nesting {self.max_depth} deep")


#: a call document (the bundled one: 9.5 kB, 435 nodes, 6 deep)
CALL_LIMITS = YamlLimits(max_bytes=256 * 1024, max_nodes=20_000, max_depth=32)
#: scenario files are written by operators and may be generated (thousands of proposals);
#: the limits are there against exponential expansion, not size
SCENARIO_LIMITS = YamlLimits(max_bytes=256 * 1024 * 1024, max_nodes=20_000_000, max_depth=64)


class YamlLimitExceeded(yaml.MarkedYAMLError):
    """The document passes one of its :class:`YamlLimits`; ``rule`` says which, in words."""

    def __init__(self, rule: str, mark=None):
        super().__init__(problem=rule, problem_mark=mark)
        self.rule = rule


class BoundedComposer:
    """Mixin for a PyYAML loader class (before it in the bases): composes within
    ``self.limits``, raising :class:`YamlLimitExceeded`."""

    limits: YamlLimits = CALL_LIMITS

    def compose_document(self):
        self._sizes: dict[int, int] = {}
        self._expanded = 0
        self._depth = 0
        return super().compose_document()

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node))
            if size is None:  # the alias points into the node still being composed
                raise YamlLimitExceeded(f"alias *{event.anchor} refers to a node that "
                                        "contains it (a recursive alias)", event.start_mark)
            self._count(size, event.start_mark)
            return node
        mark = self.peek_event().start_mark
        self._depth += 1
        if self._depth > self.limits.max_depth:
            raise YamlLimitExceeded(f"the document nests more than {self.limits.max_depth} "
                                    "levels deep", mark)
        self._count(1, mark)
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._sizes[id(node)] = 1 + sum(self._sizes[id(child)] for child in _children(node))
        return node

    def _count(self, nodes: int, mark) -> None:
        self._expanded += nodes
        if self._expanded > self.limits.max_nodes:
            raise YamlLimitExceeded(
                f"the document expands to more than {self.limits.max_nodes:,} nodes "
                "(an alias counts as everything it repeats)", mark)


def _children(node: Node):
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return ()


class BoundedSafeLoader(BoundedComposer, yaml.SafeLoader):
    """``yaml.SafeLoader`` within :data:`SCENARIO_LIMITS`."""

    limits = SCENARIO_LIMITS


def check_size(text: str, limits: YamlLimits) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise YamlLimitExceeded(f"the document is {size:,} bytes; at most "
                                f"{limits.max_bytes:,} are allowed")


def safe_load(text: str, limits: YamlLimits = SCENARIO_LIMITS) -> Any:
    """Like ``yaml.safe_load`` for text from outside: raises :class:`YamlLimitExceeded`
    (a ``yaml.YAMLError``) instead of expanding without bound."""
    check_size(text, limits)
    loader_class = BoundedSafeLoader if limits is SCENARIO_LIMITS else \
        type("BoundedSafeLoader", (BoundedSafeLoader,), {"limits": limits})

    def parse():
        loader = loader_class(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    return off_hub(parse)


def off_hub(function: Callable[[], T]) -> T:
    """``function()``, in a real OS thread when this process runs under eventlet's monkey
    patch (a service): pure-Python parsing never yields, so on the hub it would stall
    every green thread of the process until it finished."""
    if "eventlet" in sys.modules:
        from eventlet import patcher, tpool
        if patcher.is_monkey_patched("thread"):
            return tpool.execute(function)
    return function()
